// provision-run's post step: GitHub runs it only when the job failed or was cancelled (action.yml
// `post-if`), so a workflow that dies between provision-run and teardown leaves no queue, watcher or
// worker running. A job with `keep: true` is continuous intake: it is never torn down here.
import { readFile } from 'node:fs/promises';

import {
  actionsToolkit,
  createActionsLogger,
  createInputReader,
  defineSavedState,
  type ActionsToolkit,
  type SavedState,
} from '@sluice/action-kit';
import { parseJob, toError, type TeardownReport } from '@sluice/core';
import { teardownStep, type StepContext } from '@sluice/orchestrator';

import { readInputs } from './inputs.js';

/** What main saves for the post step: the job file and the backend override. */
export interface ProvisionedRun {
  readonly job: string;
  readonly backend: 'local' | 'ecs' | null;
}

function isProvisionedRun(value: unknown): value is ProvisionedRun {
  if (typeof value !== 'object' || value === null) return false;
  const { job, backend } = value as Record<string, unknown>;
  return typeof job === 'string' && (backend === null || backend === 'local' || backend === 'ecs');
}

/** The state main saves before it provisions. */
export function provisionedRun(toolkit: ActionsToolkit = actionsToolkit): SavedState<ProvisionedRun> {
  return defineSavedState('provisioned-run', isProvisionedRun, toolkit);
}

export interface PostDeps {
  readonly teardown: (
    target: { readonly jobPath: string },
    options: { readonly deleteData?: boolean },
    context: StepContext,
  ) => Promise<TeardownReport>;
  readonly readJob: (path: string) => Promise<string>;
  readonly env: Readonly<Record<string, string | undefined>>;
}

const realDeps: PostDeps = {
  teardown: teardownStep,
  readJob: (path) => readFile(path, 'utf8'),
  env: process.env,
};

/**
 * Tears the run down after a failed or cancelled job, unless `teardown-on-failure` is false or the
 * job keeps its run. Data (buckets, records, outputs) is always kept.
 */
export async function post(
  toolkit: ActionsToolkit = actionsToolkit,
  deps: Partial<PostDeps> = {},
): Promise<void> {
  const { teardown, readJob, env } = { ...realDeps, ...deps };
  const saved = provisionedRun(toolkit).load();
  if (saved === undefined) {
    toolkit.info('provision-run did not start provisioning: nothing to tear down');
    return;
  }
  const inputs = readInputs(createInputReader(toolkit));
  if (!inputs.teardownOnFailure) {
    toolkit.info(`teardown-on-failure is false: the run of ${saved.job} is left as it is`);
    return;
  }
  let keep: boolean;
  try {
    keep = parseJob(await readJob(saved.job), saved.job).keep;
  } catch (thrown: unknown) {
    toolkit.warning(`could not read ${saved.job} to tear its run down: ${toError(thrown).message}`);
    return;
  }
  if (keep) {
    toolkit.info(`${saved.job} keeps its run (keep: true): it goes on taking uploads; not torn down`);
    return;
  }
  const context: StepContext = {
    logger: createActionsLogger(toolkit),
    env,
    ...(saved.backend !== null && { backend: saved.backend }),
  };
  toolkit.warning(`the job did not finish: tearing down the run of ${saved.job} (its data is kept)`);
  const report = await teardown({ jobPath: saved.job }, {}, context);
  toolkit.info(
    report.deleted.length === 0
      ? `run ${report.runId}: nothing left to remove`
      : `run ${report.runId}: removed ${report.deleted.join(', ')}`,
  );
}

import {
  actionsToolkit,
  checkDocumentFile,
  createActionsLogger,
  createInputReader,
  setOutputs,
  stepTarget,
  type ActionsToolkit,
} from '@sluice/action-kit';
import { teardownStep, type RunTarget, type StepContext } from '@sluice/orchestrator';
import type { TeardownReport } from '@sluice/core';

import { Inputs, Outputs } from './constants.js';
import { readInputs } from './inputs.js';

/** What main talks to besides the toolkit; tests pass fakes, the bundle the real ones. */
export interface TeardownDeps {
  readonly teardown: (
    target: RunTarget,
    options: { readonly deleteData?: boolean },
    context: StepContext,
  ) => Promise<TeardownReport>;
  readonly env: Readonly<Record<string, string | undefined>>;
}

const realDeps: TeardownDeps = { teardown: teardownStep, env: process.env };

/**
 * teardown: removes what provision-run created for the run (found by its tags), and its local
 * runners; keeps data unless `delete-data`. Idempotent. Sets deleted (a count) once, at the end.
 */
export async function main(
  toolkit: ActionsToolkit = actionsToolkit,
  deps: Partial<TeardownDeps> = {},
): Promise<void> {
  const { teardown, env } = { ...realDeps, ...deps };
  const { target, deleteData } = readInputs(createInputReader(toolkit));
  if ('job' in target) await checkDocumentFile({ path: target.job, input: Inputs.job, kind: 'job' });
  const context: StepContext = { logger: createActionsLogger(toolkit), env };

  const report = await teardown(stepTarget(target), { deleteData }, context);

  if (!report.found) toolkit.info(`run ${report.runId}: no run.json found; removed what carries its tags.`);
  for (const item of report.deleted) toolkit.info(`deleted ${item}`);
  for (const item of report.kept) toolkit.info(`kept ${item}`);
  toolkit.info(
    `run ${report.runId}: torn down, ${report.deleted.length} deleted, ${report.kept.length} kept.`,
  );
  setOutputs({ [Outputs.deleted]: report.deleted.length }, toolkit);
}

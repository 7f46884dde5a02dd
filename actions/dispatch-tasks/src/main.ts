import {
  actionsToolkit,
  checkDocumentFile,
  createActionsLogger,
  createInputReader,
  setOutputs,
  stepTarget,
  type ActionsToolkit,
} from '@sluice/action-kit';
import {
  dispatchStep,
  type DispatchStepResult,
  type RunTarget,
  type StepContext,
} from '@sluice/orchestrator';
import type { DispatchProgress } from '@sluice/core';

import { Inputs, Outputs } from './constants.js';
import { readInputs } from './inputs.js';

/** What main talks to besides the toolkit; tests pass fakes, the bundle the real ones. */
export interface DispatchTasksDeps {
  readonly dispatch: (
    target: RunTarget,
    context: StepContext,
    onProgress?: (progress: DispatchProgress) => void,
  ) => Promise<DispatchStepResult>;
  readonly env: Readonly<Record<string, string | undefined>>;
}

const realDeps: DispatchTasksDeps = { dispatch: dispatchStep, env: process.env };

function describeCounts(counts: DispatchProgress): string {
  return (
    `listed ${counts.listed}, enqueued ${counts.enqueued}, ${counts.skippedDone} already done, ` +
    `${counts.skippedFiltered} not inputs`
  );
}

/**
 * dispatch-tasks: enqueues the files already in the run's input prefix (skipping finished ones) and,
 * with the local backend, starts the runners; sets enqueued and workers once, at the end.
 */
export async function main(
  toolkit: ActionsToolkit = actionsToolkit,
  deps: Partial<DispatchTasksDeps> = {},
): Promise<void> {
  const { dispatch, env } = { ...realDeps, ...deps };
  const { target, backend } = readInputs(createInputReader(toolkit));
  if ('job' in target) await checkDocumentFile({ path: target.job, input: Inputs.job, kind: 'job' });
  const context: StepContext = {
    logger: createActionsLogger(toolkit),
    env,
    ...(backend !== undefined && { backend }),
  };

  const result = await dispatch(stepTarget(target), context, (progress) => {
    toolkit.info(`dispatching: ${describeCounts(progress)}`);
  });

  if (result.failed > 0) {
    toolkit.warning(
      `run ${result.runId}: SQS refused ${result.failed} task message(s) after retries; ` +
        'those files are not queued. Run dispatch-tasks again to enqueue them.',
    );
  }
  toolkit.info(`run ${result.runId}: ${describeCounts(result)}; ${result.workers} worker(s) running`);
  setOutputs({ [Outputs.enqueued]: result.enqueued, [Outputs.workers]: result.workers }, toolkit);
}

// dispatch: the files already in the input prefix enqueued, and the run's workers started.
import { dispatchTasks, openRun, type DispatchProgress, type Logger, type RunState } from '@sluice/core';

import { namingJobFile, throwIfInterrupted, type RunTarget, type StepContext } from '../context.js';
import { runWorkers } from '../backends/run-workers.js';
import { resolveTarget } from './target.js';

export interface DispatchStepResult {
  readonly runId: string;
  readonly listed: number;
  readonly enqueued: number;
  readonly skippedDone: number;
  readonly skippedFiltered: number;
  readonly failed: number;
  /** Runner workers running for the run after this step (local containers or ECS tasks). */
  readonly workers: number;
}

/**
 * Enqueues the files already in the input prefix ({@link dispatchTasks}) and, with the local
 * backend, starts the run's runner containers (`compute.maxWorkers` of them while work remains;
 * dispatching again starts none beyond that).
 *
 * @example
 * const { enqueued, workers } = await dispatchStep({ jobPath: 'job.json' }, { logger, env: process.env });
 * @throws {ConfigurationError} when the run is not provisioned, a `fromEnv` variable is unset, the
 *   algorithm's image is gone, or an ECS run has no ECS resources (provision it with backend ecs).
 */
export async function dispatchStep(
  target: RunTarget,
  context: StepContext,
  onProgress?: (progress: DispatchProgress) => void,
): Promise<DispatchStepResult> {
  return namingJobFile(target.jobPath, () => dispatchRun(target, context, onProgress));
}

async function dispatchRun(
  target: RunTarget,
  context: StepContext,
  onProgress?: (progress: DispatchProgress) => void,
): Promise<DispatchStepResult> {
  const { job, runId, bucket, aws } = await resolveTarget(target, context);
  try {
    const state = await openRun(runId, aws.deps, bucket === undefined ? {} : { bucket });
    // Everything the runners need is checked before anything is enqueued.
    const workers = await runWorkers(state, job, aws, context);
    const report = await dispatchTasks(state, aws.deps, {
      ...(onProgress !== undefined && { onProgress }),
      ...(state.algorithm.digest !== undefined && { algorithmDigest: state.algorithm.digest }),
    });
    throwIfInterrupted(context, 'dispatch');
    warnWhenNothingListed(report, state, context.logger);
    return {
      runId,
      listed: report.listed,
      enqueued: report.enqueued,
      skippedDone: report.skippedDone,
      skippedFiltered: report.skippedFiltered,
      failed: report.failed,
      workers: await workers.ensure(),
    };
  } finally {
    aws.close();
  }
}

/** An empty prefix is often a typo in input.prefix: say so, since the run would wait for nothing. */
function warnWhenNothingListed(
  report: { readonly listed: number; readonly skippedFiltered: number },
  state: RunState,
  logger: Logger,
): void {
  const at = `s3://${state.input.bucket}/${state.input.prefix}`;
  if (report.listed === 0) {
    logger.warning(
      `run ${state.runId}: no files under ${at} yet. Files uploaded there from now on are enqueued as they ` +
        'arrive; if files were expected already, check input.bucket and input.prefix in the job.',
    );
  } else if (report.skippedFiltered === report.listed) {
    logger.warning(
      `run ${state.runId}: none of the ${report.listed} file(s) under ${at} matches input.include ` +
        `(${state.input.include.join(', ')}): nothing was enqueued. Check the globs in the job.`,
    );
  }
}

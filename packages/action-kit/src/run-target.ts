import type { RunTarget as StepTarget } from '@sluice/orchestrator';

import { InputError } from './errors.js';
import type { InputReader } from './inputs.js';

/** Which run a step works on: the job file that defines it, or the run id provision-run gave. */
export type RunTarget = { readonly job: string } | { readonly runId: string };

/** The names of the two inputs that can name a run. */
export interface RunTargetInputs {
  readonly job: string;
  readonly runId: string;
}

/**
 * Reads "job or run-id", the pair of inputs with which dispatch, collect and teardown name their run.
 *
 * @example
 * const target = readRunTarget(input, { job: Inputs.job, runId: Inputs.runId });
 * if ('job' in target) await checkDocumentFile({ path: target.job, input: Inputs.job, kind: 'job' });
 * @throws {InputError} when neither or both are given.
 */
export function readRunTarget(input: InputReader, names: RunTargetInputs): RunTarget {
  const job = input.optionalString(names.job);
  const runId = input.optionalString(names.runId);
  if (job !== undefined && runId !== undefined) {
    throw new InputError(
      names.runId,
      `Give either \`${names.job}\` or \`${names.runId}\`, not both: the run id is derived from the job. ` +
        `Remove one of them from the step's \`with:\` block.`,
    );
  }
  if (job !== undefined) return { job };
  if (runId !== undefined) return { runId };
  throw new InputError(
    names.job,
    `Give \`${names.job}\` (the job file, e.g. job.json) or \`${names.runId}\` (the run-id output of ` +
      `provision-run) in the step's \`with:\` block.`,
  );
}

/**
 * The same run as core's steps name it (`jobPath` or `runId`).
 *
 * @example
 * await dispatchStep(stepTarget(inputs.target), context);
 * @throws never.
 */
export function stepTarget(target: RunTarget): StepTarget {
  return 'job' in target ? { jobPath: target.job } : { runId: target.runId };
}

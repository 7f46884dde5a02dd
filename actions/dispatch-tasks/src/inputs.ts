import { createInputReader, readRunTarget, type InputReader, type RunTarget } from '@sluice/action-kit';

import { BACKENDS, Inputs } from './constants.js';

/** This action's inputs, parsed once. */
export interface DispatchTasksInputs {
  readonly target: RunTarget;
  /** Overrides the job's compute.backend; undefined keeps the job's. */
  readonly backend: (typeof BACKENDS)[number] | undefined;
}

/**
 * Reads and checks every input of dispatch-tasks.
 * @throws {InputError} naming the first input that is wrong.
 */
export function readInputs(input: InputReader = createInputReader()): DispatchTasksInputs {
  return {
    target: readRunTarget(input, { job: Inputs.job, runId: Inputs.runId }),
    backend: input.choice(Inputs.backend, BACKENDS),
  };
}

import { createInputReader, readRunTarget, type InputReader, type RunTarget } from '@sluice/action-kit';

import { InputDefaults, Inputs } from './constants.js';

/** This action's inputs, parsed once. */
export interface TeardownInputs {
  readonly target: RunTarget;
  readonly deleteData: boolean;
}

/**
 * Reads and checks every input of teardown.
 * @throws {InputError} naming the first input that is wrong.
 */
export function readInputs(input: InputReader = createInputReader()): TeardownInputs {
  return {
    target: readRunTarget(input, { job: Inputs.job, runId: Inputs.runId }),
    deleteData: input.boolean(Inputs.deleteData, InputDefaults.deleteData),
  };
}

import { createInputReader, readGitHubToken, type InputReader } from '@sluice/action-kit';

import { BACKENDS, InputDefaults, Inputs } from './constants.js';

/** This action's inputs, parsed once. */
export interface ProvisionRunInputs {
  readonly job: string;
  /** Overrides the job's compute.backend; undefined keeps the job's. */
  readonly backend: (typeof BACKENDS)[number] | undefined;
  /** For the commit comment; undefined (no comment) when not given. */
  readonly githubToken: string | undefined;
  /** The post step tears the run down when the job failed or was cancelled (runs with keep excepted). */
  readonly teardownOnFailure: boolean;
}

/**
 * Reads and checks every input of provision-run.
 * @throws {InputError} naming the first input that is wrong.
 */
export function readInputs(input: InputReader = createInputReader()): ProvisionRunInputs {
  return {
    job: input.optionalString(Inputs.job) ?? InputDefaults.job,
    backend: input.choice(Inputs.backend, BACKENDS),
    githubToken: readGitHubToken(input, Inputs.githubToken),
    teardownOnFailure: input.boolean(Inputs.teardownOnFailure, InputDefaults.teardownOnFailure),
  };
}

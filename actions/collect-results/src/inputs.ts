import {
  InputError,
  createInputReader,
  readGitHubToken,
  readRunTarget,
  type InputReader,
  type RunTarget,
} from '@sluice/action-kit';

import { InputDefaults, Inputs, UNTIL } from './constants.js';

/** How collect-results knows that the input is complete. */
export type Completion =
  | { readonly until: 'idle'; readonly idleSeconds: number }
  | { readonly until: 'marker' }
  | { readonly until: 'count'; readonly expectedCount: number };

/** This action's inputs, parsed once. */
export interface CollectResultsInputs {
  readonly target: RunTarget;
  readonly completion: Completion;
  /** Undefined: core's default (3,600 s). */
  readonly timeoutSeconds: number | undefined;
  readonly retryFailed: boolean;
  readonly failOnError: boolean;
  /** For the outcome comment on a pushed commit; undefined (no comment) when not given. */
  readonly githubToken: string | undefined;
}

/**
 * Reads and checks every input of collect-results.
 * @throws {InputError} naming the first input that is wrong.
 */
export function readInputs(input: InputReader = createInputReader()): CollectResultsInputs {
  const target = readRunTarget(input, { job: Inputs.job, runId: Inputs.runId });
  const until = input.choice(Inputs.until, UNTIL) ?? InputDefaults.until;
  const expectedCount = input.integer(Inputs.expectedCount, { min: 0 });
  const idleSeconds = input.integer(Inputs.idleSeconds, { min: 1 }) ?? InputDefaults.idleSeconds;
  let completion: Completion;
  if (until === 'count') {
    if (expectedCount === undefined) {
      throw new InputError(
        Inputs.expectedCount,
        `Input \`${Inputs.expectedCount}\` is required when \`${Inputs.until}\` is count. ` +
          `Add how many input files to expect to the step's \`with:\` block.`,
      );
    }
    completion = { until, expectedCount };
  } else {
    completion = until === 'idle' ? { until, idleSeconds } : { until };
  }
  return {
    target,
    completion,
    timeoutSeconds: input.integer(Inputs.timeoutSeconds, { min: 1 }),
    retryFailed: input.boolean(Inputs.retryFailed, InputDefaults.retryFailed),
    failOnError: input.boolean(Inputs.failOnError, InputDefaults.failOnError),
    githubToken: readGitHubToken(input, Inputs.githubToken),
  };
}

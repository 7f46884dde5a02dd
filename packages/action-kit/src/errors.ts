/**
 * Errors of action-kit. They extend core's classes, so `runAction` classifies them like any other:
 * {@link InputError} is a user error (a `ConfigurationError`), {@link StepNotAvailableError} is not.
 */
import { ConfigurationError, SluiceError } from '@sluice/core';

/**
 * An action input is missing or malformed. The message names the input, what it accepts and what
 * was found, and says where to fix it (the step's `with:` block).
 */
export class InputError extends ConfigurationError {
  /** The input's name as written in `action.yml`, e.g. `expected-count`. */
  readonly input: string;

  constructor(input: string, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'InputError';
    this.input = input;
  }
}

/**
 * The step exists, but its work ships in a later release. Thrown after everything that can be
 * checked now was checked, so the user learns both their file's problems and what is missing.
 */
export class StepNotAvailableError extends SluiceError {
  constructor(step: string, arrivesWith: string, options?: { cause?: unknown }) {
    super(
      `${step}: the input was checked and is valid, but this step does not run in this version of sluice yet; ` +
        `it arrives with ${arrivesWith}. Until then, use \`sluice validate\` to check files.`,
      options,
    );
    this.name = 'StepNotAvailableError';
  }
}

/**
 * Errors of the runner. User errors (a bad `SLUICE_RUN`, a manifest that cannot run) are core's
 * `ConfigurationError` and end the process with exit code 2; everything else is a fault (exit 1).
 */
import { SluiceError } from '@sluice/core';

/** Base class of the runner's own errors. */
export class RunnerError extends SluiceError {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'RunnerError';
  }
}

/** A task could not be handed back to the queue or moved to the dead-letter queue. */
export class MessageMoveError extends RunnerError {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'MessageMoveError';
  }
}

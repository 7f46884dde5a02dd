/**
 * The one way core code reports progress. Core knows nothing of GitHub or Lambda: each entry point
 * supplies a Logger (the actions map it to @actions/core, the CLI to stderr, the runner to JSON lines).
 */
export interface Logger {
  debug(message: string): void;
  info(message: string): void;
  warning(message: string): void;
  error(message: string): void;
  /** Marks a value that must never be printed; later output replaces it with `***`. */
  setSecret(value: string): void;
}

/**
 * A logger that drops everything, for callers that want silence.
 *
 * @example
 * validateJob(doc, 'job.json', { logger: silentLogger });
 */
export const silentLogger: Logger = {
  debug: () => undefined,
  info: () => undefined,
  warning: () => undefined,
  error: () => undefined,
  setSecret: () => undefined,
};

/**
 * Errors of the core package. Two families matter to every caller:
 * - {@link ConfigurationError}: the user gave something wrong (a file, an input, a flag). Actions
 *   print it without a stack, the CLI exits 2, the runner does not retry it.
 * - everything else ({@link SluiceError} and unknown errors): a fault. Actions print the stack, the
 *   CLI exits 1, the runner and the Lambda retry it.
 */

/** Base class of every error sluice throws on purpose. */
export class SluiceError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'SluiceError';
  }
}

/**
 * Something the user can fix: the message says what was wrong, where, and what to do.
 *
 * @example
 * throw new ConfigurationError('job.json: $.compute.maxWorkers must be at least 1; found 0. Set it to 1 or more.');
 */
export class ConfigurationError extends SluiceError {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'ConfigurationError';
  }
}

/**
 * A problem found in a document: which file, where in it (a JSON path such as `$.env.API_KEY`),
 * what was expected, what was found, and a hint on how to fix it.
 */
export interface Problem {
  /** The file the document came from, as the user named it (or a label such as `<input job>`). */
  readonly file: string;
  /** JSONPath of the offending value: `$` is the document root, e.g. `$.input.include[1]`. */
  readonly path: string;
  /** One sentence: what is wrong. Never repeats a secret value. */
  readonly message: string;
  /** What was expected there, e.g. `an integer >= 1`. */
  readonly expected?: string;
  /** What was found there, e.g. `0` or `a string`. Never a secret value. */
  readonly found?: string;
  /** How to fix it. */
  readonly hint?: string;
}

/**
 * One or more documents failed validation. `problems` lists every one found, not just the first.
 *
 * @example
 * try { loadJob('job.json'); } catch (e) { if (e instanceof ValidationError) e.problems.forEach(p => console.log(formatProblem(p))); }
 */
export class ValidationError extends ConfigurationError {
  readonly problems: readonly Problem[];

  constructor(problems: readonly Problem[], options?: { cause?: unknown }) {
    super(
      problems.length === 1 && problems[0]
        ? formatProblem(problems[0])
        : `${problems.length} problems:\n${problems.map((p) => `  - ${formatProblem(p)}`).join('\n')}`,
      options,
    );
    this.name = 'ValidationError';
    this.problems = problems;
  }
}

/**
 * The file problems about the job name below the steps, where the user's file name is not known; the
 * step that read the file puts its real name in (orchestrator `namingJobFile`).
 */
export const JOB_FILE = 'job.json';

/**
 * A user error at one place in the job: the location is data (`{file, path}`), rendered at the edge.
 *
 * @example
 * throw jobProblem('$.compute.spot', 'Spot is supported on Fargate only', 'Set "launchType": "FARGATE" or "spot": false.');
 * @throws never: it returns the error for the caller to throw.
 */
export function jobProblem(
  path: string,
  message: string,
  hint?: string,
  options?: { cause?: unknown },
): ValidationError {
  return new ValidationError(
    [{ file: JOB_FILE, path, message, ...(hint !== undefined && { hint }) }],
    options,
  );
}

/** A fault outside the user's control: an AWS call, the container engine, the network. */
export class InfrastructureError extends SluiceError {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'InfrastructureError';
  }
}

/**
 * The user stopped the work (Ctrl-C, SIGTERM): a step gave up waiting on purpose. Not a fault —
 * callers tear down what they must and exit 130.
 *
 * @example
 * if (signal.aborted) throw new InterruptedError('collect');
 */
export class InterruptedError extends SluiceError {
  constructor(during: string, options?: { cause?: unknown }) {
    super(`interrupted during ${during}`, options);
    this.name = 'InterruptedError';
  }
}

/**
 * A run did not finish: input never complete, tasks still running or not started when the wait ended.
 * Not a user error (collect again to keep waiting) and not a fault of sluice either: a CI step fails.
 *
 * @example
 * if (!report.complete) throw new RunIncompleteError(report.runId, `run ${report.runId} did not finish: …`);
 */
export class RunIncompleteError extends SluiceError {
  readonly runId: string;

  constructor(runId: string, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'RunIncompleteError';
    this.runId = runId;
  }
}

/**
 * A run completed with failed tasks, and the caller asked to fail on them (collect-results'
 * `fail-on-error`). Each failure is in results.json with its attempts and log.
 *
 * @example
 * if (report.counts.failed > 0) throw new TasksFailedError(report.runId, report.counts.failed, `run …: 2 task(s) failed`);
 */
export class TasksFailedError extends SluiceError {
  readonly runId: string;
  readonly failed: number;

  constructor(runId: string, failed: number, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'TasksFailedError';
    this.runId = runId;
    this.failed = failed;
  }
}

/**
 * Renders a problem on one line: `file: $.path: message (expected X, found Y). Hint`.
 *
 * @example
 * formatProblem({ file: 'job.json', path: '$.retries', message: 'must be >= 0', expected: 'an integer >= 0', found: '-1' });
 * // "job.json: $.retries: must be >= 0 (expected an integer >= 0, found -1)"
 */
export function formatProblem(problem: Problem): string {
  const detail = [
    problem.expected !== undefined ? `expected ${problem.expected}` : undefined,
    problem.found !== undefined ? `found ${problem.found}` : undefined,
  ].filter((part): part is string => part !== undefined);
  const details = detail.length > 0 ? ` (${detail.join(', ')})` : '';
  const hint = problem.hint !== undefined ? `. ${problem.hint}` : '';
  return `${problem.file}: ${problem.path}: ${problem.message}${details}${hint}`;
}

/**
 * Turns anything thrown into an `Error`, keeping the original as `cause` when it was not one.
 * Use this instead of `(e as Error).message`.
 *
 * @example
 * try { await work(); } catch (e) { logger.error(toError(e).message); }
 */
export function toError(thrown: unknown): Error {
  if (thrown instanceof Error) return thrown;
  if (typeof thrown === 'string') return new SluiceError(thrown);
  let text: string;
  try {
    // JSON.stringify returns undefined for undefined and functions, whatever its type says.
    text = thrown === undefined || typeof thrown === 'function' ? String(thrown) : JSON.stringify(thrown);
  } catch {
    text = String(thrown);
  }
  return new SluiceError(`non-error thrown: ${text}`, { cause: thrown });
}

/**
 * True when the user can fix the error (bad input), false for faults.
 *
 * @example
 * process.exitCode = isConfigurationError(e) ? 2 : 1;
 */
export function isConfigurationError(thrown: unknown): thrown is ConfigurationError {
  return thrown instanceof ConfigurationError;
}

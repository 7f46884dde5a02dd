// What the run commands (provision, dispatch, collect, teardown, run) share: the steps they call,
// how a run is named on the command line, and how option values are checked.
import { ConfigurationError, type Logger } from '@sluice/core';
import {
  collectStep,
  dispatchStep,
  loadWatcherZip,
  locateWatcherBundle,
  provisionStep,
  teardownStep,
  type CollectStepOptions,
  type RunTarget,
  type StepContext,
} from '@sluice/orchestrator';

import { ExitCode } from '../exit-codes.js';
import type { ProgressDisplay, ProgressSink } from '../progress.js';
import { putMarker, uploadDirectory, type PutMarker, type UploadDirectory } from './upload.js';

/** What the run commands call; tests pass fakes, `sluice` the real steps. */
export interface StepCommandDeps {
  readonly provision: typeof provisionStep;
  readonly dispatch: typeof dispatchStep;
  readonly collect: typeof collectStep;
  readonly teardown: typeof teardownStep;
  readonly uploadDirectory: UploadDirectory;
  readonly putMarker: PutMarker;
  readonly env: StepContext['env'];
  /** Where progress and log lines go (stderr). */
  readonly progress: ProgressSink;
  readonly now: () => number;
  /**
   * Calls `listener` on the first Ctrl-C or SIGTERM and returns a function that stops listening. A
   * second interrupt exits at once (status 130), leaving the run as it is.
   */
  readonly onInterrupt: (listener: (signal: NodeJS.Signals) => void) => () => void;
}

/** The real steps, on this process's environment, with progress on stderr. */
export function defaultStepDeps(): StepCommandDeps {
  return {
    provision: provisionStep,
    dispatch: dispatchStep,
    collect: collectStep,
    teardown: teardownStep,
    uploadDirectory,
    putMarker,
    env: process.env,
    progress: {
      write: (text) => {
        process.stderr.write(text);
      },
      isTTY: process.stderr.isTTY,
      // Only a terminal has a width (columns is undefined otherwise, whatever its type says).
      ...(process.stderr.isTTY && { columns: process.stderr.columns }),
    },
    now: Date.now,
    onInterrupt: listenForInterrupts,
  };
}

function listenForInterrupts(listener: (signal: NodeJS.Signals) => void): () => void {
  let interrupted = false;
  const handle = (signal: NodeJS.Signals): void => {
    if (interrupted) {
      process.stderr.write(`\nsluice: ${signal} again: exiting now; the run is left as it is\n`);
      process.exit(ExitCode.interrupted);
    }
    interrupted = true;
    listener(signal);
  };
  process.on('SIGINT', handle);
  process.on('SIGTERM', handle);
  return () => {
    process.off('SIGINT', handle);
    process.off('SIGTERM', handle);
  };
}

/** The values a backend option accepts. */
export const BACKENDS = ['local', 'ecs'] as const;
export type Backend = (typeof BACKENDS)[number];

/** The values `--until` accepts. */
export const UNTIL = ['idle', 'count', 'marker'] as const;

/**
 * The run a command works on: the job file (argument) or `--run ID`, exactly one.
 * @throws {ConfigurationError} when neither or both are given.
 */
export function parseTarget(jobPath: string | undefined, runId: string | undefined): RunTarget {
  if (jobPath !== undefined && runId !== undefined) {
    throw new ConfigurationError(
      `give the job file or --run, not both: the run id is derived from the job (${jobPath}).`,
    );
  }
  if (jobPath !== undefined) return { jobPath };
  if (runId !== undefined && runId !== '') return { runId };
  throw new ConfigurationError(
    'name the run: a job file (e.g. job.json) or --run <run-id> (printed by sluice provision).',
  );
}

/**
 * One of `choices`, or undefined when not given.
 * @throws {ConfigurationError} naming the option and what it accepts.
 */
export function parseChoice<const C extends string>(
  option: string,
  value: string | undefined,
  choices: readonly C[],
): C | undefined {
  if (value === undefined) return undefined;
  const match = choices.find((choice) => choice === value);
  if (match === undefined) {
    throw new ConfigurationError(
      `${option} must be one of ${choices.join(', ')}; found ${JSON.stringify(value)}.`,
    );
  }
  return match;
}

/**
 * A whole number of at least `min`, or undefined when not given.
 * @throws {ConfigurationError} naming the option.
 */
export function parseWholeNumber(option: string, value: string | undefined, min: number): number | undefined {
  if (value === undefined) return undefined;
  const number = /^\d+$/.test(value.trim()) ? Number(value.trim()) : Number.NaN;
  if (!Number.isSafeInteger(number) || number < min) {
    throw new ConfigurationError(
      `${option} must be a whole number >= ${min}; found ${JSON.stringify(value)}.`,
    );
  }
  return number;
}

/** Collect options as commander gives them. */
export interface CollectCommandOptions {
  readonly until?: string;
  readonly expected?: string;
  readonly idle?: string;
  readonly timeout?: string;
  readonly retryFailed?: boolean;
}

/**
 * The collect step's options from the command line; `--until` defaults to `defaultUntil`.
 * @throws {ConfigurationError} for an unknown `--until`, a bad number, or `--until count` without `--expected`.
 */
export function parseCollectOptions(
  options: CollectCommandOptions,
  defaultUntil: (typeof UNTIL)[number],
): CollectStepOptions {
  const until = parseChoice('--until', options.until, UNTIL) ?? defaultUntil;
  const expectedCount = parseWholeNumber('--expected', options.expected, 0);
  const idleSeconds = parseWholeNumber('--idle', options.idle, 1);
  const timeoutSeconds = parseWholeNumber('--timeout', options.timeout, 1);
  if (until === 'count' && expectedCount === undefined) {
    throw new ConfigurationError('--until count needs --expected N: how many input files to wait for.');
  }
  if (until !== 'count' && expectedCount !== undefined) {
    throw new ConfigurationError(`--expected goes with --until count (found --until ${until}).`);
  }
  return {
    until,
    ...(expectedCount !== undefined && { expectedCount }),
    ...(idleSeconds !== undefined && { idleSeconds }),
    ...(timeoutSeconds !== undefined && { timeoutSeconds }),
    ...(options.retryFailed === true && { retryFailed: true }),
  };
}

/**
 * A core Logger that writes each line through `writeLine`, prefixed by its level (warnings and
 * errors), with every value given to setSecret masked; debug lines only when `verbose`.
 */
export function maskingLogger(writeLine: (line: string) => void, verbose = false): Logger {
  const secrets: string[] = [];
  const write = (prefix: string, message: string): void => {
    let text = message;
    for (const secret of secrets) text = text.split(secret).join('***');
    writeLine(`${prefix}${text}`);
  };
  return {
    debug: (message) => {
      if (verbose) write('', message);
    },
    info: (message) => {
      write('', message);
    },
    warning: (message) => {
      write('warning: ', message);
    },
    error: (message) => {
      write('error: ', message);
    },
    setSecret: (value) => {
      if (value !== '') secrets.push(value);
    },
  };
}

/** A core Logger over a progress display: lines go above the live line, secrets are masked. */
export function displayLogger(display: ProgressDisplay, verbose = false): Logger {
  return maskingLogger((line) => {
    display.log(line);
  }, verbose);
}

/** The context every step gets from the CLI. */
export function stepContext(
  logger: Logger,
  env: StepContext['env'],
  extra: { readonly backend?: Backend | undefined; readonly outputBucket?: string | undefined } = {},
): StepContext {
  return {
    logger,
    env,
    // The CLI's bundle carries the watcher Lambda in dist/lambda/ (its build copies it there).
    watcherZip: () => loadWatcherZip(locateWatcherBundle(import.meta.url)),
    ...(extra.backend !== undefined && { backend: extra.backend }),
    ...(extra.outputBucket !== undefined && { outputBucket: extra.outputBucket }),
  };
}

// What collect-results reports: the state of each input in results.json, the counts, the progress
// it reports while it waits, its options and its outcome.
import type { FailureClass, PhaseTimings, TaskOutput } from '../schemas/records.js';

/** How collect-results knows every input has been uploaded. */
export type InputCompletion =
  /** Nothing new (inputs, records, queue activity) for `idleSeconds` (default: the job's). */
  | { readonly until: 'idle'; readonly idleSeconds?: number }
  /** At least `expected` inputs are in the input prefix. */
  | { readonly until: 'count'; readonly expected: number }
  /** An object exists at `_sluice/<run-id>/end` in the input bucket ({@link endMarkerKey}). */
  | { readonly until: 'marker' };

/** Where one input stands in results.json. `pending`: no record yet; `running`: not final yet. */
export type ResultStatus = 'succeeded' | 'failed' | 'running' | 'pending';

/** One input's entry in results.json. */
export interface TaskResult {
  readonly key: string;
  readonly taskId: string;
  readonly etag: string;
  readonly size: number;
  readonly status: ResultStatus;
  /** Attempts recorded. */
  readonly attempts: number;
  readonly outputs: readonly TaskOutput[];
  /** Phase timings of the last attempt. */
  readonly phases: PhaseTimings;
  /** Wall time of every attempt together, in ms. */
  readonly wallMs?: number;
  /** When the first attempt started (ISO 8601). */
  readonly startedAt?: string;
  /** When the last attempt ended (ISO 8601); absent while it runs. */
  readonly endedAt?: string;
  readonly failureClass?: FailureClass;
  readonly message?: string;
  /** The last attempt's log, in the output bucket. */
  readonly logKey?: string;
  /** The last attempt's whole log when the record kept it inline (small logs); failed tasks only. */
  readonly log?: string;
  readonly exitCode?: number;
}

/** Counts of a run's inputs. */
export interface ResultCounts {
  readonly inputs: number;
  readonly succeeded: number;
  readonly failed: number;
  readonly running: number;
  readonly pending: number;
}

/** What collect-results reports while it waits. */
export interface CollectProgress extends ResultCounts {
  readonly phase: 'waiting-for-input' | 'draining' | 'reconciling' | 'retrying' | 'writing-results';
  readonly queued: number;
  readonly inFlight: number;
  readonly deadLetter: number;
  readonly elapsedMs: number;
}

/** Options of {@link collectResults}. */
export interface CollectOptions {
  readonly until: InputCompletion;
  /** Give up waiting after this long (default 3,600 s); results.json is written either way. */
  readonly timeoutSeconds?: number;
  /** First wait between polls (default 2 s); it grows by half each quiet poll up to `maxPollSeconds`. */
  readonly pollSeconds?: number;
  /** Longest wait between polls (default 30 s). */
  readonly maxPollSeconds?: number;
  /** Move dead-letter messages back to the task queue once, and wait again. */
  readonly retryFailed?: boolean;
  /**
   * Values masked wherever they appear in report.html (keys, messages, log tails), on top of what
   * the runner masked at the source: the secret values this machine knows.
   */
  readonly secrets?: readonly string[];
  readonly onProgress?: (progress: CollectProgress) => void;
}

/** The outcome of {@link collectResults}. */
export interface CollectReport {
  readonly runId: string;
  readonly counts: ResultCounts;
  /** Every input is final and the queue is drained. */
  readonly complete: boolean;
  /** The input was declared complete (marker, count or idle) before the end. */
  readonly inputComplete: boolean;
  readonly timedOut: boolean;
  /** `s3://<output bucket>/_sluice/<run-id>/results.json`. */
  readonly results: string;
  readonly resultsKey: string;
  /**
   * `s3://<output bucket>/_sluice/<run-id>/report.html`: the run in charts and tables. Absent when
   * it could not be written (a warning: results.json was) and in reports made by hand.
   */
  readonly report?: string;
  readonly reportKey?: string;
  /** The first failures (at most {@link MAX_REPORTED_FAILURES}), for the summary. */
  readonly failures: readonly TaskResult[];
  /** The slowest tasks by wall time (at most 10). */
  readonly slowest: readonly TaskResult[];
  /** Failed records written for tasks found in the dead-letter queue without one ("worker lost"). */
  readonly reconciled: number;
  /** Dead-letter messages moved back to the task queue (`retryFailed`). */
  readonly retried: number;
  readonly elapsedMs: number;
}

/** Failures kept in a {@link CollectReport} (results.json has them all). */
export const MAX_REPORTED_FAILURES = 500;

/** Stands in for the digest in a record collect writes when no runner ever wrote one. */
export const UNKNOWN_DIGEST = `sha256:${'0'.repeat(64)}`;

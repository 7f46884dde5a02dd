/**
 * The shapes the task control deals in: a lease (one attempt of one task), what the worker reports
 * when it ends an attempt, and what the control answers.
 */
import type { TaskAttempt } from '../schemas/records.js';
import type { TaskRef } from './message-decision.js';
import type { WrittenOutput } from './task-commit.js';

/** One leased attempt of one task: what the worker runs, and what the control needs to end it. */
export interface Lease {
  readonly task: TaskRef;
  readonly taskId: string;
  /** The attempt's number, counted across re-drives (names its log and record entry). */
  readonly attempt: number;
  /** Attempts of this round (since the last re-drive): what the retry budget counts. */
  readonly roundAttempt: number;
  readonly workerId: string;
  readonly messageId: string;
  /** The message's tag (messageTag), which the task record names as its holder. */
  readonly holder: string;
  /** The input's output prefix (outputPrefixFor): the worker writes its outputs under it. */
  readonly outputPrefix: string;
  /** True when an earlier attempt may have left outputs there: the commit removes them first. */
  readonly cleanup: boolean;
  /** Where the worker writes the attempt's log: its final key (taskLogKey), no staging or copy. */
  readonly logKey: string;
  /**
   * The ETag of the task record this lease created (holding only this attempt), when it did: the
   * attempt's end then rewrites it conditionally without reading it first.
   */
  readonly recordEtag?: string;
  readonly receiptHandle: string;
  /** When the message was received (ms since the epoch): the time limit counts from here. */
  readonly receivedAt: number;
  readonly startedAt: string;
  /** When the message's visibility runs out unless extended (ms since the epoch). */
  readonly visibleAt: number;
}

/** What the worker tells the control about an attempt it ends. */
export interface AttemptReport {
  readonly phases: TaskAttempt['phases'];
  readonly exitCode?: number;
  /** True when the worker wrote its task log (at the lease's `logKey`). */
  readonly logStaged: boolean;
  /** The whole task log, when small enough to keep in the record (then nothing is at `logKey`). */
  readonly log?: string;
}

/** A failed attempt, classified by the worker. */
export interface FailureReport extends AttemptReport {
  readonly failureClass: NonNullable<TaskAttempt['failureClass']>;
  readonly retryable: boolean;
  readonly message: string;
}

/** A finished attempt whose outputs are written to their final keys. */
export interface CompletionReport extends AttemptReport {
  readonly outputs: readonly WrittenOutput[];
}

/** How an attempt ended, as the control settled it. */
export type ControlOutcome = 'succeeded' | 'retry' | 'failed' | 'released';

/** What a completion did: the outcome, and the committed outputs when it succeeded. */
export interface CompletionResult {
  readonly outcome: ControlOutcome;
  readonly committedHere?: boolean;
  readonly outputs?: readonly { readonly key: string; readonly size: number }[];
  /** Why, when the completion did not succeed. */
  readonly message?: string;
}

/** The answer to a heartbeat: the lease with its new end, or why it cannot be extended. */
export type HeartbeatResult =
  | { readonly kind: 'extended'; readonly lease: Lease }
  | { readonly kind: 'capped' }
  | { readonly kind: 'lost'; readonly message: string };

/** Counts of what the control did with messages that were not leased out, for logs and tests. */
export interface ControlStats {
  messages: number;
  rejected: number;
  dropped: number;
  split: number;
  alreadyDone: number;
  /** Messages for a task another message holds (duplicate deliveries): dropped without running. */
  duplicates: number;
  exhausted: number;
}

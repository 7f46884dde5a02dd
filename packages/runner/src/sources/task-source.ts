/**
 * Where a runner gets its tasks and sends its results: the one seam between the two modes. In direct
 * mode the runner holds the run's task control and S3 access itself (DirectTaskSource); in sealed
 * mode it holds nothing but the broker's address and asks the broker for everything
 * (BrokerTaskSource), moving data with the presigned requests the broker hands out.
 */
import type {
  CompletionReport,
  CompletionResult,
  ControlStats,
  FailureReport,
  TaskRef,
} from '@sluice/core/broker';

/** A leased attempt as the worker sees it; each source keeps its own state beside it. */
export interface WorkerLease {
  readonly task: TaskRef;
  readonly taskId: string;
  readonly attempt: number;
  /** The input's output prefix: each output goes straight to `<outputPrefix><relative path>`. */
  readonly outputPrefix: string;
  /** Where the attempt's log goes (its final key). */
  readonly logKey: string;
}

/** What a heartbeat found: still held, no longer extended (past the time limit), or lost to another worker. */
export type LeaseState = 'held' | 'capped' | 'lost';

export interface TaskSource {
  /** The next task, waiting up to `waitSeconds`; undefined when none came. */
  lease(waitSeconds: number, signal: AbortSignal): Promise<WorkerLease | undefined>;
  /** Extends the lease by one window. */
  /** `downloadMs`: the input's download time once done, which the lease's cap does not count. */
  heartbeat(lease: WorkerLease, progress?: { readonly downloadMs?: number }): Promise<LeaseState>;
  /** Downloads the attempt's input to `file` (refused when the object changed since it was enqueued). */
  download(lease: WorkerLease, file: string): Promise<void>;
  /** Uploads one output to its final key (committed by `complete`); resolves to S3's ETag, when it gave one. */
  uploadOutput(lease: WorkerLease, relativePath: string, file: string): Promise<string | undefined>;
  /** Writes the attempt's log to its key. */
  stageLog(lease: WorkerLease, file: string): Promise<void>;
  /** Ends the attempt with its uploaded outputs: the control commits them exactly once. */
  complete(lease: WorkerLease, report: CompletionReport): Promise<CompletionResult>;
  /** Ends the attempt as failed: the control records it and retries or ends the task. */
  fail(lease: WorkerLease, report: FailureReport): Promise<'retry' | 'failed'>;
  /** Hands the task back without using an attempt (the runner is stopping). */
  release(lease: WorkerLease, reason: string): Promise<void>;
  /** Sends what the source still holds (batched message deletes); the runner calls it at its end. */
  close?(): Promise<void>;
  /** What the control did with messages that were not leased out, when it runs in this process. */
  readonly stats?: ControlStats;
}

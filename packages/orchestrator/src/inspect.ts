// Looking at a run from outside, for `sluice status`, `logs`, `runs` and `cancel`: where its queues
// stand, what its task records say, the logs of its attempts, which runs exist, and stopping the
// work that is queued. Records are streamed over listing pages, never held all at once.
import { S3Client } from '@aws-sdk/client-s3';
import { SQSClient } from '@aws-sdk/client-sqs';

import {
  completedRecord,
  ConfigurationError,
  isTaskId,
  ledgerPrefix,
  mapBounded,
  OUTPUT_BUCKET_TAG,
  PurgeInProgressError,
  readRunState,
  RUN_ID_TAG,
  S3ObjectStore,
  SqsRunQueues,
  taskId,
  taskRecordKey,
  toError,
  readCompletionMarker,
  validateTaskRecord,
  type ObjectStore,
  type QueueCounts,
  type RunPhase,
  type RunQueues,
  type RunState,
  type TaskAttempt,
  type TaskRecord,
  type TaskStatus,
} from '@sluice/core';
import { runClientConfig } from '@sluice/core/aws';

/** The adapters the inspection functions read through. */
export interface InspectDeps {
  readonly store: ObjectStore;
  readonly queues: RunQueues;
}

const READS_IN_FLIGHT = 16;
/** Logs larger than this are not read whole. */
const LOG_MAX_BYTES = 1024 * 1024;

/**
 * S3 and SQS adapters from an environment (`AWS_ENDPOINT_URL`, `AWS_REGION`/`AWS_DEFAULT_REGION`,
 * `AWS_ACCESS_KEY_ID`/`AWS_SECRET_ACCESS_KEY`/`AWS_SESSION_TOKEN`, else the SDK's default chain),
 * as the run steps make them for a run id without a job file. Call `close` when done.
 *
 * @example
 * const { deps, close } = inspectClients(process.env);
 * try { console.log(await listRuns(deps)); } finally { close(); }
 * @throws never.
 */
export function inspectClients(env: Readonly<Record<string, string | undefined>>): {
  readonly deps: InspectDeps;
  readonly close: () => void;
} {
  const config = runClientConfig(env);
  const s3 = new S3Client(config.s3);
  const sqs = new SQSClient(config.base);
  return {
    deps: { store: new S3ObjectStore(s3), queues: new SqsRunQueues(sqs) },
    close: () => {
      s3.destroy();
      sqs.destroy();
    },
  };
}

/** A task record as read, or why it could not be. */
export type RecordRead =
  | { readonly key: string; readonly record: TaskRecord; readonly problem?: undefined }
  | { readonly key: string; readonly record?: undefined; readonly problem: string };

async function readRecord(store: ObjectStore, bucket: string, key: string): Promise<RecordRead | undefined> {
  try {
    const found = await store.getJson({ bucket, key });
    if (found === undefined) return undefined;
    return { key, record: validateTaskRecord(found.value, `s3://${bucket}/${key}`) };
  } catch (thrown: unknown) {
    return { key, problem: toError(thrown).message };
  }
}

/** The task id a ledger key names (`…/tasks/<id>.json`, `…/done/<id>.json`). */
function idOfKey(key: string): string {
  return key.slice(key.lastIndexOf('/') + 1, -'.json'.length);
}

/**
 * The ids of a run's tasks that have a completion marker: they succeeded, whatever their record
 * says (the commit writes the marker and leaves the record as the lease wrote it). One listing.
 */
async function completedIds(
  state: Pick<RunState, 'runId' | 'output'>,
  store: ObjectStore,
): Promise<Set<string>> {
  const ids = new Set<string>();
  for await (const page of store.list(state.output.bucket, `${ledgerPrefix(state.runId)}done/`))
    for (const { key } of page) if (key.endsWith('.json')) ids.add(idOfKey(key));
  return ids;
}

/**
 * Reads every task record of a run, page by page (a listing page of keys at a time, 16 reads in
 * flight), and hands each to `visit`. Records deleted meanwhile are skipped; unreadable or invalid
 * ones are handed over with the problem.
 *
 * @example
 * await forEachTaskRecord(state, store, (read) => { if (read.record?.status === 'failed') failed += 1; });
 * @throws AwsRequestError when the listing fails.
 */
export async function forEachTaskRecord(
  state: Pick<RunState, 'runId' | 'output'>,
  store: ObjectStore,
  visit: (read: RecordRead) => void,
): Promise<void> {
  const { bucket } = state.output;
  for await (const page of store.list(bucket, `${ledgerPrefix(state.runId)}tasks/`)) {
    const keys = page.map((object) => object.key).filter((key) => key.endsWith('.json'));
    const reads = await mapBounded(keys, READS_IN_FLIGHT, (key) => readRecord(store, bucket, key));
    for (const read of reads) if (read !== undefined) visit(read);
  }
}

/** Task records of a run by status. */
export interface RecordCounts {
  readonly total: number;
  readonly running: number;
  readonly succeeded: number;
  readonly failed: number;
  /** Records that could not be read or are not valid. */
  readonly unreadable: number;
}

/** Where a run stands. */
export interface RunStatus {
  readonly runId: string;
  readonly jobName: string;
  readonly state: RunPhase;
  readonly backend: 'local' | 'ecs';
  readonly createdAt: string;
  readonly updatedAt: string;
  readonly tornDownAt?: string;
  readonly input: { readonly bucket: string; readonly prefix: string };
  readonly output: { readonly bucket: string; readonly prefix: string };
  /** The task queue's counts; absent when the run has no queue (torn down, or gone). */
  readonly queue?: QueueCounts;
  /** The dead-letter queue's counts; absent as `queue`. */
  readonly deadLetter?: QueueCounts;
  readonly records: RecordCounts;
}

async function countsOf(queues: RunQueues, url: string | undefined): Promise<QueueCounts | undefined> {
  if (url === undefined) return undefined;
  try {
    return await queues.taskQueue(url).counts();
  } catch (thrown: unknown) {
    // A queue that no longer exists (deleted by hand, or a half-finished teardown) has no counts.
    if (thrown instanceof ConfigurationError) return undefined;
    throw thrown;
  }
}

/**
 * The state of a run: its `run.json`, its queues' counts and its task records counted by status.
 *
 * @example
 * const status = await runStatus(state, deps);
 * console.log(`${status.records.succeeded} succeeded, ${status.queue?.visible ?? 0} queued`);
 * @throws AwsRequestError for AWS faults.
 */
export async function runStatus(state: RunState, deps: InspectDeps): Promise<RunStatus> {
  const tornDown = state.state === 'torn-down';
  const [queue, deadLetter] = tornDown
    ? [undefined, undefined]
    : await Promise.all([
        countsOf(deps.queues, state.queue.url),
        countsOf(deps.queues, state.deadLetterQueue.url),
      ]);
  const counts: Record<TaskStatus | 'unreadable', number> = {
    running: 0,
    succeeded: 0,
    failed: 0,
    unreadable: 0,
  };
  let total = 0;
  const done = await completedIds(state, deps.store);
  await forEachTaskRecord(state, deps.store, (read) => {
    total += 1;
    counts[done.has(idOfKey(read.key)) ? 'succeeded' : (read.record?.status ?? 'unreadable')] += 1;
  });
  return {
    runId: state.runId,
    jobName: state.jobName,
    state: state.state,
    backend: state.backend,
    createdAt: state.createdAt,
    updatedAt: state.updatedAt,
    ...(state.tornDownAt !== undefined && { tornDownAt: state.tornDownAt }),
    input: { bucket: state.input.bucket, prefix: state.input.prefix },
    output: { bucket: state.output.bucket, prefix: state.output.prefix },
    ...(queue !== undefined && { queue }),
    ...(deadLetter !== undefined && { deadLetter }),
    records: { total, ...counts },
  };
}

/**
 * Finds a task's record by task id, or by input key (the key relative to the run's input bucket,
 * with or without the input prefix). For a key, the input object's current ETag names the task;
 * when that has no record (the object changed or is gone), the records are searched for the key
 * and the most recently updated one is returned.
 *
 * @example
 * const record = await findTaskRecord(state, 'photos/cat.jpg', deps);
 * @throws AwsRequestError for AWS faults; {@link ConfigurationError} when the record found is not valid.
 */
export async function findTaskRecord(
  state: RunState,
  task: string,
  deps: Pick<InspectDeps, 'store'>,
): Promise<TaskRecord | undefined> {
  const { store } = deps;
  const bucket = state.output.bucket;
  const byId = async (id: string): Promise<TaskRecord | undefined> => {
    const [read, marker] = await Promise.all([
      readRecord(store, bucket, taskRecordKey(state.runId, id)),
      readCompletionMarker(store, state, id),
    ]);
    if (read?.problem !== undefined) throw new ConfigurationError(`task record ${read.key}: ${read.problem}`);
    return completedRecord(read?.record, marker);
  };
  if (isTaskId(task)) {
    const found = await byId(task);
    if (found !== undefined) return found;
  }
  const keys = task.startsWith(state.input.prefix) ? [task] : [`${state.input.prefix}${task}`, task];
  for (const key of keys) {
    const head = await store.head({ bucket: state.input.bucket, key });
    if (head === undefined) continue;
    const found = await byId(taskId({ bucket: state.input.bucket, key, etag: head.etag }));
    if (found !== undefined) return found;
  }
  let latest: TaskRecord | undefined;
  await forEachTaskRecord(state, store, (read) => {
    const { record } = read;
    if (record === undefined || !keys.includes(record.input.key)) return;
    if (latest === undefined || record.updatedAt > latest.updatedAt) latest = record;
  });
  const found: TaskRecord | undefined = latest;
  return found === undefined
    ? undefined
    : completedRecord(found, await readCompletionMarker(store, state, found.taskId));
}

/** One attempt of a task with its log. */
export interface AttemptLog {
  readonly attempt: TaskAttempt;
  /** The log's text; absent when the attempt has no log key or the log is gone. */
  readonly log?: string;
  /** Why the log could not be read. */
  readonly problem?: string;
}

/**
 * Reads the log of each attempt of a task (logs over 1 MiB are reported, not read).
 *
 * @example
 * for (const { attempt, log } of await attemptLogs(state, record, deps)) console.log(attempt.attempt, log);
 * @throws never: a log that cannot be read is reported in `problem`.
 */
export async function attemptLogs(
  state: Pick<RunState, 'output'>,
  record: TaskRecord,
  deps: Pick<InspectDeps, 'store'>,
): Promise<AttemptLog[]> {
  return mapBounded(record.attempts, 4, async (attempt): Promise<AttemptLog> => {
    if (attempt.log !== undefined) return { attempt, log: attempt.log };
    if (attempt.logKey === undefined) return { attempt };
    try {
      const found = await deps.store.getText(
        { bucket: state.output.bucket, key: attempt.logKey },
        { maxBytes: LOG_MAX_BYTES },
      );
      return found === undefined ? { attempt, problem: 'the log is gone' } : { attempt, log: found.text };
    } catch (thrown: unknown) {
      return { attempt, problem: toError(thrown).message };
    }
  });
}

/**
 * The last `lines` lines of `text` (without a trailing empty line).
 *
 * @example
 * tailLines('a\nb\nc\n', 2); // 'b\nc'
 * @throws never.
 */
export function logTail(text: string, lines: number): string {
  const all = text.replace(/\n$/, '').split('\n');
  return all.slice(Math.max(0, all.length - lines)).join('\n');
}

/** A failed task with the tail of its last attempt's log. */
export interface FailedTask {
  readonly record: TaskRecord;
  readonly last?: AttemptLog;
}

/**
 * The failed tasks of a run (the first `limit`, default 50, in listing order) with their last
 * attempt's log, and how many failed in all.
 *
 * @example
 * const { failed, tasks } = await failedTasks(state, deps, { limit: 20 });
 * @throws AwsRequestError when the listing fails.
 */
export async function failedTasks(
  state: RunState,
  deps: Pick<InspectDeps, 'store'>,
  options: { readonly limit?: number } = {},
): Promise<{ readonly failed: number; readonly tasks: readonly FailedTask[] }> {
  const limit = options.limit ?? 50;
  const shown: TaskRecord[] = [];
  let failed = 0;
  const done = await completedIds(state, deps.store);
  await forEachTaskRecord(state, deps.store, (read) => {
    // A failed record with a marker: a late commit won after all (the marker is the final word).
    if (read.record?.status !== 'failed' || done.has(read.record.taskId)) return;
    failed += 1;
    if (shown.length < limit) shown.push(read.record);
  });
  const tasks = await mapBounded(shown, 8, async (record): Promise<FailedTask> => {
    const lastAttempt = record.attempts.at(-1);
    if (lastAttempt === undefined) return { record };
    const [last] = await attemptLogs(state, { ...record, attempts: [lastAttempt] }, deps);
    return { record, ...(last !== undefined && { last }) };
  });
  return { failed, tasks };
}

/** A run found by its task queue. */
export interface RunListing {
  readonly runId: string;
  readonly queueUrl: string;
  readonly outputBucket?: string;
  /** From `run.json`, when it could be read. */
  readonly createdAt?: string;
  readonly state?: RunPhase;
  readonly jobName?: string;
  readonly backend?: 'local' | 'ecs';
  /** Why `run.json` could not be read. */
  readonly problem?: string;
}

/**
 * The runs whose task queues exist (queues named `sluice-…-tasks` carrying the run id tag), with
 * their output bucket (tag) and what their `run.json` says; newest first.
 *
 * @example
 * for (const run of await listRuns(deps)) console.log(run.runId, run.outputBucket, run.createdAt);
 * @throws AwsRequestError for AWS faults (listing or tags).
 */
export async function listRuns(deps: InspectDeps): Promise<RunListing[]> {
  const urls = (await deps.queues.listQueueUrls('sluice-')).filter((url) =>
    /\/sluice-[^/]+-tasks$/.test(url),
  );
  const found = await mapBounded(urls, 8, async (queueUrl): Promise<RunListing | undefined> => {
    let tags: Readonly<Record<string, string>>;
    try {
      tags = await deps.queues.queueTags(queueUrl);
    } catch (thrown: unknown) {
      // Deleted between the listing and now.
      if (thrown instanceof ConfigurationError) return undefined;
      throw thrown;
    }
    const runId = tags[RUN_ID_TAG];
    if (runId === undefined) return undefined;
    const outputBucket = tags[OUTPUT_BUCKET_TAG];
    const listing = { runId, queueUrl, ...(outputBucket !== undefined && { outputBucket }) };
    if (outputBucket === undefined) return { ...listing, problem: 'the queue names no output bucket' };
    try {
      const state = await readRunState(deps.store, outputBucket, runId);
      if (state === undefined) return { ...listing, problem: `no run.json in s3://${outputBucket}` };
      return {
        ...listing,
        createdAt: state.createdAt,
        state: state.state,
        jobName: state.jobName,
        backend: state.backend,
      };
    } catch (thrown: unknown) {
      return { ...listing, problem: toError(thrown).message };
    }
  });
  return found
    .filter((run): run is RunListing => run !== undefined)
    .sort((a, b) => (b.createdAt ?? '').localeCompare(a.createdAt ?? '') || a.runId.localeCompare(b.runId));
}

/** What {@link cancelRun} did. */
export interface CancelReport {
  readonly runId: string;
  /** Messages waiting in the task queue before the purge (visible and delayed). */
  readonly purged: number;
  /** Messages being worked on when purged (they may still finish or fail). */
  readonly inFlight: number;
  /** False when the run has no task queue (torn down). */
  readonly queueFound: boolean;
  /**
   * True when SQS refused the purge because another began less than a minute ago: that one removes
   * what was queued when it began; anything queued since stays until a purge a minute later.
   */
  readonly purgeInProgress: boolean;
}

/**
 * Purges a run's task queue: no task still queued starts. Records, logs, outputs and the
 * dead-letter queue are kept.
 *
 * @example
 * const { purged } = await cancelRun(state, deps);
 * @throws AwsRequestError for AWS faults. A purge refused because another began less than a minute
 *   ago is reported (`purgeInProgress`), not thrown.
 */
export async function cancelRun(state: RunState, deps: Pick<InspectDeps, 'queues'>): Promise<CancelReport> {
  const url = state.state === 'torn-down' ? undefined : state.queue.url;
  const counts = await countsOf(deps.queues, url);
  if (url === undefined || counts === undefined)
    return { runId: state.runId, purged: 0, inFlight: 0, queueFound: false, purgeInProgress: false };
  try {
    await deps.queues.taskQueue(url).purge();
  } catch (thrown: unknown) {
    if (!(thrown instanceof PurgeInProgressError)) throw thrown;
    return {
      runId: state.runId,
      purged: 0,
      inFlight: counts.inFlight,
      queueFound: true,
      purgeInProgress: true,
    };
  }
  return {
    runId: state.runId,
    purged: counts.visible + counts.delayed,
    inFlight: counts.inFlight,
    queueFound: true,
    purgeInProgress: false,
  };
}

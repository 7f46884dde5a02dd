// collect-results: know when input is complete, wait (bounded, with backoff) until every input has
// a final record and the queue is drained, reconcile the dead-letter queue, optionally re-drive it,
// and write results.json.
import { createWriteStream } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { once } from 'node:events';

import { ConfigurationError, toError } from '../errors.js';
import { completionMarkerKey, ledgerPrefix, resultsKey, taskRecordKey } from '../ids/ledger-keys.js';
import { silentLogger, type Logger } from '../logging/logger.js';
import { isObjectCreated, parseQueueMessage } from '../queue/s3-event.js';
import type { ReceivedMessage, TaskQueue } from '../queue/task-queue.js';
import {
  validateCompletionMarker,
  validateTaskRecord,
  type FailureClass,
  type PhaseTimings,
  type TaskOutput,
  type TaskRecord,
} from '../schemas/records.js';
import type { RunState } from '../schemas/run-state.js';
import { formatTaskMessage } from '../schemas/task-message.js';
import { UnreadableObjectError } from '../storage/errors.js';
import type { ObjectStore, PutResult } from '../storage/object-store.js';
import { updateJson, type JsonSnapshot } from '../storage/update-json.js';
import { BoundedPool, mapBounded } from './concurrency.js';
import { inputFilter } from './include.js';
import { defaultSleep, isoTime, type RunDeps } from './lifecycle-deps.js';
import { endMarkerKey } from '../ids/run-names.js';
import { taskId } from '../ids/task-id.js';

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
  readonly failureClass?: FailureClass;
  readonly message?: string;
  /** The last attempt's log, in the output bucket. */
  readonly logKey?: string;
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
const SLOWEST = 10;
const READS_IN_FLIGHT = 16;
const RESULTS_WINDOW = 256;
/** How long dead-letter messages are held while collect reads them all. */
const HOLD_SECONDS = 120;
/** Stands in for the digest in a record collect writes when no runner ever wrote one. */
export const UNKNOWN_DIGEST = `sha256:${'0'.repeat(64)}`;

interface Tracked {
  readonly key: string;
  readonly etag: string;
  readonly size: number;
  status: ResultStatus;
  /** ETag of the record last read, so an unchanged record is not read again. */
  recordEtag?: string;
}

/**
 * Waits for a run to finish and writes its results. First it waits until the input is complete
 * (`until`: an end marker, a count, or quiet for `idleSeconds`), then until every listed input has
 * a final record (succeeded or failed) and the task queue holds nothing, polling with backoff and
 * reporting progress. Tasks found in the dead-letter queue without a final record (their worker
 * was lost on the last attempt) get a failed record, class `infrastructure`, "worker lost"; the
 * dead-letter queue itself is left as it is, unless `retryFailed` moves its messages back to the
 * task queue (once, as fresh task messages) and collect waits again. Finally `results.json` is
 * streamed to `_sluice/<run-id>/results.json` in the output bucket — also after a timeout, with
 * unfinished inputs as `running`/`pending`.
 *
 * @example
 * const report = await collectResults(state, { until: { until: 'marker' }, timeoutSeconds: 1800 }, deps);
 * console.log(`${report.counts.succeeded} succeeded, ${report.counts.failed} failed: ${report.results}`);
 * @throws {ConfigurationError} when the run has no queue (not provisioned).
 * @throws AwsRequestError for AWS faults.
 */
export async function collectResults(
  run: RunState,
  options: CollectOptions,
  deps: Pick<RunDeps, 'store' | 'queues' | 'logger' | 'now' | 'sleep'>,
): Promise<CollectReport> {
  const { store } = deps;
  const logger = deps.logger ?? silentLogger;
  const now = deps.now ?? Date.now;
  const sleep = deps.sleep ?? defaultSleep;
  const { url: queueUrl } = run.queue;
  const { url: deadLetterUrl } = run.deadLetterQueue;
  if (queueUrl === undefined || deadLetterUrl === undefined) {
    throw new ConfigurationError(
      `run ${run.runId} has no task queue yet (state ${run.state}); provision it (sluice provision JOB) first.`,
    );
  }
  const queue = deps.queues.taskQueue(queueUrl);
  const deadLetter = deps.queues.taskQueue(deadLetterUrl);
  const tracker = new Tracker(run, store, logger);
  const started = now();
  const deadline = started + (options.timeoutSeconds ?? 3600) * 1000;
  const firstPollMs = (options.pollSeconds ?? 2) * 1000;
  const maxPollMs = Math.max(firstPollMs, (options.maxPollSeconds ?? 30) * 1000);
  const idleMs =
    options.until.until === 'idle'
      ? (options.until.idleSeconds ?? run.job.compute?.idleSeconds ?? 60) * 1000
      : 0;

  let inputComplete = false;
  let timedOut = false;
  let reconciled = 0;
  let retried = 0;
  let retryDone = options.retryFailed !== true;
  let signature = '';
  let lastChange = started;
  let delay = firstPollMs;

  for (;;) {
    await tracker.scan();
    const [counts, dead] = await Promise.all([queue.counts(), deadLetter.counts()]);
    const queued = counts.visible + counts.delayed;
    const deadCount = dead.visible + dead.inFlight + dead.delayed;
    const summary = tracker.counts();
    const next = [
      summary.inputs,
      summary.succeeded,
      summary.failed,
      summary.running,
      queued,
      counts.inFlight,
      deadCount,
    ].join();
    if (next !== signature) {
      signature = next;
      lastChange = now();
      delay = firstPollMs;
    }
    const queueEmpty = queued + counts.inFlight === 0;
    if (!inputComplete) {
      inputComplete = await isInputComplete(
        options.until,
        run,
        store,
        summary.inputs,
        queueEmpty,
        now() - lastChange,
        idleMs,
      );
      if (inputComplete) logger.info(`run ${run.runId}: input complete (${summary.inputs} inputs)`);
    }
    const progress = (phase: CollectProgress['phase']): void => {
      options.onProgress?.({
        ...tracker.counts(),
        phase,
        queued,
        inFlight: counts.inFlight,
        deadLetter: deadCount,
        elapsedMs: now() - started,
      });
    };
    const unfinished = summary.running + summary.pending;
    if (inputComplete && queueEmpty && unfinished > 0 && deadCount > 0) {
      progress('reconciling');
      const written = await reconcileDeadLetters(run, deadLetter, tracker, store, now);
      reconciled += written;
      if (written > 0) continue;
    }
    if (inputComplete && queueEmpty && unfinished === 0) {
      if (!retryDone && deadCount > 0) {
        progress('retrying');
        retryDone = true;
        const moved = await moveDeadLetters(run, deadLetter, queue);
        retried += moved.tasks.length;
        for (const task of moved.tasks) tracker.retrying(task);
        logger.info(`run ${run.runId}: moved ${moved.tasks.length} failed tasks back to the task queue`);
        continue;
      }
      break;
    }
    progress(inputComplete ? 'draining' : 'waiting-for-input');
    if (now() >= deadline) {
      timedOut = true;
      logger.warning(
        `run ${run.runId}: gave up waiting after ${Math.round((now() - started) / 1000)} s ` +
          `(${unfinished} inputs unfinished, ${queued + counts.inFlight} messages queued or in flight)`,
      );
      break;
    }
    await sleep(Math.max(0, Math.min(delay, deadline - now())));
    delay = Math.min(maxPollMs, Math.round(delay * 1.5));
  }

  options.onProgress?.({
    ...tracker.counts(),
    phase: 'writing-results',
    queued: 0,
    inFlight: 0,
    deadLetter: 0,
    elapsedMs: now() - started,
  });
  const written = await writeResults(run, tracker, store, now);
  const counts = tracker.counts();
  const complete = inputComplete && !timedOut && counts.running + counts.pending === 0;
  logger.info(
    `run ${run.runId}: ${complete ? 'completed' : 'incomplete'}, ${counts.succeeded} succeeded, ${counts.failed} failed` +
      `${counts.running + counts.pending > 0 ? `, ${counts.running + counts.pending} unfinished` : ''}: ${written.uri}`,
  );
  return {
    runId: run.runId,
    counts,
    complete,
    inputComplete,
    timedOut,
    results: written.uri,
    resultsKey: written.key,
    failures: written.failures,
    slowest: written.slowest,
    reconciled,
    retried,
    elapsedMs: now() - started,
  };
}

async function isInputComplete(
  until: InputCompletion,
  run: RunState,
  store: ObjectStore,
  inputs: number,
  queueEmpty: boolean,
  quietMs: number,
  idleMs: number,
): Promise<boolean> {
  switch (until.until) {
    case 'count':
      return inputs >= until.expected;
    case 'marker':
      return (await store.head({ bucket: run.input.bucket, key: endMarkerKey(run.runId) })) !== undefined;
    case 'idle':
      return queueEmpty && quietMs >= idleMs;
  }
}

/** Every input of the run, with what its ledger says; one small entry per input. */
class Tracker {
  readonly tasks = new Map<string, Tracked>();
  private readonly isInput;

  constructor(
    private readonly run: RunState,
    private readonly store: ObjectStore,
    private readonly logger: Logger,
  ) {
    this.isInput = inputFilter(run);
  }

  /** Lists the inputs, the completion markers and the records; reads records that changed. */
  async scan(): Promise<void> {
    const { run, store } = this;
    for await (const page of store.list(run.input.bucket, run.input.prefix)) {
      for (const object of page) {
        if (!this.isInput(run.input.bucket, object.key).input) continue;
        const id = taskId({ bucket: run.input.bucket, key: object.key, etag: object.etag });
        if (!this.tasks.has(id)) {
          this.tasks.set(id, { key: object.key, etag: object.etag, size: object.size, status: 'pending' });
        }
      }
    }
    const ledger = ledgerPrefix(run.runId);
    for await (const page of store.list(run.output.bucket, `${ledger}done/`)) {
      for (const object of page) {
        const tracked = this.tasks.get(idOf(object.key));
        if (tracked !== undefined) tracked.status = 'succeeded';
      }
    }
    const changed: { id: string; tracked: Tracked; etag: string }[] = [];
    for await (const page of store.list(run.output.bucket, `${ledger}tasks/`)) {
      for (const object of page) {
        const id = idOf(object.key);
        const tracked = this.tasks.get(id);
        if (tracked === undefined || tracked.status === 'succeeded' || tracked.recordEtag === object.etag)
          continue;
        changed.push({ id, tracked, etag: object.etag });
      }
    }
    const pool = new BoundedPool(READS_IN_FLIGHT);
    for (const { id, tracked, etag } of changed) {
      await pool.run(async () => {
        const record = await this.record(id);
        tracked.recordEtag = etag;
        if (record === undefined) return;
        tracked.status = record.status === 'running' ? 'running' : record.status;
      });
    }
    await pool.drain();
  }

  /** Reads and checks a task record; `undefined` when missing or unreadable (logged). */
  async record(id: string): Promise<TaskRecord | undefined> {
    const key = taskRecordKey(this.run.runId, id);
    let found: JsonSnapshot;
    try {
      found = await this.store.getJson({ bucket: this.run.output.bucket, key });
    } catch (thrown: unknown) {
      this.logger.warning(`ignoring task record ${key}: ${toError(thrown).message}`);
      return undefined;
    }
    return this.checked(found, key);
  }

  /** A task record as read, checked; `undefined` when missing or not a record (logged). */
  checked(found: JsonSnapshot, key: string): TaskRecord | undefined {
    if (found === undefined) return undefined;
    try {
      return validateTaskRecord(found.value, `s3://${this.run.output.bucket}/${key}`);
    } catch (thrown: unknown) {
      this.logger.warning(`ignoring task record ${key}: ${toError(thrown).message}`);
      return undefined;
    }
  }

  /** A re-driven task is unfinished until its record changes or its marker appears. */
  retrying(id: string): void {
    const tracked = this.tasks.get(id);
    if (tracked !== undefined && tracked.status === 'failed') tracked.status = 'running';
  }

  counts(): ResultCounts {
    let succeeded = 0;
    let failed = 0;
    let running = 0;
    let pending = 0;
    for (const tracked of this.tasks.values()) {
      if (tracked.status === 'succeeded') succeeded += 1;
      else if (tracked.status === 'failed') failed += 1;
      else if (tracked.status === 'running') running += 1;
      else pending += 1;
    }
    return { inputs: this.tasks.size, succeeded, failed, running, pending };
  }
}

function idOf(key: string): string {
  return key.slice(key.lastIndexOf('/') + 1).replace(/\.json$/, '');
}

/** The task a queue message names (a sluice task message, or each created object of an S3 event). */
function tasksOf(
  body: string,
): { bucket: string; key: string; etag: string; size: number; versionId?: string; attemptsUsed?: number }[] {
  const message = parseQueueMessage(body);
  if (message.kind === 'task') return [message.task];
  if (message.kind === 's3-event') {
    return message.records.filter(isObjectCreated).map((record) => ({
      bucket: record.bucket,
      key: record.key,
      etag: record.etag,
      size: record.size,
      ...(record.versionId !== undefined && { versionId: record.versionId }),
    }));
  }
  return [];
}

/** Receives every dead-letter message, holding each until `release` (so none is seen twice). */
async function receiveAll(queue: TaskQueue): Promise<ReceivedMessage[]> {
  const seen = new Set<string>();
  const messages: ReceivedMessage[] = [];
  for (;;) {
    const batch = await queue.receive({
      maxMessages: 10,
      waitSeconds: 0,
      visibilityTimeoutSeconds: HOLD_SECONDS,
    });
    const fresh = batch.filter((m) => !seen.has(m.messageId));
    if (fresh.length === 0) return messages;
    for (const message of fresh) {
      seen.add(message.messageId);
      messages.push(message);
    }
  }
}

async function release(queue: TaskQueue, messages: readonly ReceivedMessage[]): Promise<void> {
  await mapBounded(messages, READS_IN_FLIGHT, async (message) => {
    await queue.changeVisibility(message.receiptHandle, 0).catch(() => undefined);
  });
}

/**
 * Gives every task in the dead-letter queue that has no final record a failed one ("worker lost",
 * class `infrastructure`): its last worker vanished and SQS moved the message after the last
 * receive. Called only when nothing is queued or in flight; a worker still writing the record late
 * (its message moved while it ran) is not overwritten: the write is conditional, and a final record
 * found then stands. The messages stay in the dead-letter queue.
 */
async function reconcileDeadLetters(
  run: RunState,
  deadLetter: TaskQueue,
  tracker: Tracker,
  store: ObjectStore,
  now: () => number,
): Promise<number> {
  const messages = await receiveAll(deadLetter);
  let lostWritten = 0;
  try {
    const lost = new Map<string, Tracked>();
    for (const message of messages) {
      for (const task of tasksOf(message.body)) {
        const id = taskId(task);
        const tracked = tracker.tasks.get(id);
        if (tracked !== undefined && (tracked.status === 'running' || tracked.status === 'pending'))
          lost.set(id, tracked);
      }
    }
    await mapBounded([...lost], READS_IN_FLIGHT, async ([id, tracked]) => {
      const key = taskRecordKey(run.runId, id);
      const written = await writeLostRecord(store, { bucket: run.output.bucket, key }, (found) => {
        const existing = tracker.checked(found, key);
        // A late worker finished it after all: its final record stands.
        if (existing !== undefined && existing.status !== 'running') return undefined;
        return workerLost(run, id, tracked, existing, isoTime(now()));
      });
      if (written === undefined) return;
      tracked.status = 'failed';
      tracked.recordEtag = written.etag;
      lostWritten += 1;
    });
  } finally {
    await release(deadLetter, messages);
  }
  return lostWritten;
}

/** The failed record of a task whose worker was lost. */
export function workerLost(
  run: Pick<RunState, 'runId' | 'input' | 'algorithm'>,
  id: string,
  input: { readonly key: string; readonly etag: string; readonly size: number },
  existing: TaskRecord | undefined,
  at: string,
): TaskRecord {
  const lost = { failureClass: 'infrastructure' as const, message: 'worker lost' };
  const attempts = [...(existing?.attempts ?? [])];
  const last = attempts.at(-1);
  if (last !== undefined && last.endedAt === undefined) {
    attempts[attempts.length - 1] = { ...last, endedAt: at, ...lost };
  } else {
    attempts.push({
      attempt: (last?.attempt ?? 0) + 1,
      workerId: 'unknown',
      startedAt: at,
      endedAt: at,
      phases: {},
      ...lost,
    });
  }
  return {
    schemaVersion: 1,
    runId: run.runId,
    taskId: id,
    input: existing?.input ?? {
      bucket: run.input.bucket,
      key: input.key,
      etag: input.etag,
      size: input.size,
    },
    status: 'failed',
    algorithmDigest: existing?.algorithmDigest ?? run.algorithm.digest ?? UNKNOWN_DIGEST,
    attempts,
    outputs: [],
    updatedAt: at,
  };
}

/**
 * Writes a "worker lost" record conditionally on the record read, so a late worker's write in
 * between is read and kept; a record that is not JSON at all is replaced outright (as before a
 * record that fails its schema). Resolves to the write, or `undefined` when nothing was written.
 */
async function writeLostRecord(
  store: ObjectStore,
  ref: { readonly bucket: string; readonly key: string },
  next: (found: JsonSnapshot) => TaskRecord | undefined,
): Promise<PutResult | undefined> {
  try {
    return (await updateJson(store, ref, next))?.put;
  } catch (thrown: unknown) {
    if (!(thrown instanceof UnreadableObjectError)) throw thrown;
    const record = next(undefined);
    return record === undefined ? undefined : store.putJson(ref, record);
  }
}

/**
 * Moves every dead-letter message back to the task queue as fresh sluice task messages (attempts
 * count from 1 again), deleting each from the dead-letter queue once sent. Messages that name no
 * task are left where they are.
 *
 * @example
 * const { tasks } = await moveDeadLetters(state, deps.queues.taskQueue(dlqUrl), deps.queues.taskQueue(queueUrl));
 * @throws AwsRequestError for AWS faults (messages not yet moved stay in the dead-letter queue).
 */
export async function moveDeadLetters(
  run: RunState,
  deadLetter: TaskQueue,
  queue: TaskQueue,
): Promise<{ readonly tasks: readonly string[]; readonly kept: number }> {
  const messages = await receiveAll(deadLetter);
  const moved: string[] = [];
  const keep: ReceivedMessage[] = [];
  try {
    for (let start = 0; start < messages.length; start += 10) {
      const chunk = messages.slice(start, start + 10);
      for (const message of chunk) {
        const tasks = tasksOf(message.body);
        if (tasks.length === 0) {
          keep.push(message);
          continue;
        }
        const sent = await queue.sendBatch(
          tasks.map((task) => {
            // Attempt numbers go on after the earlier ones (an S3 event moved by SQS itself used up
            // to maxReceiveCount receives); the retry budget starts afresh from there.
            const used = task.attemptsUsed ?? run.queue.maxReceiveCount;
            return {
              body: formatTaskMessage({
                sluice: 1,
                runId: run.runId,
                bucket: task.bucket,
                key: task.key,
                etag: task.etag,
                size: task.size,
                ...(task.versionId !== undefined && { versionId: task.versionId }),
                attemptsUsed: used,
                retryFrom: used,
              }),
            };
          }),
        );
        if (sent.failed.length > 0) {
          keep.push(message);
          continue;
        }
        await deadLetter.delete(message.receiptHandle);
        moved.push(...tasks.map((task) => taskId(task)));
      }
    }
  } finally {
    await release(deadLetter, keep);
  }
  return { tasks: moved, kept: keep.length };
}

/** Streams results.json through a temporary file (one line per input) and uploads it. */
async function writeResults(
  run: RunState,
  tracker: Tracker,
  store: ObjectStore,
  now: () => number,
): Promise<{ uri: string; key: string; failures: TaskResult[]; slowest: TaskResult[] }> {
  const directory = await mkdtemp(join(tmpdir(), 'sluice-results-'));
  const file = join(directory, 'results.json');
  const failures: TaskResult[] = [];
  let slowest: TaskResult[] = [];
  const key = resultsKey(run.runId);
  try {
    const out = createWriteStream(file, { encoding: 'utf8' });
    const write = async (text: string): Promise<void> => {
      if (!out.write(text)) await once(out, 'drain');
    };
    const counts = tracker.counts();
    await write(
      `{"schemaVersion":1,"runId":${JSON.stringify(run.runId)},"generatedAt":"${isoTime(now())}",` +
        `"input":${JSON.stringify({ bucket: run.input.bucket, prefix: run.input.prefix })},` +
        `"output":${JSON.stringify(run.output)},"counts":${JSON.stringify(counts)},"tasks":[`,
    );
    const entries = [...tracker.tasks];
    let first = true;
    for (let start = 0; start < entries.length; start += RESULTS_WINDOW) {
      const window = entries.slice(start, start + RESULTS_WINDOW);
      const results = await mapBounded(window, READS_IN_FLIGHT, ([id, tracked]) =>
        resultOf(run, id, tracked, tracker, store),
      );
      for (const result of results) {
        await write(`${first ? '\n' : ',\n'}${JSON.stringify(result)}`);
        first = false;
        if (result.status === 'failed' && failures.length < MAX_REPORTED_FAILURES) failures.push(result);
        if (result.wallMs !== undefined) {
          slowest.push(result);
          if (slowest.length > SLOWEST * 4) slowest = topSlowest(slowest);
        }
      }
    }
    await write('\n]}\n');
    out.end();
    await once(out, 'finish');
    await store.upload({ bucket: run.output.bucket, key }, file, { contentType: 'application/json' });
  } finally {
    await rm(directory, { recursive: true, force: true });
  }
  return { uri: `s3://${run.output.bucket}/${key}`, key, failures, slowest: topSlowest(slowest) };
}

function topSlowest(results: TaskResult[]): TaskResult[] {
  return [...results].sort((a, b) => (b.wallMs ?? 0) - (a.wallMs ?? 0)).slice(0, SLOWEST);
}

async function resultOf(
  run: RunState,
  id: string,
  tracked: Tracked,
  tracker: Tracker,
  store: ObjectStore,
): Promise<TaskResult> {
  const base = { key: tracked.key, taskId: id, etag: tracked.etag, size: tracked.size };
  const record = tracked.status === 'pending' ? undefined : await tracker.record(id);
  let outputs: readonly TaskOutput[] = record?.outputs ?? [];
  if (tracked.status === 'succeeded' && outputs.length === 0) {
    const markerKey = completionMarkerKey(run.runId, id);
    const found = await store.getJson({ bucket: run.output.bucket, key: markerKey }).catch(() => undefined);
    if (found !== undefined) {
      try {
        outputs = validateCompletionMarker(found.value, `s3://${run.output.bucket}/${markerKey}`).outputs;
      } catch {
        // Counted as succeeded by its marker's presence; its outputs are simply not listed.
      }
    }
  }
  if (record === undefined) return { ...base, status: tracked.status, attempts: 0, outputs, phases: {} };
  const last = record.attempts.at(-1);
  let wallMs = 0;
  let timed = false;
  for (const attempt of record.attempts) {
    if (attempt.endedAt === undefined) continue;
    wallMs += Math.max(0, Date.parse(attempt.endedAt) - Date.parse(attempt.startedAt));
    timed = true;
  }
  return {
    ...base,
    status: tracked.status,
    attempts: record.attempts.length,
    outputs,
    phases: last?.phases ?? {},
    ...(timed && { wallMs }),
    ...(tracked.status === 'failed' &&
      last?.failureClass !== undefined && { failureClass: last.failureClass }),
    ...(tracked.status === 'failed' && last?.message !== undefined && { message: last.message }),
    ...(last?.logKey !== undefined && { logKey: last.logKey }),
    ...(last?.exitCode !== undefined && { exitCode: last.exitCode }),
  };
}

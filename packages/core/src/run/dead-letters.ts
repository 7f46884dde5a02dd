// The dead-letter queue at the end of a run: tasks whose worker was lost get a failed record, and
// `retryFailed` moves the messages back to the task queue as fresh task messages.
import { taskRecordKey } from '../ids/ledger-keys.js';
import { taskId } from '../ids/task-id.js';
import { isObjectCreated, parseQueueMessage } from '../queue/s3-event.js';
import type { ReceivedMessage, TaskQueue } from '../queue/task-queue.js';
import type { TaskRecord } from '../schemas/records.js';
import type { RunState } from '../schemas/run-state.js';
import { formatTaskMessage } from '../schemas/task-message.js';
import { UnreadableObjectError } from '../storage/errors.js';
import type { ObjectStore, PutResult } from '../storage/object-store.js';
import { updateJson, type JsonSnapshot } from '../storage/update-json.js';
import { UNKNOWN_DIGEST } from './collect-report.js';
import { READS_IN_FLIGHT, type Tracked, type Tracker } from './collect-tracker.js';
import { mapBounded } from './concurrency.js';
import { isoTime } from './lifecycle-deps.js';

/** How long dead-letter messages are held while collect reads them all. */
const HOLD_SECONDS = 120;

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
export async function reconcileDeadLetters(
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

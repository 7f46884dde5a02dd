/**
 * What to do with one queue message, decided without touching AWS: run a task, fan a multi-record
 * event out into one message per task, drop it (test event, not an input), or set it aside as
 * malformed. Kept pure so every case is a unit test.
 */
import type { InputVerdict } from '../ids/input-selection.js';
import { isObjectCreated, parseQueueMessage, type InvalidS3Record } from '../queue/s3-event.js';
import type { TaskMessage } from '../schemas/task-message.js';

/** One input object to process, as a task message describes it (S3 events are normalised to it). */
export type TaskRef = TaskMessage;

/** The decision for one message. */
export type MessageDecision =
  /** One task: run it. `attemptsUsed` is what the message carried (0 for S3 events). */
  | { readonly action: 'run'; readonly task: TaskRef }
  /**
   * Several tasks in one S3 event, or tasks beside records that cannot be read: send one task
   * message each, set the `rejected` records aside (as a malformed message is), then delete this one.
   */
  | {
      readonly action: 'fan-out';
      readonly tasks: readonly TaskRef[];
      readonly dropped: readonly Dropped[];
      readonly rejected?: RejectedRecords;
    }
  /** Nothing to do: delete it. */
  | { readonly action: 'drop'; readonly dropped: readonly Dropped[] }
  /** Not a message sluice understands: record why, then delete it. */
  | { readonly action: 'reject'; readonly reason: string };

/** A record or message left alone, and why (for the log). */
export interface Dropped {
  readonly key?: string;
  readonly reason: string;
}

/** The records of an S3 event that cannot be read, while others of it still make tasks. */
export interface RejectedRecords {
  readonly records: readonly InvalidS3Record[];
  /** For the log and the rejected record: which records, what is wrong, and what to do. */
  readonly reason: string;
}

/**
 * Decides what to do with a message body. An S3 event's records are taken one by one: a record
 * that cannot be read is set aside and the others still become tasks.
 *
 * @example
 * decideMessage(body, 'thumbs-3f9a0c12', inputFilter(selection));
 */
export function decideMessage(
  body: string,
  runId: string,
  isInput: (bucket: string, key: string) => InputVerdict,
): MessageDecision {
  const parsed = parseQueueMessage(body);
  switch (parsed.kind) {
    case 'malformed':
      return { action: 'reject', reason: parsed.reason };
    case 's3-test-event':
      return { action: 'drop', dropped: [{ reason: 's3:TestEvent' }] };
    case 'task': {
      const { task } = parsed;
      if (task.runId !== runId) {
        return {
          action: 'reject',
          reason: `a task message of run ${task.runId}, not of this run (${runId})`,
        };
      }
      const verdict = isInput(task.bucket, task.key);
      if (!verdict.input) return { action: 'drop', dropped: [{ key: task.key, reason: verdict.reason }] };
      return { action: 'run', task };
    }
    case 's3-event': {
      const tasks: TaskRef[] = [];
      const dropped: Dropped[] = [];
      for (const record of parsed.records) {
        if (!isObjectCreated(record)) {
          dropped.push({ key: record.key, reason: `not a created object (${record.eventName})` });
          continue;
        }
        const verdict = isInput(record.bucket, record.key);
        if (!verdict.input) {
          dropped.push({ key: record.key, reason: verdict.reason });
          continue;
        }
        tasks.push({
          sluice: 1,
          runId,
          bucket: record.bucket,
          key: record.key,
          etag: record.etag,
          size: record.size,
          ...(record.versionId !== undefined && { versionId: record.versionId }),
        });
      }
      if (parsed.invalid.length > 0) {
        const rejected = rejectedRecords(parsed.invalid, parsed.records.length, tasks.length);
        // Each good record's task goes out as a message of its own, so none waits on the bad ones.
        if (tasks.length > 0) return { action: 'fan-out', tasks, dropped, rejected };
        return { action: 'reject', reason: rejected.reason };
      }
      const [only] = tasks;
      if (tasks.length === 1 && only !== undefined) return { action: 'run', task: only };
      if (tasks.length > 1) return { action: 'fan-out', tasks, dropped };
      return { action: 'drop', dropped };
    }
  }
}

function rejectedRecords(
  records: readonly InvalidS3Record[],
  readable: number,
  tasks: number,
): RejectedRecords {
  const others = tasks === 0 ? 'no other record made a task' : `the others made ${tasks} task(s)`;
  return {
    records,
    reason:
      `${records.length} of the ${records.length + readable} records of this S3 event cannot be read and ` +
      `${records.length === 1 ? 'was' : 'were'} set aside (${others}): ` +
      `${records.map((record) => record.reason).join('; ')}. ` +
      "A record S3 sends always has these fields: look for another sender to the run's queue and fix what it writes. " +
      'The object a set-aside record names, if it is an input, is enqueued again by `sluice dispatch`, which lists the input bucket.',
  };
}

/**
 * What to do with one queue message, decided without touching AWS: run a task, fan a multi-record
 * event out into one message per task, drop it (test event, not an input), or set it aside as
 * malformed. Kept pure so every case is a unit test.
 */
import type { InputVerdict } from '../ids/input-selection.js';
import { isObjectCreated, parseQueueMessage } from '../queue/s3-event.js';
import type { TaskMessage } from '../schemas/task-message.js';

/** One input object to process, as a task message describes it (S3 events are normalised to it). */
export type TaskRef = TaskMessage;

/** The decision for one message. */
export type MessageDecision =
  /** One task: run it. `attemptsUsed` is what the message carried (0 for S3 events). */
  | { readonly action: 'run'; readonly task: TaskRef }
  /** Several tasks in one S3 event: send one task message each, then delete this one. */
  | { readonly action: 'fan-out'; readonly tasks: readonly TaskRef[]; readonly dropped: readonly Dropped[] }
  /** Nothing to do: delete it. */
  | { readonly action: 'drop'; readonly dropped: readonly Dropped[] }
  /** Not a message sluice understands: record why, then delete it. */
  | { readonly action: 'reject'; readonly reason: string };

/** A record or message left alone, and why (for the log). */
export interface Dropped {
  readonly key?: string;
  readonly reason: string;
}

/**
 * Decides what to do with a message body.
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
      const [only] = tasks;
      if (tasks.length === 1 && only !== undefined) return { action: 'run', task: only };
      if (tasks.length > 1) return { action: 'fan-out', tasks, dropped };
      return { action: 'drop', dropped };
    }
  }
}

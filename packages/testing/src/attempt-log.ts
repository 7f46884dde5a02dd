// A task and an attempt's log as readers see them: the record merged with the completion marker, and
// a log kept inline in the record when small, else as an object of its own.
import {
  completedRecord,
  completionMarkerKey,
  taskRecordKey,
  validateCompletionMarker,
  validateTaskRecord,
  type ObjectStore,
  type TaskAttempt,
  type TaskRecord,
} from '@sluice/core';

/**
 * The text of an attempt's log, wherever it is kept; `undefined` when the attempt has none.
 *
 * @example
 * expect(await attemptLogText(store, bucket, record.attempts[0])).toContain('[stdout] processing');
 */
export async function attemptLogText(
  store: ObjectStore,
  bucket: string,
  attempt: TaskAttempt | undefined,
): Promise<string | undefined> {
  if (attempt?.log !== undefined) return attempt.log;
  if (attempt?.logKey === undefined) return undefined;
  return (await store.getText({ bucket, key: attempt.logKey }))?.text;
}

/**
 * A task as it stands: its record merged with its completion marker (core's completedRecord), as
 * every reader of the ledger sees it; `undefined` when the task has neither.
 *
 * @example
 * expect((await readTaskState(store, 'out', runId, id))?.status).toBe('succeeded');
 */
export async function readTaskState(
  store: ObjectStore,
  bucket: string,
  runId: string,
  taskId: string,
): Promise<TaskRecord | undefined> {
  const recordKey = taskRecordKey(runId, taskId);
  const markerKey = completionMarkerKey(runId, taskId);
  const [record, marker] = await Promise.all([
    store.getJson({ bucket, key: recordKey }),
    store.getJson({ bucket, key: markerKey }),
  ]);
  return completedRecord(
    record === undefined ? undefined : validateTaskRecord(record.value, recordKey),
    marker === undefined ? undefined : validateCompletionMarker(marker.value, markerKey),
  );
}

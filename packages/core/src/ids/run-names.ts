// The names and tags of everything a run creates, all derived from the run id, so provision-run is
// idempotent and teardown can find exactly what a run made.
import { ledgerPrefix } from './ledger-keys.js';

/** Tag naming the run a resource belongs to; teardown deletes only what carries its run id. */
export const RUN_ID_TAG = 'sluice:run-id';
/** Tag marking a resource as sluice's own. */
export const MANAGED_TAG = 'sluice:managed';
/** Tag on the run's queues naming the output bucket, where `run.json` is: finds a run by id alone. */
export const OUTPUT_BUCKET_TAG = 'sluice:output-bucket';

/**
 * The task queue's name: `sluice-<run-id>-tasks`.
 *
 * @example
 * taskQueueName('thumbs-3f9a0c12'); // 'sluice-thumbs-3f9a0c12-tasks'
 * @throws never.
 */
export function taskQueueName(runId: string): string {
  return `sluice-${runId}-tasks`;
}

/**
 * The dead-letter queue's name: `sluice-<run-id>-tasks-dlq`.
 *
 * @example
 * deadLetterQueueName('thumbs-3f9a0c12'); // 'sluice-thumbs-3f9a0c12-tasks-dlq'
 * @throws never.
 */
export function deadLetterQueueName(runId: string): string {
  return `${taskQueueName(runId)}-dlq`;
}

/**
 * The Id of sluice's entry in the input bucket's notification configuration: `sluice-<run-id>`.
 *
 * @example
 * notificationId('thumbs-3f9a0c12'); // 'sluice-thumbs-3f9a0c12'
 * @throws never.
 */
export function notificationId(runId: string): string {
  return `sluice-${runId}`;
}

/**
 * The tags every resource a run creates carries.
 *
 * @example
 * runTags('thumbs-3f9a0c12'); // { 'sluice:run-id': 'thumbs-3f9a0c12', 'sluice:managed': 'true' }
 * @throws never.
 */
export function runTags(runId: string): Record<string, string> {
  return { [RUN_ID_TAG]: runId, [MANAGED_TAG]: 'true' };
}

/**
 * The key of the run state in the output bucket: `_sluice/<run-id>/run.json`.
 *
 * @example
 * runStateKey('thumbs-3f9a0c12'); // '_sluice/thumbs-3f9a0c12/run.json'
 * @throws {SluiceError} when the run id is malformed.
 */
export function runStateKey(runId: string): string {
  return `${ledgerPrefix(runId)}run.json`;
}

/**
 * The end marker's key, in the **input** bucket: `_sluice/<run-id>/end`. Uploading any object there
 * tells collect-results (`until: 'marker'`) that every input has been uploaded. It is a ledger key,
 * so it is never an input, whatever the prefix and globs, and never fires the run's notification.
 *
 * @example
 * endMarkerKey('thumbs-3f9a0c12'); // '_sluice/thumbs-3f9a0c12/end'
 * @throws {SluiceError} when the run id is malformed.
 */
export function endMarkerKey(runId: string): string {
  return `${ledgerPrefix(runId)}end`;
}

// Reading a task's completion marker from the ledger, for the readers of a run (collect's results,
// sluice status and logs), which have no task ledger of their own.
import { completionMarkerKey } from '../ids/ledger-keys.js';
import { validateCompletionMarker, type CompletionMarker } from '../schemas/records.js';
import type { RunState } from '../schemas/run-state.js';
import type { ObjectStore } from '../storage/object-store.js';

/**
 * A task's completion marker; undefined when it has none, or when it cannot be read or checked (a
 * task with a marker is still counted as done by the marker's presence in the listing).
 *
 * @example
 * const marker = await readCompletionMarker(store, run, taskId); // marker?.attempts, marker?.outputs
 * @throws never.
 */
export async function readCompletionMarker(
  store: ObjectStore,
  run: Pick<RunState, 'runId' | 'output'>,
  id: string,
): Promise<CompletionMarker | undefined> {
  const key = completionMarkerKey(run.runId, id);
  try {
    const found = await store.getJson({ bucket: run.output.bucket, key });
    return found === undefined
      ? undefined
      : validateCompletionMarker(found.value, `s3://${run.output.bucket}/${key}`);
  } catch {
    return undefined;
  }
}

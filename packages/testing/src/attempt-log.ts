// An attempt's log as readers see it: kept inline in the record when small, else its own object.
import type { ObjectStore, TaskAttempt } from '@sluice/core';

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

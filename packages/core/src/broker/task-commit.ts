/**
 * Committing a task's results exactly once: the outputs are already staged (uploaded by the worker
 * under its attempt's staging prefix); a claim in the ledger, copies to the final keys, then the
 * completion marker. Any number of attempts may finish the same task; only the claim holder's copies
 * become the results, and the others discard theirs.
 */
import { setTimeout as sleep } from 'node:timers/promises';

import { withRetries } from '../aws/retry.js';
import { toError } from '../errors.js';
import { outputKey, stagedOutputKey } from '../ids/ledger-keys.js';
import type { JsonLog } from '../logging/json-log.js';
import type { CompletionMarker, TaskOutput } from '../schemas/records.js';
import type { ObjectStore } from '../storage/object-store.js';
import type { ControlSettings } from './control-settings.js';
import type { TaskRef } from './message-decision.js';
import type { TaskLedger } from './task-ledger.js';

/** Time allowed beyond the algorithm's limit for download, upload and commit. */
export const TRANSFER_MARGIN_SECONDS = 15 * 60;

/** How long an attempt that lost the commit claim waits for the holder's completion marker. */
const COMMIT_WAIT_SECONDS = 30;

/** What a commit works with: the run's settings, the output store and the ledger. */
export interface CommitDeps {
  readonly settings: ControlSettings;
  readonly store: ObjectStore;
  readonly ledger: TaskLedger;
}

/** The attempt whose results are committed. */
export interface CommittingAttempt {
  readonly task: TaskRef;
  readonly taskId: string;
  readonly attempt: number;
  readonly workerId: string;
  /** The lease's staging prefix, where its outputs are. */
  readonly staging: string;
  readonly log: JsonLog;
}

/** One output the worker staged: its path under the output directory, and its size. */
export interface StagedOutput {
  readonly relativePath: string;
  readonly size: number;
}

/** How a commit ended: committed here, committed by another attempt first, or held by a live worker. */
export type Commit =
  | { readonly kind: 'committed'; readonly outputs: readonly TaskOutput[] }
  | { readonly kind: 'done'; readonly outputs: readonly TaskOutput[] }
  | { readonly kind: 'held'; readonly by: string };

/**
 * Claims the commit of an attempt's staged results and copies them to their final keys, the
 * completion marker last. An attempt that loses the claim waits briefly for the holder's marker and
 * discards its staged copies.
 *
 * @example
 * const committed = await commitResults(deps, { task, taskId, attempt, workerId, log }, staged);
 * @throws ConfigurationError when a result's key cannot be built; AWS errors once retries are spent
 *   (the claim is released first, so another attempt can commit).
 */
export async function commitResults(
  deps: CommitDeps,
  state: CommittingAttempt,
  outputs: readonly StagedOutput[],
): Promise<Commit> {
  const { settings, store, ledger } = deps;
  const { task, taskId, attempt } = state;
  const bucket = settings.config.output.bucket;
  // Final keys first: a result whose key cannot be built fails before anything is copied.
  const planned = outputs.map((output) => ({
    output,
    staged: stagedOutputKey(state.staging, output.relativePath),
    final: outputKey(settings.config, task.key, output.relativePath),
  }));
  const stagedKeys = planned.map((p) => p.staged);
  const staleMs = (settings.timeoutSeconds + TRANSFER_MARGIN_SECONDS) * 1000;
  let claim = await ledger.claim(taskId, attempt, state.workerId, staleMs);
  for (let waited = 0; claim.kind === 'held' && waited < COMMIT_WAIT_SECONDS; waited += 1) {
    await sleep(1000);
    const marker = await ledger.marker(taskId);
    if (marker !== undefined) claim = { kind: 'done', marker };
  }
  if (claim.kind !== 'won') {
    await discard(store, bucket, stagedKeys, state.log);
    return claim.kind === 'done'
      ? { kind: 'done', outputs: claim.marker.outputs }
      : { kind: 'held', by: claim.by };
  }
  try {
    const committed: TaskOutput[] = [];
    for (const { output, staged, final } of planned) {
      const put = await withRetries(() => store.copy({ bucket, key: staged }, { bucket, key: final }));
      committed.push({ key: final, size: output.size, etag: put.etag });
    }
    const marker: CompletionMarker = {
      schemaVersion: 1,
      runId: settings.config.runId,
      taskId,
      input: {
        bucket: task.bucket,
        key: task.key,
        etag: task.etag,
        ...(task.versionId !== undefined && { versionId: task.versionId }),
      },
      algorithmDigest: settings.algorithmDigest,
      outputs: committed,
      committedAt: new Date().toISOString(),
    };
    // The marker last: its presence means every result above is in place.
    if (!(await ledger.writeMarker(marker))) {
      const existing = await ledger.marker(taskId);
      await discard(store, bucket, stagedKeys, state.log);
      return { kind: 'done', outputs: existing?.outputs ?? committed };
    }
    await discard(store, bucket, stagedKeys, state.log);
    return { kind: 'committed', outputs: committed };
  } catch (thrown) {
    await ledger.releaseClaim(claim.key);
    throw thrown;
  }
}

/** Deletes staged copies; a failure only leaves them to the run's teardown, so it is logged, not thrown. */
export async function discard(
  store: ObjectStore,
  bucket: string,
  keys: readonly string[],
  log: JsonLog,
): Promise<void> {
  if (keys.length === 0) return;
  const result = await store.deleteMany(bucket, keys).catch((thrown: unknown) => {
    log.warning('staging-cleanup-failed', { message: toError(thrown).message });
    return undefined;
  });
  if (result !== undefined && result.failed.length > 0) {
    log.warning('staging-cleanup-failed', { failed: result.failed.length });
  }
}

/**
 * Committing a task's results exactly once. The task's lease holds its record (see TaskLedger:
 * a second message for the task is dropped while another holds it), so one attempt at a time writes
 * under the input's output prefix: the worker uploads each output straight to its final key, and
 * the commit writes the completion marker naming them. An attempt after one that may have left
 * outputs behind (a lost worker, a failed upload) first removes what it did not write itself.
 */
import { withRetries } from '../aws/retry.js';
import { toError } from '../errors.js';
import { outputKeyUnder } from '../ids/ledger-keys.js';
import type { JsonLog } from '../logging/json-log.js';
import { sameAttempt, type CompletionMarker, type TaskAttempt, type TaskOutput } from '../schemas/records.js';
import type { ObjectStore } from '../storage/object-store.js';
import type { ControlSettings } from './control-settings.js';
import type { TaskRef } from './message-decision.js';
import type { TaskLedger } from './task-ledger.js';

/** Time allowed beyond the algorithm's limit for download, upload and commit. */
export const TRANSFER_MARGIN_SECONDS = 15 * 60;

/** The user metadata every output carries: which run and task wrote it (`<run-id>/<task-id>`). */
export const OUTPUT_WRITER_METADATA = 'sluice-task';

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
  /** The input's output prefix, where the worker wrote the outputs. */
  readonly outputPrefix: string;
  /** True when an earlier attempt may have left outputs under the prefix. */
  readonly cleanup: boolean;
  readonly log: JsonLog;
}

/** One output the worker wrote: its path under the output directory, its size and ETag. */
export interface WrittenOutput {
  readonly relativePath: string;
  readonly size: number;
  /** The ETag S3 answered (absent when the upload's answer had none: then it is read back). */
  readonly etag?: string;
}

/** How a commit ended: committed here, or by another attempt first (its outputs are the results). */
export type Commit =
  | { readonly kind: 'committed'; readonly outputs: readonly TaskOutput[] }
  | { readonly kind: 'done'; readonly outputs: readonly TaskOutput[] };

/**
 * Commits the outputs a worker wrote to their final keys: removes an earlier attempt's leftovers
 * when there may be some, then writes the completion marker (conditionally: one marker per task),
 * which carries every attempt, the committing one last: the task record is not rewritten after it.
 *
 * @example
 * const committed = await commitOutputs(deps, { task, taskId, outputPrefix, cleanup, log }, written, attempts);
 * @throws ConfigurationError when a result's key cannot be built; AWS errors once retries are spent.
 */
export async function commitOutputs(
  deps: CommitDeps,
  state: CommittingAttempt,
  outputs: readonly WrittenOutput[],
  attempts: readonly TaskAttempt[],
): Promise<Commit> {
  const { settings, store, ledger } = deps;
  const { task, taskId } = state;
  const bucket = settings.config.output.bucket;
  const committed: TaskOutput[] = [];
  for (const output of outputs) {
    const key = outputKeyUnder(state.outputPrefix, output.relativePath);
    const etag = output.etag ?? (await withRetries(() => store.head({ bucket, key })))?.etag;
    if (etag === undefined) throw new Error(`the output ${key} is not in the bucket`);
    committed.push({ key, size: output.size, etag });
  }
  if (state.cleanup) await removeLeftoverOutputs(deps, state, new Set(committed.map((o) => o.key)));
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
    attempts: [...attempts],
  };
  if (await ledger.writeMarker(marker)) return { kind: 'committed', outputs: committed };
  const existing = await ledger.marker(taskId);
  // A marker PUT whose answer was lost is retried and then finds its own marker: still ours.
  const ours = attempts.at(-1);
  const theirs = existing?.attempts?.at(-1);
  if (ours !== undefined && theirs !== undefined && sameAttempt(ours, theirs))
    return { kind: 'committed', outputs: existing?.outputs ?? committed };
  return { kind: 'done', outputs: existing?.outputs ?? committed };
}

/**
 * Deletes objects under the output prefix that this run's task wrote before (their metadata names
 * it) and this attempt did not: an earlier attempt's partial outputs. Objects another input or
 * another run wrote there are left alone. A failure only leaves them (logged).
 */
export async function removeLeftoverOutputs(
  deps: CommitDeps,
  state: CommittingAttempt,
  keep: ReadonlySet<string>,
): Promise<void> {
  const { store, settings } = deps;
  const bucket = settings.config.output.bucket;
  const writer = `${settings.config.runId}/${state.taskId}`;
  try {
    const leftovers: string[] = [];
    for await (const page of store.list(bucket, state.outputPrefix)) {
      for (const { key } of page) {
        if (keep.has(key)) continue;
        const info = await withRetries(() => store.head({ bucket, key }));
        if (info?.metadata[OUTPUT_WRITER_METADATA] === writer) leftovers.push(key);
      }
    }
    if (leftovers.length === 0) return;
    const deleted = await store.deleteMany(bucket, leftovers);
    state.log.info('earlier-outputs-removed', { removed: leftovers.length - deleted.failed.length });
  } catch (thrown) {
    state.log.warning('earlier-outputs-not-removed', { message: toError(thrown).message });
  }
}

// dispatch-tasks: enqueue the objects already in the input prefix, streamed page by page, skipping
// what is not an input and what a completion marker says is done.
import { silentLogger, type Logger } from '../logging/logger.js';
import { completionMarkerKey, ledgerPrefix } from '../ids/ledger-keys.js';
import { SQS_LIMITS, type SendEntry } from '../queue/task-queue.js';
import { validateCompletionMarker } from '../schemas/records.js';
import type { RunState } from '../schemas/run-state.js';
import { formatTaskMessage } from '../schemas/task-message.js';
import { ConfigurationError, toError } from '../errors.js';
import type { ObjectStore, ObjectSummary } from '../storage/object-store.js';
import { BoundedPool } from './concurrency.js';
import { inputFilter } from '../ids/input-selection.js';
import type { RunDeps } from './lifecycle-deps.js';
import { taskId } from '../ids/task-id.js';
import { openIntake } from './provision.js';

/** Up to this many completion markers are listed into memory; beyond, each input is checked alone. */
export const DONE_SET_LIMIT = 10_000;

/** Counts of a dispatch, as it goes and at the end. */
export interface DispatchProgress {
  /** Objects listed under the input prefix. */
  readonly listed: number;
  /** Task messages sent. */
  readonly enqueued: number;
  /** Inputs whose completion marker says they are done (same ETag, same algorithm digest). */
  readonly skippedDone: number;
  /** Objects that are not inputs: folders, ledger keys, results, keys no `include` glob matches. */
  readonly skippedFiltered: number;
  /** Messages SQS refused after retries. */
  readonly failed: number;
}

/** The outcome of {@link dispatchTasks}. */
export interface DispatchReport extends DispatchProgress {
  /** The first failures (at most 100): key, code and message. */
  readonly failures: readonly { readonly key: string; readonly code: string; readonly message: string }[];
}

/** Options of {@link dispatchTasks}. */
export interface DispatchOptions {
  /** SendMessageBatch calls in flight at once (default {@link DISPATCH_BATCHES_IN_FLIGHT}). */
  readonly concurrency?: number;
  /** Called after each listing page and at the end (also when dispatch stops on an error). */
  readonly onProgress?: (progress: DispatchProgress) => void;
  /** The wrapped image's digest; a marker from another digest does not count as done. */
  readonly algorithmDigest?: string;
  /** Listing page size (default and maximum 1,000). */
  readonly pageSize?: number;
}

/**
 * SendMessageBatch calls dispatch keeps in flight. Each call is a round trip of tens of ms to SQS,
 * so throughput grows with the calls in flight (on moto: 15 messages/s with 4, 20 with 8, 25 with
 * 16 for a plain client); a standard queue takes far more, and memory stays bounded (16 × 10
 * messages).
 */
const DISPATCH_BATCHES_IN_FLIGHT = 16;

const MAX_REPORTED_FAILURES = 100;
const MARKER_CHECKS_IN_FLIGHT = 16;

/**
 * Enqueues a sluice task message for every input already under the run's input prefix. The
 * listing is streamed (1,000-key pages, the next page fetched while the current one is sent) and
 * messages go in batches of 10 with {@link DISPATCH_BATCHES_IN_FLIGHT} batches in flight, so memory
 * stays bounded: at most two pages and the batches in flight are held. Skipped: folder keys, ledger
 * keys, results under the output prefix (same bucket), keys no `include` glob matches, and inputs
 * whose completion marker has the same ETag (the task id includes it) and, when known, the same
 * algorithm digest.
 *
 * A run provisioned with `deferIntake` gets its S3 notification here ({@link openIntake}), before
 * the listing starts: a file uploaded before that moment is in the listing, one uploaded after it
 * fires an event, so none is missed and a first batch uploaded in between is enqueued once.
 *
 * Dispatching twice enqueues unfinished inputs twice: delivery is at least once anyway, and the
 * runner stops at a task whose completion marker exists, so outputs stay exactly once. When a send
 * fails for good (access denied, queue deleted), the batches in flight are let finish, the counts
 * so far are reported (`onProgress`, a warning) and the error is thrown: dispatching again enqueues
 * the rest.
 *
 * @example
 * const report = await dispatchTasks(state, deps, { onProgress: (p) => log(`${p.enqueued} queued`) });
 * @throws {ConfigurationError} when the run has no queue (not provisioned) or a bucket is missing.
 * @throws AwsRequestError for AWS faults.
 */
export async function dispatchTasks(
  run: RunState,
  deps: Pick<RunDeps, 'store' | 'queues' | 'logger' | 'now'>,
  options: DispatchOptions = {},
): Promise<DispatchReport> {
  const logger = deps.logger ?? silentLogger;
  if (run.queue.url === undefined) {
    throw new ConfigurationError(
      `run ${run.runId} has no task queue yet (state ${run.state}); provision it (sluice provision JOB) first.`,
    );
  }
  const queue = deps.queues.taskQueue(run.queue.url);
  const isInput = inputFilter(run);
  const digest = options.algorithmDigest ?? run.algorithm.digest;
  // The notification before the listing: whatever the listing misses fires an event.
  await openIntake(run, deps);
  // The first page is requested now, while the completion markers are listed.
  const pages = prefetched(
    deps.store.list(run.input.bucket, run.input.prefix, { pageSize: options.pageSize ?? 1000 }),
  );
  const done = await doneTaskIds(deps.store, run);
  const counts = { listed: 0, enqueued: 0, skippedDone: 0, skippedFiltered: 0, failed: 0 };
  const failures: { key: string; code: string; message: string }[] = [];
  const pool = new BoundedPool(options.concurrency ?? DISPATCH_BATCHES_IN_FLIGHT);
  let batch: { key: string; entry: SendEntry }[] = [];

  const send = (entries: { key: string; entry: SendEntry }[]): Promise<void> =>
    pool.run(async () => {
      const result = await queue.sendBatch(entries.map((e) => e.entry));
      counts.enqueued += result.sent;
      counts.failed += result.failed.length;
      for (const failure of result.failed) {
        if (failures.length >= MAX_REPORTED_FAILURES) break;
        failures.push({
          key: entries[failure.index]?.key ?? '',
          code: failure.code,
          message: failure.message,
        });
      }
    });

  try {
    for await (const page of pages) {
      counts.listed += page.length;
      const inputs = page.filter((object) => {
        const verdict = isInput(run.input.bucket, object.key);
        if (!verdict.input) counts.skippedFiltered += 1;
        return verdict.input;
      });
      const finished = await finishedInputs(deps.store, run, inputs, done, digest, logger);
      for (const object of inputs) {
        if (finished.has(object.key)) {
          counts.skippedDone += 1;
          continue;
        }
        batch.push({ key: object.key, entry: { body: taskBody(run, object) } });
        if (batch.length === SQS_LIMITS.maxBatchEntries) {
          await send(batch);
          batch = [];
        }
      }
      options.onProgress?.({ ...counts });
    }
    if (batch.length > 0) await send(batch);
    await pool.drain();
  } catch (thrown: unknown) {
    // What was sent stays sent: say how far dispatch got before the error is reported.
    await pool.drain().catch(() => undefined);
    options.onProgress?.({ ...counts });
    logger.warning(
      `run ${run.runId}: dispatch stopped after listing ${counts.listed} and enqueuing ${counts.enqueued} ` +
        `(${toError(thrown).message}); dispatch again to enqueue the rest (finished inputs are skipped)`,
    );
    throw thrown;
  }
  options.onProgress?.({ ...counts });
  logger.info(
    `run ${run.runId}: listed ${counts.listed}, enqueued ${counts.enqueued}, already done ${counts.skippedDone}, ` +
      `not inputs ${counts.skippedFiltered}, failed ${counts.failed}`,
  );
  return { ...counts, failures };
}

/**
 * The pages of `pages`, the first requested at once and each next one while the caller works on
 * the current one, so a listing round trip overlaps other work instead of pausing it. At most two
 * pages are held.
 */
function prefetched<T>(pages: AsyncIterable<T>): AsyncGenerator<T> {
  const iterator = pages[Symbol.asyncIterator]();
  const request = (): Promise<IteratorResult<T>> => {
    const next = iterator.next();
    // A failed request is thrown when it is awaited, not as an unhandled rejection meanwhile.
    next.catch(() => undefined);
    return next;
  };
  let next = request();
  return (async function* pagesAhead(): AsyncGenerator<T> {
    try {
      for (;;) {
        const current = await next;
        if (current.done === true) return;
        next = request();
        yield current.value;
      }
    } finally {
      // Stopped early (an error while sending): close the listing.
      await iterator.return?.();
    }
  })();
}

function taskBody(run: RunState, object: ObjectSummary): string {
  return formatTaskMessage({
    sluice: 1,
    runId: run.runId,
    bucket: run.input.bucket,
    key: object.key,
    etag: object.etag,
    size: object.size,
  });
}

/**
 * The ids of done tasks when there are few enough to hold (a first run has none: no checks at
 * all); `undefined` when there are more, and each input's marker is then read on its own.
 */
async function doneTaskIds(store: ObjectStore, run: RunState): Promise<ReadonlySet<string> | undefined> {
  const prefix = `${ledgerPrefix(run.runId)}done/`;
  const ids = new Set<string>();
  for await (const page of store.list(run.output.bucket, prefix)) {
    for (const object of page) ids.add(object.key.slice(prefix.length).replace(/\.json$/, ''));
    if (ids.size > DONE_SET_LIMIT) return undefined;
  }
  return ids;
}

/** Keys (of `inputs`) whose completion marker matches: same task (hence ETag) and digest. */
async function finishedInputs(
  store: ObjectStore,
  run: RunState,
  inputs: readonly ObjectSummary[],
  done: ReadonlySet<string> | undefined,
  digest: string | undefined,
  logger: Logger,
): Promise<Set<string>> {
  const finished = new Set<string>();
  if (done?.size === 0) return finished;
  const candidates = inputs
    .map((object) => ({
      object,
      id: taskId({ bucket: run.input.bucket, key: object.key, etag: object.etag }),
    }))
    .filter(({ id }) => done === undefined || done.has(id));
  // Without a digest the marker's presence is enough, when its id was listed.
  if (digest === undefined && done !== undefined) {
    for (const { object } of candidates) finished.add(object.key);
    return finished;
  }
  const pool = new BoundedPool(MARKER_CHECKS_IN_FLIGHT);
  for (const { object, id } of candidates) {
    await pool.run(async () => {
      const key = completionMarkerKey(run.runId, id);
      const found = await store.getJson({ bucket: run.output.bucket, key });
      if (found === undefined) return;
      try {
        const marker = validateCompletionMarker(found.value, `s3://${run.output.bucket}/${key}`);
        if (digest === undefined || marker.algorithmDigest === digest) finished.add(object.key);
      } catch (thrown: unknown) {
        // A damaged marker proves nothing: the input is enqueued and the runner decides.
        logger.warning(`ignoring ${key}: ${toError(thrown).message}`);
      }
    });
  }
  await pool.drain();
  return finished;
}

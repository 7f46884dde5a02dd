// teardown: remove exactly what provision-run created for a run, found by its tags and run.json.
import { silentLogger } from '../logging/logger.js';
import type { RunState } from '../schemas/run-state.js';
import { isoTime, type RunDeps } from './lifecycle-deps.js';
import { withoutNotification } from './notifications.js';
import { RUN_ID_TAG, deadLetterQueueName, notificationId, taskQueueName } from '../ids/run-names.js';
import { findRunState, writeRunState } from './run-state.js';

/** Options of {@link teardownRun}. */
export interface TeardownOptions {
  /** Also delete the buckets this run created, with everything in them (default false). */
  readonly deleteData?: boolean;
  /**
   * The run's output bucket, where run.json is; without it the run is found through its task
   * queue's `sluice:output-bucket` tag.
   */
  readonly bucket?: string;
}

/** What {@link teardownRun} did. */
export interface TeardownReport {
  readonly runId: string;
  /** Whether a run.json was found. */
  readonly found: boolean;
  /** What was deleted, e.g. `queue sluice-<run-id>-tasks`, `notification sluice-<run-id> on s3://in`. */
  readonly deleted: readonly string[];
  /** What was left, and why (data kept, not created by this run, tagged for another run). */
  readonly kept: readonly string[];
}

/**
 * Tears a run down: takes sluice's own entry `sluice-<run-id>` out of the input bucket's
 * notification configuration (every other entry stays), deletes the task queue and dead-letter
 * queue (with their policy) when they carry the run's `sluice:run-id` tag, and marks run.json
 * `torn-down`. Buckets and data are kept unless `deleteData`, which deletes — emptied first — only
 * the buckets this run created (run.json says so or their tags name the run). Idempotent, and safe
 * after an interrupted provision: what does not exist is skipped. Local runner containers are the
 * local backend's to stop.
 *
 * @example
 * const { deleted } = await teardownRun('thumbs-3f9a0c12', deps, { bucket: job.output.bucket });
 * @throws ConfigurationError when access is denied; AwsRequestError for faults (tear down again).
 */
export async function teardownRun(
  runId: string,
  deps: RunDeps,
  options: TeardownOptions = {},
): Promise<TeardownReport> {
  const logger = deps.logger ?? silentLogger;
  const now = deps.now ?? Date.now;
  const deleted: string[] = [];
  const kept: string[] = [];
  let state = await findRunState(runId, deps, options);
  if (state !== undefined && state.state !== 'torn-down') {
    state = { ...state, state: 'tearing-down', updatedAt: isoTime(now()) };
    await writeRunState(deps.store, state);
  }

  // The notification first, so S3 stops sending to the queues about to go.
  if (state !== undefined) await removeNotification(state, deps, deleted);

  const urls = new Set<string>();
  for (const name of [taskQueueName(runId), deadLetterQueueName(runId)]) {
    const url = await deps.queues.findQueueUrl(name);
    if (url !== undefined) urls.add(url);
  }
  // Listing catches any other queue named for the run; it lags behind creation, hence the names too.
  for (const url of await deps.queues.listQueueUrls(`sluice-${runId}-`)) urls.add(url);
  for (const url of urls) {
    const name = url.slice(url.lastIndexOf('/') + 1);
    const tags = await deps.queues.queueTags(url).catch(() => undefined);
    if (tags === undefined) continue;
    if (tags[RUN_ID_TAG] !== runId) {
      kept.push(`queue ${name} (not tagged ${RUN_ID_TAG}=${runId})`);
      continue;
    }
    if (await deps.queues.deleteQueue(url)) deleted.push(`queue ${name}`);
  }

  const buckets = await bucketsToDelete(runId, state, deps, options);
  if (state !== undefined && state.state !== 'torn-down' && !buckets.includes(state.output.bucket)) {
    state = { ...state, state: 'torn-down', updatedAt: isoTime(now()), tornDownAt: isoTime(now()) };
    await writeRunState(deps.store, state);
  }
  if (options.deleteData === true) {
    for (const bucket of buckets) {
      const result = await deps.buckets.deleteBucket(bucket);
      if (result !== undefined) deleted.push(`bucket s3://${bucket} (${result.objectsDeleted} objects)`);
    }
  }
  if (state !== undefined) {
    for (const bucket of new Set([state.input.bucket, state.output.bucket])) {
      if (options.deleteData !== true) kept.push(`bucket s3://${bucket} (data kept)`);
      else if (!buckets.includes(bucket)) kept.push(`bucket s3://${bucket} (not created by this run)`);
    }
  }
  logger.info(
    deleted.length > 0
      ? `run ${runId}: deleted ${deleted.join(', ')}`
      : `run ${runId}: nothing left to delete`,
  );
  return { runId, found: state !== undefined, deleted, kept };
}

async function removeNotification(state: RunState, deps: RunDeps, deleted: string[]): Promise<void> {
  const bucket = state.notification.bucket;
  if (!(await deps.store.bucketExists(bucket))) return;
  const id = notificationId(state.runId);
  const { notifications, removed } = withoutNotification(await deps.store.getQueueNotifications(bucket), id);
  if (!removed) return;
  await deps.store.putQueueNotifications(bucket, notifications);
  deleted.push(`notification ${id} on s3://${bucket}`);
}

/** The buckets `deleteData` may delete: created by this run, by run.json or by their tags. */
async function bucketsToDelete(
  runId: string,
  state: RunState | undefined,
  deps: RunDeps,
  options: TeardownOptions,
): Promise<string[]> {
  if (options.deleteData !== true) return [];
  const candidates = new Set<string>();
  if (state !== undefined) {
    candidates.add(state.buckets.input.name);
    candidates.add(state.buckets.output.name);
  }
  if (options.bucket !== undefined) candidates.add(options.bucket);
  const result: string[] = [];
  for (const bucket of candidates) {
    const tags = await deps.buckets.getBucketTags(bucket);
    if (tags === undefined) continue;
    // Only a bucket whose own tags name this run is deleted: a bucket the run merely used is data
    // that was there before, whatever run.json says.
    if (tags[RUN_ID_TAG] === runId) result.push(bucket);
  }
  // The input bucket before the output bucket, whose run.json goes last.
  return result.sort((a, b) => Number(a === state?.output.bucket) - Number(b === state?.output.bucket));
}

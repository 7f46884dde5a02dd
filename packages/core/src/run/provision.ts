// provision-run: create or reuse, idempotently, everything a run needs on S3 and SQS, tagged with
// the run id, recording progress in run.json as it goes so an interrupted provision can be resumed
// (provision again) or torn down.
import { ConfigurationError, jobProblem, toError } from '../errors.js';
import { silentLogger } from '../logging/logger.js';
import type { Job } from '../schemas/job.js';
import type { RunBucket, RunState } from '../schemas/run-state.js';
import { isoTime, type RunDeps } from './lifecycle-deps.js';
import { RUN_NOTIFICATION_EVENTS, mergeNotification, notificationSuffix } from './notifications.js';
import { s3SendPolicy } from './queue-policy.js';
import { runId as makeRunId } from '../ids/run-id.js';
import {
  OUTPUT_BUCKET_TAG,
  RUN_ID_TAG,
  deadLetterQueueName,
  endMarkerKey,
  notificationId,
  runTags,
  taskQueueName,
} from '../ids/run-names.js';
import { algorithmText, readRunState, storedJob, writeRunState } from './run-state.js';

/** The task queue's visibility timeout: short, so a dead worker's task returns within a minute. */
export const TASK_VISIBILITY_TIMEOUT_SECONDS = 60;
/** How long the task queue keeps a message: 14 days, SQS's longest, so slow runs lose nothing. */
export const TASK_RETENTION_SECONDS = 1_209_600;

/** Options of {@link provisionRun}. */
export interface ProvisionOptions {
  /** Overrides `job.compute.backend` (the action input / CLI flag). */
  readonly backend?: 'local' | 'ecs';
  /** The wrapped image, when the catalogue knows it. */
  readonly algorithm?: { readonly image?: string; readonly digest?: string };
  /** Variables the manifest marks `secret`: their literal values are never written to run.json. */
  readonly secretVariables?: readonly string[];
  /**
   * Leave the S3 notification out for now: the caller uploads a first batch of files, then
   * dispatches, and dispatch installs it ({@link openIntake}) before it lists. Every file of the
   * batch is then enqueued once (by the listing), not twice (by its event too). A run whose
   * notification is on the bucket already (provisioned before and not torn down) keeps it.
   */
  readonly deferIntake?: boolean;
}

/** What {@link provisionRun} made. */
export interface ProvisionResult {
  readonly runId: string;
  readonly queueUrl: string;
  readonly deadLetterQueueUrl: string;
  /** `s3://<input bucket>/<input prefix>`: where the user uploads. */
  readonly uploadTo: string;
  /** `s3://<input bucket>/_sluice/<run-id>/end`: upload anything there when all input is in. */
  readonly endMarker: string;
  /** The run state as written. */
  readonly state: RunState;
  /** What this call created (empty on a repeat). */
  readonly created: readonly string[];
  /** Things the user should know (e.g. outputs inside the input prefix). */
  readonly warnings: readonly string[];
}

/**
 * Refuses a job whose results could become its own inputs, and warns about one that is safe only
 * because the reader drops keys. With input and output in one bucket:
 * - ledger keys (`_sluice/`) are never inputs;
 * - the input prefix inside (or equal to) the output prefix is refused: a result key
 *   `<output prefix><relative input key>/…` can then fall under the input prefix again;
 * - the output prefix inside the input prefix is allowed with a warning: the notification fires
 *   for every result, and the reader (`inputFilter`, used by dispatch and the runner) drops them.
 *
 * @example
 * const warnings = checkNoLoop(job); // [] for different buckets
 * @throws {ValidationError} at `$.output.prefix` when results could loop back as inputs.
 */
export function checkNoLoop(job: Pick<Job, 'input' | 'output'>): string[] {
  const { input, output } = job;
  if (input.bucket !== output.bucket) return [];
  if (input.prefix.startsWith(output.prefix)) {
    throw jobProblem(
      '$.output.prefix',
      `with input and output in the same bucket (${input.bucket}), the output prefix "${output.prefix}" ` +
        `holds the input prefix "${input.prefix}", so results could become inputs again`,
      'Give them prefixes apart, e.g. "input": {"prefix": "in/"} and "output": {"prefix": "out/"}, or use another output bucket.',
    );
  }
  if (output.prefix.startsWith(input.prefix)) {
    return [
      `results go under "${output.prefix}", inside the input prefix "${input.prefix}" of the same bucket: every result ` +
        'fires an S3 event that the runner drops (they are never inputs), at the cost of one queue message each. ' +
        'Use prefixes apart (e.g. in/ and out/) to avoid this.',
    ];
  }
  return [];
}

/**
 * Provisions a run: the input bucket (created only with `input.create`), the output bucket (created
 * when missing), the task queue `sluice-<run-id>-tasks` and its dead-letter queue (after
 * `retries + 1` receives), a queue policy letting only the input bucket's S3 events in, and the S3
 * notification `sluice-<run-id>` for the input prefix merged into the bucket's configuration. All
 * created resources are tagged `sluice:run-id` and `sluice:managed`. Idempotent: a second call
 * finds everything and changes nothing; an interrupted call is completed by calling again.
 *
 * @example
 * const { runId, queueUrl, uploadTo } = await provisionRun(job, deps, { backend: 'local' });
 * @throws {ConfigurationError} when the input bucket is missing without `create`, a bucket belongs
 *   to someone else, results could loop back as inputs, or another notification overlaps.
 * @throws AwsRequestError for AWS faults (provision again to resume).
 */
/**
 * Receives before SQS moves a task to the dead-letter queue: one more than the attempts the job
 * allows, so the runner itself sees a task whose last worker was lost and writes its final record
 * ("worker lost") before moving it; SQS's own move is the safety net behind that.
 */
function maxReceiveCountFor(job: Job): number {
  return job.retries + 2;
}

export async function provisionRun(
  job: Job,
  deps: RunDeps,
  options: ProvisionOptions = {},
): Promise<ProvisionResult> {
  const logger = deps.logger ?? silentLogger;
  const now = deps.now ?? Date.now;
  const id = makeRunId(job);
  const tags = runTags(id);
  const warnings = checkNoLoop(job);
  for (const warning of warnings) logger.warning(warning);
  const created: string[] = [];

  // Checked before anything is created, so a wrong input bucket leaves nothing behind.
  const sameBucket = job.input.bucket === job.output.bucket;
  const inputExists = await deps.store.bucketExists(job.input.bucket);
  if (!inputExists && !job.input.create) {
    throw jobProblem(
      '$.input.bucket',
      `the input bucket "${job.input.bucket}" does not exist, or these credentials cannot use it`,
      'Fix the name, create the bucket, or set "create": true under "input" to have sluice create it.',
    );
  }

  // The output bucket first: run.json lives there.
  const previous = await readRunState(deps.store, job.output.bucket, id).catch((thrown: unknown) => {
    // A damaged run.json is rewritten; the tags still tell what this run created.
    logger.warning(`run ${id}: ignoring an unreadable run.json: ${toError(thrown).message}`);
    return undefined;
  });
  const output = await ensureRunBucket(job.output.bucket, previous?.buckets.output, deps, tags, created);
  const input = sameBucket
    ? output
    : inputExists
      ? await reusedBucket(job.input.bucket, previous?.buckets.input, deps, id)
      : undefined;

  const suffix = notificationSuffix(job.input.include);
  const timestamp = isoTime(now());
  let state = provisioningState(job, { id, previous, input, output, suffix, timestamp }, options);
  // Written before the rest is made: an interrupted provision leaves a state teardown can follow.
  await writeRunState(deps.store, state);

  if (input === undefined) {
    const ensured = await deps.store.ensureBucket(job.input.bucket, { tags });
    if (ensured.created) created.push(`bucket s3://${job.input.bucket}`);
    state = { ...state, buckets: { ...state.buckets, input: { name: job.input.bucket, created: true } } };
    await writeRunState(deps.store, state);
  }

  logger.info(
    `run ${id}: task queue ${state.queue.name} with dead-letter queue ${state.deadLetterQueue.name}`,
  );
  const queues = await ensureRunQueues(job, state, deps, tags, created);
  state = queues.state;
  await writeRunState(deps.store, state);

  // A deferred notification is installed by dispatch, before its listing (openIntake). One already
  // on the bucket (a live run provisioned again) stays; run.json's word is not enough, since a
  // torn-down run's state still says installed.
  const deferred =
    options.deferIntake === true && !(await notificationInPlace(job.input.bucket, state, deps));
  if (!deferred) await ensureRunNotification(state, queues.arn, deps, created);

  state = {
    ...state,
    state: 'provisioned',
    updatedAt: isoTime(now()),
    notification: { ...state.notification, installed: !deferred },
  };
  await writeRunState(deps.store, state);
  const uploadTo = `s3://${job.input.bucket}/${job.input.prefix}`;
  logger.info(`run ${id} is ready: upload inputs to ${uploadTo}`);
  return {
    runId: id,
    queueUrl: queues.url,
    deadLetterQueueUrl: queues.deadLetterUrl,
    uploadTo,
    endMarker: `s3://${job.input.bucket}/${endMarkerKey(id)}`,
    state,
    created,
    warnings,
  };
}

/**
 * The run state before anything but the output bucket exists: names, settings, and what an earlier
 * provision of the run made.
 */
function provisioningState(
  job: Job,
  made: {
    readonly id: string;
    readonly previous: RunState | undefined;
    readonly input: RunBucket | undefined;
    readonly output: RunBucket;
    readonly suffix: string | undefined;
    readonly timestamp: string;
  },
  options: ProvisionOptions,
): RunState {
  const { id, previous, input, output, suffix, timestamp } = made;
  return {
    schemaVersion: 1,
    runId: id,
    jobName: job.name,
    state: 'provisioning',
    createdAt: previous?.createdAt ?? timestamp,
    updatedAt: timestamp,
    job: storedJob(job, options.secretVariables),
    algorithm: {
      ref: algorithmText(job),
      ...pick(options.algorithm?.image ?? previous?.algorithm.image, (image) => ({ image })),
      ...pick(options.algorithm?.digest ?? previous?.algorithm.digest, (digest) => ({ digest })),
    },
    backend: options.backend ?? job.compute.backend,
    keep: job.keep,
    input: { bucket: job.input.bucket, prefix: job.input.prefix, include: [...job.input.include] },
    output: { ...job.output },
    buckets: {
      input: input ?? { name: job.input.bucket, created: false },
      output,
    },
    queue: {
      name: taskQueueName(id),
      created: previous?.queue.created ?? false,
      visibilityTimeoutSeconds: TASK_VISIBILITY_TIMEOUT_SECONDS,
      maxReceiveCount: maxReceiveCountFor(job),
    },
    deadLetterQueue: { name: deadLetterQueueName(id), created: previous?.deadLetterQueue.created ?? false },
    notification: {
      id: notificationId(id),
      bucket: job.input.bucket,
      prefix: job.input.prefix,
      ...(suffix !== undefined && { suffix }),
      installed: previous?.notification.installed ?? false,
    },
  };
}

/**
 * The task queue and its dead-letter queue, claimed for the run (tagged) and open to the input
 * bucket's notifications; returns the state with their URLs and ARNs.
 */
async function ensureRunQueues(
  job: Job,
  state: RunState,
  deps: RunDeps,
  tags: Record<string, string>,
  created: string[],
): Promise<{ state: RunState; url: string; arn: string; deadLetterUrl: string }> {
  const queueTags = { ...tags, [OUTPUT_BUCKET_TAG]: job.output.bucket };
  const ensured = await deps.queues.ensureQueue(state.queue.name, {
    visibilityTimeoutSeconds: TASK_VISIBILITY_TIMEOUT_SECONDS,
    retentionSeconds: TASK_RETENTION_SECONDS,
    deadLetter: { maxReceiveCount: maxReceiveCountFor(job), name: state.deadLetterQueue.name },
    tags: queueTags,
  });
  const deadLetter = ensured.deadLetter;
  if (deadLetter === undefined)
    throw new ConfigurationError(`SQS made no dead-letter queue for ${state.queue.name}`);
  const queueOwned = await claimQueue(ensured.url, state.runId, queueTags, deps);
  const deadLetterOwned = await claimQueue(deadLetter.url, state.runId, queueTags, deps);
  if (ensured.created) created.push(`queue ${state.queue.name}`, `queue ${state.deadLetterQueue.name}`);
  // The policy needs the queue's ARN, known only once the queue exists.
  await deps.queues.setQueueAttributes(ensured.url, { Policy: s3SendPolicy(ensured.arn, job.input.bucket) });
  const next: RunState = {
    ...state,
    queue: { ...state.queue, url: ensured.url, arn: ensured.arn, created: state.queue.created || queueOwned },
    deadLetterQueue: {
      ...state.deadLetterQueue,
      url: deadLetter.url,
      arn: deadLetter.arn,
      created: state.deadLetterQueue.created || deadLetterOwned,
    },
  };
  return { state: next, url: ensured.url, arn: ensured.arn, deadLetterUrl: deadLetter.url };
}

/**
 * Installs a provisioned run's S3 notification when provisioning left it out (`deferIntake`), and
 * records it in run.json; from then on every file uploaded to the input prefix fires an event.
 * Dispatch calls it before it lists, so a file is either in the listing or fires an event: none
 * is missed. Does nothing when the notification is installed or the run is not provisioned.
 *
 * @example
 * const state = await openIntake(await openRun(runId, deps), deps);
 * @throws {ConfigurationError} when another notification of the bucket overlaps, or access is denied.
 * @throws AwsRequestError for AWS faults.
 */
export async function openIntake(
  state: RunState,
  deps: Pick<RunDeps, 'store' | 'logger' | 'now'>,
): Promise<RunState> {
  if (state.notification.installed || state.state !== 'provisioned') return state;
  if (state.queue.arn === undefined) {
    throw new ConfigurationError(
      `run ${state.runId} has no task queue ARN in run.json; provision it again (sluice provision JOB).`,
    );
  }
  await ensureRunNotification(state, state.queue.arn, deps, []);
  const next: RunState = {
    ...state,
    updatedAt: isoTime((deps.now ?? Date.now)()),
    notification: { ...state.notification, installed: true },
  };
  await writeRunState(deps.store, next);
  (deps.logger ?? silentLogger).info(
    `run ${state.runId}: notification ${state.notification.id} installed: files uploaded to ` +
      `s3://${state.notification.bucket}/${state.notification.prefix} from now on are enqueued as they arrive`,
  );
  return next;
}

/** Whether the bucket has the run's notification entry now. */
async function notificationInPlace(
  bucket: string,
  state: RunState,
  deps: Pick<RunDeps, 'store'>,
): Promise<boolean> {
  const current = await deps.store.getQueueNotifications(bucket);
  return current.queues.some((entry) => entry.id === state.notification.id);
}

/**
 * The input bucket's notification to the task queue, merged with the bucket's others, and put only
 * when it differs from what is there.
 */
async function ensureRunNotification(
  state: RunState,
  queueArn: string,
  deps: Pick<RunDeps, 'store'>,
  created: string[],
): Promise<void> {
  const { id, bucket, prefix, suffix } = state.notification;
  const current = await deps.store.getQueueNotifications(bucket);
  const merged = mergeNotification(
    current,
    {
      id,
      queueArn,
      events: RUN_NOTIFICATION_EVENTS,
      ...(prefix !== '' && { prefix }),
      ...(suffix !== undefined && { suffix }),
    },
    bucket,
  );
  const existing = current.queues.find((entry) => entry.id === id);
  if (existing === undefined || !sameNotification(existing, merged.queues.at(-1))) {
    await deps.store.putQueueNotifications(bucket, merged);
    if (existing === undefined) created.push(`notification ${id} on s3://${bucket}`);
  }
}

/** Creates the bucket when missing; `created` also when an earlier provision of this run made it. */
async function ensureRunBucket(
  bucket: string,
  previous: RunBucket | undefined,
  deps: RunDeps,
  tags: Record<string, string>,
  created: string[],
): Promise<RunBucket> {
  const ensured = await deps.store.ensureBucket(bucket, { tags });
  if (ensured.created) {
    created.push(`bucket s3://${bucket}`);
    return { name: bucket, created: true };
  }
  return reusedBucket(bucket, previous, deps, tags[RUN_ID_TAG] ?? '');
}

/**
 * An existing bucket: created by this run when run.json says so or its tags name this run (a
 * provision interrupted before run.json was written).
 */
async function reusedBucket(
  bucket: string,
  previous: RunBucket | undefined,
  deps: RunDeps,
  runId: string,
): Promise<RunBucket> {
  if (previous?.created === true) return { name: bucket, created: true };
  const tags = await deps.buckets.getBucketTags(bucket);
  return { name: bucket, created: tags?.[RUN_ID_TAG] === runId };
}

/**
 * Tags a queue as the run's when it is the run's or nobody's; `true` when it is the run's. A queue
 * of the same name tagged for another run is left alone (teardown will not delete it either).
 */
async function claimQueue(
  url: string,
  runId: string,
  tags: Record<string, string>,
  deps: RunDeps,
): Promise<boolean> {
  const current = await deps.queues.queueTags(url);
  const owner = current[RUN_ID_TAG];
  if (owner !== undefined && owner !== runId) return false;
  if (owner === undefined || current[OUTPUT_BUCKET_TAG] !== tags[OUTPUT_BUCKET_TAG]) {
    await deps.queues.tagQueue(url, tags);
  }
  return true;
}

function sameNotification(
  a: { queueArn: string; events: readonly string[]; prefix?: string; suffix?: string },
  b: { queueArn: string; events: readonly string[]; prefix?: string; suffix?: string } | undefined,
): boolean {
  return (
    b !== undefined &&
    a.queueArn === b.queueArn &&
    a.events.join() === b.events.join() &&
    (a.prefix ?? '') === (b.prefix ?? '') &&
    (a.suffix ?? '') === (b.suffix ?? '')
  );
}

function pick<T, R>(value: T | undefined, make: (value: T) => R): R | Record<string, never> {
  return value === undefined ? {} : make(value);
}

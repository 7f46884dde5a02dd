// The run lifecycle (provision, dispatch, collect, teardown) against the test bed's moto server,
// with the S3 and SQS adapters. Records and markers are written here, standing in for runners.
import { PutObjectCommand } from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import {
  collectResults,
  completionMarkerKey,
  ConfigurationError,
  dispatchTasks,
  openRun,
  parseJob,
  provisionRun,
  readRunState,
  resultsKey,
  runId,
  S3BucketAdmin,
  S3ObjectStore,
  SqsRunQueues,
  taskId,
  taskRecordKey,
  teardownRun,
  type CompletionMarker,
  type Job,
  type RunDeps,
  type RunState,
  type TaskRecord,
} from '@sluice/core';
import { TestAwsAccount } from '@sluice/testing';

const DIGEST = `sha256:${'c'.repeat(64)}`;

let aws: TestAwsAccount;
let deps: RunDeps;
let input: string;
let output: string;

beforeAll(async () => {
  aws = new TestAwsAccount({ label: 'lifecycle' });
  const store = new S3ObjectStore(aws.s3);
  deps = { store, queues: new SqsRunQueues(aws.sqs, { backoffMs: 50 }), buckets: new S3BucketAdmin(aws.s3) };
  input = await aws.createBucket('in');
  output = aws.bucketName('out');
  aws.trackBucket(output);
});

afterAll(() => aws.cleanup(), 120_000);

function makeJob(name: string, overrides: Record<string, unknown> = {}): Job {
  return parseJob(
    JSON.stringify({
      name,
      algorithm: 'thumbnails@1.0.0',
      input: { bucket: input, prefix: `${name}/`, include: ['**/*.jpg'] },
      output: { bucket: output, prefix: `results-${name}/` },
      retries: 1,
      ...overrides,
    }),
    'job.json',
  );
}

async function provision(job: Job) {
  const result = await provisionRun(job, deps, { algorithm: { digest: DIGEST } });
  aws.trackQueue(result.queueUrl);
  aws.trackQueue(result.deadLetterQueueUrl);
  // Setting the notification makes S3 send an s3:TestEvent to the queue; a runner would drop it.
  const queue = deps.queues.taskQueue(result.queueUrl);
  for (const message of await queue.receive({ maxMessages: 10, waitSeconds: 0 })) {
    if (message.body.includes('s3:TestEvent')) await queue.delete(message.receiptHandle);
    else await queue.changeVisibility(message.receiptHandle, 0);
  }
  return result;
}

async function upload(keys: readonly string[]): Promise<Map<string, string>> {
  const etags = new Map<string, string>();
  for (let start = 0; start < keys.length; start += 25) {
    await Promise.all(
      keys.slice(start, start + 25).map(async (key) => {
        const put = await deps.store.put({ bucket: input, key }, `body of ${key}`);
        etags.set(key, put.etag);
      }),
    );
  }
  return etags;
}

/** What a runner leaves: the record, and for a success the completion marker. */
async function finish(
  state: RunState,
  key: string,
  etag: string,
  status: 'succeeded' | 'failed',
): Promise<void> {
  const id = taskId({ bucket: input, key, etag });
  const record: TaskRecord = {
    schemaVersion: 1,
    runId: state.runId,
    taskId: id,
    input: { bucket: input, key, etag },
    status,
    algorithmDigest: DIGEST,
    attempts: [
      {
        attempt: 1,
        workerId: 'test-runner',
        startedAt: '2025-01-01T00:00:00.000Z',
        endedAt: '2025-01-01T00:00:01.000Z',
        phases: { downloadMs: 5, runMs: 900, uploadMs: 5 },
        ...(status === 'failed' && {
          failureClass: 'algorithm-exit' as const,
          exitCode: 1,
          message: 'exit 1',
        }),
      },
    ],
    outputs:
      status === 'succeeded' ? [{ key: `${state.output.prefix}${key}/out.txt`, size: 1, etag: 'e' }] : [],
    updatedAt: '2025-01-01T00:00:01.000Z',
  };
  await deps.store.putJson({ bucket: output, key: taskRecordKey(state.runId, id) }, record);
  if (status !== 'succeeded') return;
  const marker: CompletionMarker = {
    schemaVersion: 1,
    runId: state.runId,
    taskId: id,
    input: { bucket: input, key, etag },
    algorithmDigest: DIGEST,
    outputs: record.outputs,
    committedAt: '2025-01-01T00:00:01.000Z',
  };
  await deps.store.putJson({ bucket: output, key: completionMarkerKey(state.runId, id) }, marker);
}

describe('provision and teardown on moto', () => {
  it('provisions twice to the same state, merges with an unrelated notification, and tears down only its own', async () => {
    const other = await aws.createQueue('unrelated');
    await deps.store.putQueueNotifications(input, {
      queues: [{ id: 'unrelated', queueArn: other.arn, events: ['s3:ObjectRemoved:*'] }],
    });
    const job = makeJob('twice');

    const first = await provision(job);
    const second = await provision(job);

    const { updatedAt: _a, ...firstState } = first.state;
    const { updatedAt: _b, ...secondState } = second.state;
    expect(secondState).toEqual(firstState);
    expect(second.created).toEqual([]);
    expect(first.created).toEqual(
      expect.arrayContaining([`bucket s3://${output}`, `queue sluice-${first.runId}-tasks`]),
    );
    const queues = await deps.queues.listQueueUrls(`sluice-${first.runId}-`);
    expect(queues).toHaveLength(2);
    for (const url of queues) {
      expect(await deps.queues.queueTags(url)).toMatchObject({
        'sluice:run-id': first.runId,
        'sluice:managed': 'true',
      });
    }
    const notifications = (await deps.store.getQueueNotifications(input)).queues;
    expect(notifications.map((n) => n.id).sort()).toEqual([`sluice-${first.runId}`, 'unrelated']);
    expect(notifications.find((n) => n.id === `sluice-${first.runId}`)).toMatchObject({
      queueArn: first.state.queue.arn,
      prefix: 'twice/',
      suffix: '.jpg',
    });

    const down = await teardownRun(first.runId, deps);
    expect(down.deleted).toEqual([
      `notification sluice-${first.runId} on s3://${input}`,
      `queue sluice-${first.runId}-tasks`,
      `queue sluice-${first.runId}-tasks-dlq`,
    ]);
    expect(await deps.queues.listQueueUrls(`sluice-${first.runId}`)).toEqual([]);
    expect(await deps.queues.findQueueUrl(`sluice-${first.runId}-tasks`)).toBeUndefined();
    expect((await deps.store.getQueueNotifications(input)).queues).toEqual([
      expect.objectContaining({ id: 'unrelated', queueArn: other.arn }),
    ]);
    expect((await readRunState(deps.store, output, first.runId))?.state).toBe('torn-down');
    expect(await deps.store.bucketExists(output)).toBe(true);

    const again = await teardownRun(first.runId, deps, { bucket: output });
    expect(again.deleted).toEqual([]);
    await expect(openRun(first.runId, deps, { bucket: output })).rejects.toThrow(/torn down/);
  });

  it('deletes with deleteData only the buckets the run created', async () => {
    const created = aws.bucketName('made');
    aws.trackBucket(created);
    const job = makeJob('made', {
      input: { bucket: created, prefix: 'in/', create: true },
      output: { bucket: created, prefix: 'out/' },
    });
    const { runId: id } = await provision(job);
    await deps.store.put({ bucket: created, key: 'in/a.jpg' }, 'a');

    const down = await teardownRun(id, deps, { deleteData: true });

    expect(down.deleted).toEqual(
      expect.arrayContaining([`queue sluice-${id}-tasks`, expect.stringMatching(`^bucket s3://${created} `)]),
    );
    expect(await deps.store.bucketExists(created)).toBe(false);
    expect(await deps.store.bucketExists(input)).toBe(true);
    expect((await teardownRun(id, deps, { deleteData: true, bucket: created })).deleted).toEqual([]);
  });

  it('explains a missing input bucket and an unknown run', async () => {
    const missing = aws.bucketName('missing');
    const job = makeJob('missing', { input: { bucket: missing } });
    await expect(provisionRun(job, deps)).rejects.toThrow(ConfigurationError);
    await expect(provisionRun(job, deps)).rejects.toThrow(
      new RegExp(`\\$\\.input\\.bucket: the input bucket "${missing}" does not exist.*"create": true`),
    );
    expect(await deps.queues.findQueueUrl(`sluice-${runId(job)}-tasks`)).toBeUndefined();
    await expect(openRun('nothing-0123abcd', deps)).rejects.toThrow(/run nothing-0123abcd was not found/);
    await expect(openRun('nothing-0123abcd', deps, { bucket: aws.bucketName('nowhere') })).rejects.toThrow(
      /not found/,
    );
  });
});

describe('dispatch on moto', () => {
  // moto's SQS slows down as a queue fills (and shares two cores), so 500 of the 2,500 objects are
  // inputs: the listing still streams three pages, and the enqueueing path is the same.
  it('streams 2,500 objects in pages, skipping done inputs and non-inputs', async () => {
    // Uploaded before provisioning, as files already in the bucket (later uploads fire events).
    const keys = Array.from(
      { length: 2500 },
      (_, i) => `many/${String(i).padStart(4, '0')}.${i % 5 === 0 ? 'jpg' : 'png'}`,
    );
    const etags = await upload(keys);
    await aws.s3.send(new PutObjectCommand({ Bucket: input, Key: 'many/sub/', Body: new Uint8Array(0) }));
    const { state } = await provision(makeJob('many'));
    const inputs = keys.filter((key) => key.endsWith('.jpg'));
    for (const key of inputs.slice(0, 5)) await finish(state, key, etags.get(key) ?? '', 'succeeded');
    const progress: number[] = [];

    const report = await dispatchTasks(state, deps, { onProgress: (p) => progress.push(p.listed) });

    expect(report).toMatchObject({
      listed: 2501,
      enqueued: 495,
      skippedDone: 5,
      skippedFiltered: 2001,
      failed: 0,
    });
    expect(progress.slice(0, 3)).toEqual([1000, 2000, 2501]);
    const counts = await deps.queues.taskQueue(state.queue.url ?? '').counts();
    expect(counts.visible + counts.inFlight).toBe(495);
    const [first] = await deps.queues.taskQueue(state.queue.url ?? '').receive({ waitSeconds: 0 });
    expect(JSON.parse(first?.body ?? '{}')).toMatchObject({ sluice: 1, runId: state.runId, bucket: input });
    await teardownRun(state.runId, deps);
    // Emptied here: the account's cleanup pages through object versions, slowly on moto.
    expect((await deps.store.deleteMany(input, [...keys, 'many/sub/'])).failed).toEqual([]);
  }, 300_000);
});

describe('collect on moto', () => {
  it('until count: waits for the records written by "runners" and writes results.json', async () => {
    const etags = await upload(['count/a.jpg', 'count/b.jpg', 'count/c.jpg']);
    const { state } = await provision(makeJob('count'));
    await finish(state, 'count/a.jpg', etags.get('count/a.jpg') ?? '', 'succeeded');
    let polls = 0;
    const report = await collectResults(
      state,
      { until: { until: 'count', expected: 3 }, pollSeconds: 0.2, timeoutSeconds: 60 },
      {
        ...deps,
        sleep: async (ms) => {
          await new Promise((resolve) => setTimeout(resolve, ms));
          polls += 1;
          if (polls === 2) {
            await finish(state, 'count/b.jpg', etags.get('count/b.jpg') ?? '', 'succeeded');
            await finish(state, 'count/c.jpg', etags.get('count/c.jpg') ?? '', 'failed');
          }
        },
      },
    );
    expect(report).toMatchObject({ complete: true, counts: { inputs: 3, succeeded: 2, failed: 1 } });
    const results = await deps.store.getJson({ bucket: output, key: resultsKey(state.runId) });
    expect(results?.value).toMatchObject({
      counts: { succeeded: 2, failed: 1 },
      tasks: [
        { key: 'count/a.jpg', status: 'succeeded' },
        { key: 'count/b.jpg', status: 'succeeded' },
        { key: 'count/c.jpg', status: 'failed', failureClass: 'algorithm-exit' },
      ],
    });
    await teardownRun(state.runId, deps);
  }, 60_000);

  it('until idle: complete once nothing has changed for idleSeconds', async () => {
    const etags = await upload(['idle/a.jpg']);
    const { state } = await provision(makeJob('idle'));
    await finish(state, 'idle/a.jpg', etags.get('idle/a.jpg') ?? '', 'succeeded');
    const started = Date.now();
    const report = await collectResults(
      state,
      { until: { until: 'idle', idleSeconds: 1 }, pollSeconds: 0.2 },
      deps,
    );
    expect(report).toMatchObject({ complete: true, counts: { succeeded: 1 } });
    expect(Date.now() - started).toBeGreaterThanOrEqual(1000);
    await teardownRun(state.runId, deps);
  }, 60_000);

  it('retryFailed moves dead-letter messages back to the task queue and waits for them again', async () => {
    const etags = await upload(['retry/a.jpg']);
    const { state } = await provision(makeJob('retry'));
    const etag = etags.get('retry/a.jpg') ?? '';
    await finish(state, 'retry/a.jpg', etag, 'failed');
    const deadLetter = deps.queues.taskQueue(state.deadLetterQueue.url ?? '');
    await deadLetter.sendBatch([
      {
        body: JSON.stringify({
          sluice: 1,
          runId: state.runId,
          bucket: input,
          key: 'retry/a.jpg',
          etag,
          size: 1,
          attemptsUsed: 2,
        }),
      },
    ]);
    const queue = deps.queues.taskQueue(state.queue.url ?? '');
    const redriven: string[] = [];

    const report = await collectResults(
      state,
      { until: { until: 'count', expected: 1 }, retryFailed: true, pollSeconds: 0.2, timeoutSeconds: 60 },
      {
        ...deps,
        sleep: async (ms) => {
          await new Promise((resolve) => setTimeout(resolve, ms));
          const [message] = await queue.receive({ waitSeconds: 0 });
          if (message === undefined) return;
          redriven.push(message.body);
          await finish(state, 'retry/a.jpg', etag, 'succeeded');
          await queue.delete(message.receiptHandle);
        },
      },
    );

    // Attempt numbers go on after the 2 used; the retry budget starts afresh from there.
    expect(redriven.map((b) => JSON.parse(b) as unknown)).toEqual([
      {
        sluice: 1,
        runId: state.runId,
        bucket: input,
        key: 'retry/a.jpg',
        etag,
        size: 1,
        attemptsUsed: 2,
        retryFrom: 2,
      },
    ]);
    expect(report).toMatchObject({ complete: true, retried: 1, counts: { succeeded: 1, failed: 0 } });
    const left = await deadLetter.counts();
    expect(left.visible + left.inFlight).toBe(0);
    await teardownRun(state.runId, deps);
  }, 60_000);
});

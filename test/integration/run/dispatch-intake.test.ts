// What `sluice run --upload` does to the queue, against the test bed's moto (S3 events delivered by
// moto itself): provision with the notification deferred, upload a batch, dispatch (which installs
// the notification before it lists), then upload more. Every file is counted in the messages the
// queue got: files already in the bucket, the uploaded batch and later uploads each once — N
// messages for N files, not 2N. A count does not depend on the machine's load. The same flow with
// the notification installed at provision is the control: its batch arrives twice.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import {
  dispatchTasks,
  parseJob,
  provisionRun,
  readRunState,
  S3BucketAdmin,
  S3ObjectStore,
  SqsRunQueues,
  teardownRun,
  type Job,
  type RunDeps,
  type RunState,
} from '@sluice/core';
import { TestAwsAccount } from '@sluice/testing';

const DIGEST = `sha256:${'d'.repeat(64)}`;
const BATCH = 20;

let aws: TestAwsAccount;
let deps: RunDeps;
let input: string;
let output: string;

beforeAll(async () => {
  aws = new TestAwsAccount({ label: 'intake' });
  const store = new S3ObjectStore(aws.s3);
  deps = { store, queues: new SqsRunQueues(aws.sqs, { backoffMs: 50 }), buckets: new S3BucketAdmin(aws.s3) };
  input = await aws.createBucket('in');
  output = await aws.createBucket('out');
});

afterAll(() => aws.cleanup(), 120_000);

function makeJob(name: string): Job {
  return parseJob(
    JSON.stringify({
      name,
      algorithm: 'thumbnails@1.0.0',
      input: { bucket: input, prefix: `${name}/` },
      output: { bucket: output, prefix: `results-${name}/` },
    }),
    'job.json',
  );
}

async function upload(keys: readonly string[]): Promise<void> {
  await Promise.all(keys.map((key) => deps.store.put({ bucket: input, key }, `body of ${key}`)));
}

/** Every input key the queue's messages name (task messages and S3 events; TestEvents aside). */
async function enqueuedKeys(state: RunState): Promise<string[]> {
  const queue = deps.queues.taskQueue(state.queue.url ?? '');
  const keys: string[] = [];
  // Received messages stay hidden (60 s visibility) while the rest are read; two empty long polls
  // in a row mean the queue has given everything.
  for (let empty = 0; empty < 2;) {
    const messages = await queue.receive({ maxMessages: 10, waitSeconds: 1 });
    empty = messages.length === 0 ? empty + 1 : 0;
    for (const message of messages) {
      const body = JSON.parse(message.body) as {
        sluice?: number;
        key?: string;
        Records?: { s3: { object: { key: string } } }[];
      };
      if (body.sluice === 1) keys.push(body.key ?? '');
      // AWS encodes event keys (space as +); moto does not. These keys have neither.
      for (const record of body.Records ?? [])
        keys.push(decodeURIComponent(record.s3.object.key.replace(/\+/g, ' ')));
    }
  }
  return keys.sort();
}

/** Files in the bucket before the run, provision, a batch uploaded, dispatch, then a later file. */
async function uploadedRun(name: string, deferIntake: boolean) {
  const before = [`${name}/existing-1.txt`, `${name}/existing-2.txt`];
  const batch = Array.from({ length: BATCH }, (_, i) => `${name}/batch-${String(i).padStart(2, '0')}.txt`);
  const later = `${name}/later.txt`;
  await upload(before);
  const { state, queueUrl, deadLetterQueueUrl } = await provisionRun(makeJob(name), deps, {
    algorithm: { digest: DIGEST },
    deferIntake,
  });
  aws.trackQueue(queueUrl);
  aws.trackQueue(deadLetterQueueUrl);
  const notificationsAfterProvision = (await deps.store.getQueueNotifications(input)).queues.filter(
    (entry) => entry.id === state.notification.id,
  );
  await upload(batch);
  const report = await dispatchTasks(state, deps);
  await upload([later]);
  return { state, before, batch, later, report, notificationsAfterProvision };
}

describe('sluice run --upload intake on moto', () => {
  it('enqueues N uploaded files N times, not 2N; files already there and later uploads once each', async () => {
    const { state, before, batch, later, report, notificationsAfterProvision } = await uploadedRun(
      'once',
      true,
    );

    const keys = await enqueuedKeys(state);

    expect(notificationsAfterProvision).toEqual([]);
    expect(report).toMatchObject({ listed: BATCH + 2, enqueued: BATCH + 2, failed: 0 });
    expect(keys).toHaveLength(BATCH + 3);
    expect(keys).toEqual([...before, ...batch, later].sort());
    expect((await readRunState(deps.store, output, state.runId))?.notification.installed).toBe(true);
    await teardownRun(state.runId, deps, { bucket: output });
  }, 300_000);

  it('control: with the notification installed at provision, each uploaded file is enqueued twice', async () => {
    const { state, batch } = await uploadedRun('twice', false);

    const keys = await enqueuedKeys(state);

    expect(keys.filter((key) => batch.includes(key))).toHaveLength(2 * BATCH);
    await teardownRun(state.runId, deps, { bucket: output });
  }, 300_000);
});

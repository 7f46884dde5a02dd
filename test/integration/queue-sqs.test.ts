// The TaskQueue contract against SqsTaskQueue on the test bed's moto server (the same suite runs
// against the in-memory fake in packages/testing/src/fake-task-queue.test.ts), queue provisioning,
// and S3 → SQS notifications read through the parser.
import { setTimeout as sleep } from 'node:timers/promises';

import { GetQueueAttributesCommand } from '@aws-sdk/client-sqs';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import {
  encodeS3EventKey,
  isObjectCreated,
  parseQueueMessage,
  S3ObjectStore,
  SqsQueues,
  SqsTaskQueue,
  type S3EventRecord,
} from '@sluice/core';
import { TestAwsAccount, describeTaskQueueContract } from '@sluice/testing';

describeTaskQueueContract('SqsTaskQueue on moto', async () => {
  const aws = new TestAwsAccount({ label: 'queue-contract' });
  const queues = new SqsQueues(aws.sqs);
  const ensured = await queues.ensureQueue(aws.queueName('work'), {
    visibilityTimeoutSeconds: 2,
    deadLetter: { maxReceiveCount: 3, name: aws.queueName('dead') },
  });
  aws.trackQueue(ensured.url);
  if (ensured.deadLetter === undefined) throw new Error('ensureQueue made no dead-letter queue');
  aws.trackQueue(ensured.deadLetter.url);
  return {
    queue: new SqsTaskQueue(aws.sqs, ensured.url),
    deadLetter: new SqsTaskQueue(aws.sqs, ensured.deadLetter.url),
    maxReceiveCount: 3,
    visibilityTimeoutSeconds: 2,
    now: () => Date.now(),
    advance: (seconds: number) => sleep(seconds * 1000),
    cleanup: () => aws.cleanup(),
  };
});

describe('SqsQueues on moto', () => {
  let aws: TestAwsAccount;
  beforeAll(() => {
    aws = new TestAwsAccount({ label: 'queue-admin' });
  });
  afterAll(() => aws.cleanup());

  it('creates a queue with its dead-letter queue once, and converges attributes on a second run', async () => {
    const queues = new SqsQueues(aws.sqs);
    const name = aws.queueName('provisioned');
    expect(await queues.findQueueUrl(name)).toBeUndefined();

    const first = await queues.ensureQueue(name, {
      visibilityTimeoutSeconds: 45,
      deadLetter: { maxReceiveCount: 4 },
      tags: { 'sluice:run': 'r1' },
    });
    aws.trackQueue(first.url);
    if (first.deadLetter !== undefined) aws.trackQueue(first.deadLetter.url);
    expect(first.created).toBe(true);
    expect(first.arn).toMatch(new RegExp(`:${name}$`));
    expect(first.deadLetter?.arn).toMatch(new RegExp(`:${name}-dlq$`));
    expect(await queues.findQueueUrl(name)).toBe(first.url);

    const second = await queues.ensureQueue(name, {
      visibilityTimeoutSeconds: 90,
      deadLetter: { maxReceiveCount: 6 },
    });
    expect(second).toMatchObject({ url: first.url, arn: first.arn, created: false });
    const { Attributes } = await aws.sqs.send(
      new GetQueueAttributesCommand({
        QueueUrl: first.url,
        AttributeNames: ['VisibilityTimeout', 'RedrivePolicy'],
      }),
    );
    expect(Attributes?.VisibilityTimeout).toBe('90');
    expect(JSON.parse(Attributes?.RedrivePolicy ?? '{}')).toMatchObject({
      deadLetterTargetArn: first.deadLetter?.arn,
      maxReceiveCount: 6,
    });
    expect(await new SqsTaskQueue(aws.sqs, first.url).arn()).toBe(first.arn);
  });
});

describe('S3 notifications from moto through parseQueueMessage', () => {
  let aws: TestAwsAccount;
  beforeAll(() => {
    aws = new TestAwsAccount({ label: 'events' });
  });
  afterAll(() => aws.cleanup());

  it('delivers a test event, then one record per upload, whose decoded key is the uploaded key', async () => {
    const bucket = await aws.createBucket('events');
    const target = await aws.createQueue('events');
    const store = new S3ObjectStore(aws.s3);
    const queue = new SqsTaskQueue(aws.sqs, target.url);
    await store.putQueueNotifications(bucket, {
      queues: [{ queueArn: target.arn, events: ['s3:ObjectCreated:*'] }],
    });

    const keys = [
      'with space.txt',
      'a+b.txt',
      'a+b c+d/e f.csv',
      'nested/deeper/x y+z.bin',
      'unicode/naïve café 日本.txt',
      'odd/100%=&?#.txt',
    ];
    for (const key of keys) await store.put({ bucket, key }, `body of ${key}`);

    const created: S3EventRecord[] = [];
    let testEvents = 0;
    const deadline = Date.now() + 30_000;
    while (created.length < keys.length && Date.now() < deadline) {
      for (const message of await queue.receive({ maxMessages: 10, waitSeconds: 1 })) {
        const parsed = parseQueueMessage(message.body);
        if (parsed.kind === 's3-test-event') testEvents += 1;
        else if (parsed.kind === 's3-event') created.push(...parsed.records.filter(isObjectCreated));
        else throw new Error(`unexpected message ${parsed.kind}: ${message.body}`);
        await queue.delete(message.receiptHandle);
      }
    }
    expect(testEvents).toBe(1);
    expect(created.map((r) => r.key).sort()).toEqual([...keys].sort());
    for (const record of created) {
      expect(record.bucket).toBe(bucket);
      expect(record.size).toBe(Buffer.byteLength(`body of ${record.key}`));
      // AWS keeps `/` in encoded keys; moto (5.x) encodes it as %2F. Either decodes to the same key.
      const encodedAsAws = encodeS3EventKey(record.key);
      expect([encodedAsAws, encodedAsAws.replace(/\//g, '%2F')]).toContain(record.encodedKey);
      expect((await store.head({ bucket, key: record.key }))?.etag).toBe(record.etag);
    }
  });
});

// The ObjectStore contract against S3ObjectStore on the test bed's moto server and on its SeaweedFS
// (a second real S3, which checks signatures; the same suite
// runs against the in-memory fake in packages/testing/src/fake-object-store.test.ts), plus what
// only the real adapter can show: multipart uploads, error classification, kept notifications.
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import {
  GetBucketNotificationConfigurationCommand,
  PutBucketNotificationConfigurationCommand,
  S3Client,
} from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { AwsRequestError, classifyAwsError, isTransientAwsError } from '@sluice/core/aws';
import { ConfigurationError, S3ObjectStore } from '@sluice/core';
import { TestAwsAccount, describeObjectStoreContract, seaweedAccount } from '@sluice/testing';

const MiB = 1024 * 1024;

describeObjectStoreContract('S3ObjectStore on moto', async () => {
  const aws = new TestAwsAccount({ label: 'store-contract' });
  const bucket = await aws.createBucket('contract');
  const queue = await aws.createQueue('contract');
  // A low threshold so the contract's 12 MiB file goes up in parts (5 MiB is S3's minimum part).
  const store = new S3ObjectStore(aws.s3, { multipartThreshold: 5 * MiB, partSize: 5 * MiB });
  return {
    store,
    bucket,
    queueArn: queue.arn,
    quirks: { copyIgnoresIfNoneMatch: true },
    newBucketName: (part: string) => {
      const name = aws.bucketName(part);
      aws.trackBucket(name);
      return name;
    },
    cleanup: () => aws.cleanup(),
  };
});

describeObjectStoreContract(
  'S3ObjectStore on SeaweedFS',
  async () => {
    const aws = seaweedAccount({ label: 'store-contract' });
    const bucket = await aws.createBucket('contract');
    const store = new S3ObjectStore(aws.s3, { multipartThreshold: 5 * MiB, partSize: 5 * MiB });
    return {
      store,
      bucket,
      queueArn: 'arn:aws:sqs:us-east-1:000000000000:seaweedfs-has-no-sqs',
      quirks: { ifMatchOnMissingIsPreconditionFailed: true },
      newBucketName: (part: string) => {
        const name = aws.bucketName(part);
        aws.trackBucket(name);
        return name;
      },
      cleanup: () => aws.cleanup(),
    };
  },
  {
    // SeaweedFS 4.48 has no S3 event notifications: PUT ?notification is taken for CreateBucket
    // (409 BucketAlreadyOwnedByYou). moto covers them, and delivers the events.
    unsupported: { queueNotifications: 'no S3 bucket notifications (PutBucketNotificationConfiguration)' },
  },
);

describe('S3ObjectStore on moto, beyond the contract', () => {
  let aws: TestAwsAccount;
  let store: S3ObjectStore;
  let bucket: string;

  beforeAll(async () => {
    aws = new TestAwsAccount({ label: 'store-extra' });
    bucket = await aws.createBucket('extra');
    store = new S3ObjectStore(aws.s3);
  });
  afterAll(() => aws.cleanup());

  it('keeps a bucket’s other notification kinds when it sets the queue notifications', async () => {
    const queue = await aws.createQueue('notify');
    const topicArn = 'arn:aws:sns:us-east-1:123456789012:someone-elses-topic';
    await aws.s3.send(
      new PutBucketNotificationConfigurationCommand({
        Bucket: bucket,
        NotificationConfiguration: {
          TopicConfigurations: [{ Id: 'theirs', TopicArn: topicArn, Events: ['s3:ObjectRemoved:*'] }],
        },
      }),
    );
    await store.putQueueNotifications(bucket, {
      queues: [{ queueArn: queue.arn, events: ['s3:ObjectCreated:*'] }],
    });
    const raw = await aws.s3.send(new GetBucketNotificationConfigurationCommand({ Bucket: bucket }));
    expect(raw.TopicConfigurations?.map((t) => t.TopicArn)).toEqual([topicArn]);
    expect((await store.getQueueNotifications(bucket)).queues.map((q) => q.queueArn)).toEqual([queue.arn]);
  });

  it('gives a multipart ETag (`<md5>-<parts>`) for a file above the threshold, and the same from head', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'sluice-s3-'));
    try {
      const file = join(dir, 'eleven-mib');
      await writeFile(file, Buffer.alloc(11 * MiB, 7));
      const small = new S3ObjectStore(aws.s3, { multipartThreshold: 5 * MiB, partSize: 5 * MiB });
      const put = await small.upload({ bucket, key: 'multi/eleven-mib' }, file);
      expect(put.etag).toMatch(/^[0-9a-f]{32}-3$/);
      expect((await small.head({ bucket, key: 'multi/eleven-mib' }))?.etag).toBe(put.etag);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('classifies a missing bucket as the user’s to fix, with a hint', async () => {
    const error = await store
      .getText({ bucket: aws.bucketName('never-made'), key: 'x' })
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ConfigurationError);
    expect(String(error)).toMatch(/NoSuchBucket.*does not exist/);
  });

  it('classifies an unreachable endpoint as a transient fault', async () => {
    // Nothing listens on port 9 (discard) here; the SDK's own retries are turned off to be quick.
    const dead = new S3ObjectStore(
      new S3Client({
        endpoint: 'http://127.0.0.1:9',
        region: 'us-east-1',
        forcePathStyle: true,
        maxAttempts: 1,
        credentials: { accessKeyId: 'testing', secretAccessKey: 'testing' },
      }),
    );
    const error = await dead.head({ bucket: 'any-bucket', key: 'k' }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(AwsRequestError);
    expect(error instanceof AwsRequestError && error.retryable).toBe(true);
    expect(isTransientAwsError(error)).toBe(true);
  });

  it('classifies throttling and 5xx as transient, AccessDenied as configuration', () => {
    const sdkError = (name: string, status: number): Error =>
      Object.assign(new Error(name), {
        name,
        $fault: status >= 500 ? 'server' : 'client',
        $metadata: { httpStatusCode: status },
      });
    expect(classifyAwsError(sdkError('SlowDown', 503), 'S3.PutObject', 's3://b/k')).toMatchObject({
      retryable: true,
    });
    expect(classifyAwsError(sdkError('InternalError', 500), 'S3.PutObject', 's3://b/k')).toMatchObject({
      retryable: true,
    });
    expect(classifyAwsError(sdkError('AccessDenied', 403), 'S3.PutObject', 's3://b/k')).toBeInstanceOf(
      ConfigurationError,
    );
  });
});

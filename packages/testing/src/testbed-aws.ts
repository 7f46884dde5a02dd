// An isolated view of the test bed's one moto server for one test (or one test file): names no
// other test uses, SDK clients already pointed at moto, and a cleanup that deletes what it made.
// Tests running in parallel workers each make their own, so they never see each other's buckets
// or queues.
import { randomBytes } from 'node:crypto';

import {
  CreateBucketCommand,
  DeleteBucketCommand,
  DeleteObjectsCommand,
  ListObjectVersionsCommand,
  NoSuchBucket,
  S3Client,
  type ObjectIdentifier,
} from '@aws-sdk/client-s3';
import {
  CreateQueueCommand,
  DeleteQueueCommand,
  GetQueueAttributesCommand,
  QueueDoesNotExist,
  SQSClient,
  type QueueAttributeName,
} from '@aws-sdk/client-sqs';
import { toError } from '@sluice/core';

import { testbedEndpoints, type TestbedEndpoints } from './testbed-endpoints.js';
import { SEAWEED_CREDENTIALS, SEAWEED_REGION, seaweedEndpoint } from './testbed-seaweed.js';

/** Dummy credentials: moto accepts any; real-looking ones would invite mistakes. */
export const TESTBED_CREDENTIALS = { accessKeyId: 'testing', secretAccessKey: 'testing' } as const;

/** Settings for any AWS SDK v3 client that should talk to the test bed's moto server. */
export interface TestbedAwsClientConfig {
  readonly endpoint: string;
  readonly region: string;
  readonly credentials: { readonly accessKeyId: string; readonly secretAccessKey: string };
  /** moto serves S3 on one host, so buckets must be addressed by path, not by subdomain. */
  readonly forcePathStyle: true;
}

/**
 * Client settings for the test bed's moto server; pass them to clients other than S3 and SQS
 * (`new ECSClient(testbedAwsClientConfig())`).
 *
 * @example
 * const ecs = new ECSClient(testbedAwsClientConfig());
 * @throws TestbedNotRunningError when the test bed is not running.
 */
export function testbedAwsClientConfig(
  endpoints: TestbedEndpoints = testbedEndpoints(),
): TestbedAwsClientConfig {
  return {
    endpoint: endpoints.awsEndpoint,
    region: endpoints.region,
    credentials: { ...TESTBED_CREDENTIALS },
    forcePathStyle: true,
  };
}

/** A queue made by {@link TestAwsAccount.createQueue}. */
export interface TestQueue {
  readonly name: string;
  readonly url: string;
  readonly arn: string;
}

export interface TestAwsAccountOptions {
  /** Goes into every name, to tell in moto's state which test made what. Default `t`. */
  readonly label?: string;
  /** Where moto runs; default {@link testbedEndpoints}. */
  readonly endpoints?: TestbedEndpoints;
  /** Default {@link TESTBED_CREDENTIALS} (moto takes any); SeaweedFS checks them ({@link seaweedAccount}). */
  readonly credentials?: { readonly accessKeyId: string; readonly secretAccessKey: string };
}

const BUCKET_NAME_MAX = 63;
const QUEUE_NAME_MAX = 80;

/** Lowercase letters, digits and single hyphens, trimmed of hyphens. */
function slug(text: string): string {
  return text
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, '-')
    .replace(/^-+|-+$/g, '');
}

/** Cuts a name to `max` characters without leaving a hyphen at the end. */
function fit(name: string, max: number): string {
  return name.slice(0, max).replace(/-+$/, '');
}

/**
 * One test's isolated view of the test bed's AWS: every name it hands out carries a random suffix
 * that no other test has, and {@link cleanup} deletes every bucket (with its objects) and queue it
 * created or was told about.
 *
 * @example
 * const aws = new TestAwsAccount({ label: 'storage' });
 * afterAll(() => aws.cleanup());
 * const bucket = await aws.createBucket('input');
 * await aws.s3.send(new PutObjectCommand({ Bucket: bucket, Key: 'a.txt', Body: 'hi' }));
 */
export class TestAwsAccount {
  /** The random part of every name this account hands out. */
  readonly id: string;
  readonly endpoint: string;
  readonly region: string;
  readonly s3: S3Client;
  readonly sqs: SQSClient;
  private readonly prefix: string;
  private readonly credentials: { readonly accessKeyId: string; readonly secretAccessKey: string };
  private readonly buckets = new Set<string>();
  private readonly queueUrls = new Set<string>();

  /** @throws TestbedNotRunningError when the test bed is not running. */
  constructor(options: TestAwsAccountOptions = {}) {
    const endpoints = options.endpoints ?? testbedEndpoints();
    const config = {
      ...testbedAwsClientConfig(endpoints),
      ...(options.credentials !== undefined && { credentials: { ...options.credentials } }),
    };
    this.credentials = config.credentials;
    this.id = randomBytes(5).toString('hex');
    const label = slug(options.label ?? 't').slice(0, 20) || 't';
    this.prefix = `sl-${label}-${this.id}`;
    this.endpoint = config.endpoint;
    this.region = config.region;
    this.s3 = new S3Client({ ...config, credentials: { ...config.credentials } });
    this.sqs = new SQSClient({
      endpoint: config.endpoint,
      region: config.region,
      credentials: { ...config.credentials },
    });
  }

  /** Client settings for other SDK clients (ECS, Lambda, ...) against the same moto server. */
  clientConfig(): TestbedAwsClientConfig {
    return {
      ...testbedAwsClientConfig({ awsEndpoint: this.endpoint, registry: '', region: this.region }),
      credentials: { ...this.credentials },
    };
  }

  /**
   * A bucket name valid for S3 (lowercase, at most 63 characters) that only this account uses; the
   * same `part` gives the same name. Does not create the bucket.
   */
  bucketName(part = 'bucket'): string {
    const tail = slug(part);
    return fit(tail === '' ? this.prefix : `${this.prefix}-${tail}`, BUCKET_NAME_MAX);
  }

  /** A queue name valid for SQS that only this account uses; FIFO names end in `.fifo`. */
  queueName(part = 'queue', options: { fifo?: boolean } = {}): string {
    const suffix = options.fifo === true ? '.fifo' : '';
    const tail = slug(part);
    const base = tail === '' ? this.prefix : `${this.prefix}-${tail}`;
    return fit(base, QUEUE_NAME_MAX - suffix.length) + suffix;
  }

  /** Creates the bucket {@link bucketName}(`part`) and deletes it (and its objects) on cleanup. */
  async createBucket(part?: string): Promise<string> {
    const name = this.bucketName(part);
    this.buckets.add(name);
    // us-east-1 takes no LocationConstraint.
    await this.s3.send(new CreateBucketCommand({ Bucket: name }));
    return name;
  }

  /** Creates the queue {@link queueName}(`part`) and deletes it on cleanup. */
  async createQueue(
    part?: string,
    attributes: Partial<Record<QueueAttributeName, string>> = {},
  ): Promise<TestQueue> {
    const fifo = attributes.FifoQueue === 'true';
    const name = this.queueName(part, { fifo });
    const created = await this.sqs.send(new CreateQueueCommand({ QueueName: name, Attributes: attributes }));
    const url = created.QueueUrl;
    if (url === undefined) throw new Error(`CreateQueue ${name} returned no QueueUrl`);
    this.queueUrls.add(url);
    const read = await this.sqs.send(
      new GetQueueAttributesCommand({ QueueUrl: url, AttributeNames: ['QueueArn'] }),
    );
    const arn = read.Attributes?.QueueArn;
    if (arn === undefined) throw new Error(`GetQueueAttributes ${url} returned no QueueArn`);
    return { name, url, arn };
  }

  /** Deletes, on cleanup, a bucket that code under test created. */
  trackBucket(name: string): void {
    this.buckets.add(name);
  }

  /** Deletes, on cleanup, a queue that code under test created. */
  trackQueue(url: string): void {
    this.queueUrls.add(url);
  }

  /**
   * Deletes every tracked bucket (all object versions first) and queue, then closes the clients.
   * Tries them all, and then throws if any could not be deleted, so leaks are not silent.
   *
   * @throws AggregateError naming each bucket or queue that could not be deleted.
   */
  async cleanup(): Promise<void> {
    const failures: Error[] = [];
    for (const bucket of this.buckets) {
      try {
        await this.emptyAndDeleteBucket(bucket);
        this.buckets.delete(bucket);
      } catch (e: unknown) {
        failures.push(new Error(`bucket ${bucket}: ${toError(e).message}`, { cause: e }));
      }
    }
    for (const url of this.queueUrls) {
      try {
        await this.sqs.send(new DeleteQueueCommand({ QueueUrl: url }));
        this.queueUrls.delete(url);
      } catch (e: unknown) {
        if (e instanceof QueueDoesNotExist) {
          this.queueUrls.delete(url);
          continue;
        }
        failures.push(new Error(`queue ${url}: ${toError(e).message}`, { cause: e }));
      }
    }
    this.s3.destroy();
    this.sqs.destroy();
    if (failures.length > 0) {
      throw new AggregateError(
        failures,
        `test AWS account ${this.prefix}: cleanup failed: ${failures.map((f) => f.message).join('; ')}`,
      );
    }
  }

  private async emptyAndDeleteBucket(bucket: string): Promise<void> {
    try {
      // Every version and delete marker, so versioned buckets empty too. The SDK has no paginator
      // for ListObjectVersions, hence the markers by hand.
      let keyMarker: string | undefined;
      let versionIdMarker: string | undefined;
      for (;;) {
        const page = await this.s3.send(
          new ListObjectVersionsCommand({
            Bucket: bucket,
            KeyMarker: keyMarker,
            VersionIdMarker: versionIdMarker,
          }),
        );
        const objects: ObjectIdentifier[] = [];
        for (const entry of [...(page.Versions ?? []), ...(page.DeleteMarkers ?? [])]) {
          if (entry.Key === undefined) continue;
          objects.push(
            entry.VersionId === undefined
              ? { Key: entry.Key }
              : { Key: entry.Key, VersionId: entry.VersionId },
          );
        }
        if (objects.length > 0) {
          const result = await this.s3.send(
            new DeleteObjectsCommand({ Bucket: bucket, Delete: { Objects: objects, Quiet: true } }),
          );
          const first = result.Errors?.[0];
          if (first !== undefined) {
            throw new Error(
              `could not delete ${first.Key ?? '?'}: ${first.Code ?? ''} ${first.Message ?? ''}`,
            );
          }
        }
        if (page.IsTruncated !== true) break;
        keyMarker = page.NextKeyMarker;
        versionIdMarker = page.NextVersionIdMarker;
      }
      await this.s3.send(new DeleteBucketCommand({ Bucket: bucket }));
    } catch (e: unknown) {
      // Already gone (the test deleted it) is what cleanup wants.
      if (e instanceof NoSuchBucket || (e instanceof Error && e.name === 'NoSuchBucket')) return;
      throw e;
    }
  }
}

/**
 * A {@link TestAwsAccount} on the test bed's SeaweedFS instead of moto: S3 only (its `sqs` client
 * has no server to talk to), with the identity SeaweedFS checks signatures against.
 *
 * @example
 * const store = seaweedAccount({ label: 'presign' });
 * afterAll(() => store.cleanup());
 * const bucket = await store.createBucket('in');
 * @throws TestbedNotRunningError when the test bed (or its SeaweedFS) is not running.
 */
export function seaweedAccount(options: Pick<TestAwsAccountOptions, 'label'> = {}): TestAwsAccount {
  return new TestAwsAccount({
    ...options,
    endpoints: { awsEndpoint: seaweedEndpoint(), registry: '', region: SEAWEED_REGION },
    credentials: SEAWEED_CREDENTIALS,
  });
}

import { createHash, randomBytes } from 'node:crypto';
import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { dirname } from 'node:path';

import {
  ConfigurationError,
  encodeS3EventKey,
  LIST_PAGE_SIZE,
  ObjectNotFoundError,
  PreconditionFailedError,
  SluiceError,
  SMALL_OBJECT_MAX_BYTES,
  toError,
  UnreadableObjectError,
  type BucketAdmin,
  type BucketNotifications,
  type DeleteManyResult,
  type DownloadOptions,
  type DownloadResult,
  type EnsureBucketOptions,
  type GetOptions,
  type ListOptions,
  type ObjectInfo,
  type ObjectRef,
  type ObjectStore,
  type ObjectSummary,
  type PutOptions,
  type PutResult,
  type QueueNotification,
  type TaskQueue,
  type TextObject,
} from '@sluice/core';

import { systemClock, type FakeClock } from './fake-clock.js';

/** How the fake store behaves. */
export interface FakeObjectStoreOptions {
  /** Stamps `lastModified` and event times. */
  readonly clock?: FakeClock;
  /** Give every write a version id, as a versioned bucket does. */
  readonly versioned?: boolean;
  /** The region written into event notifications (default `us-east-1`). */
  readonly region?: string;
}

interface StoredObject {
  readonly data: Buffer;
  readonly etag: string;
  readonly versionId: string | undefined;
  readonly lastModified: Date;
  readonly contentType: string | undefined;
  readonly metadata: Readonly<Record<string, string>>;
}

interface FakeBucket {
  readonly objects: Map<string, StoredObject>;
  /** Earlier versions by version id, when versioned. */
  readonly versions: Map<string, StoredObject>;
  notifications: BucketNotifications;
  readonly tags: Record<string, string>;
}

/**
 * An in-memory {@link ObjectStore} that passes the same contract tests as the S3 adapter. Buckets
 * must be created (`ensureBucket`) before use, as in S3.
 *
 * With {@link connectQueue}, it delivers event notifications as S3 does: a bucket's queue
 * notifications send an S3 event (keys encoded as AWS encodes them) to the connected fake queue
 * for each created or removed object that matches, and setting them sends an `s3:TestEvent`.
 *
 * @example
 * const store = new FakeObjectStore();
 * await store.ensureBucket('input');
 * store.connectQueue('arn:aws:sqs:us-east-1:000000000000:tasks', queue);
 * await store.putQueueNotifications('input', { queues: [{ queueArn: 'arn:aws:sqs:us-east-1:000000000000:tasks', events: ['s3:ObjectCreated:*'] }] });
 * await store.put({ bucket: 'input', key: 'a b.txt' }, 'hello'); // queue gets an event with key "a+b.txt"
 */
export class FakeObjectStore implements ObjectStore, BucketAdmin {
  private readonly clock: FakeClock;
  private readonly versioned: boolean;
  private readonly region: string;
  private readonly buckets = new Map<string, FakeBucket>();
  private readonly queues = new Map<string, TaskQueue>();
  private sequence = 0;

  constructor(options: FakeObjectStoreOptions = {}) {
    this.clock = options.clock ?? systemClock;
    this.versioned = options.versioned ?? false;
    this.region = options.region ?? 'us-east-1';
  }

  /** Routes notifications addressed to `queueArn` to `queue`. */
  connectQueue(queueArn: string, queue: TaskQueue): void {
    this.queues.set(queueArn, queue);
  }

  /** The tags set on a bucket when it was created (for assertions). */
  bucketTags(bucket: string): Readonly<Record<string, string>> {
    return { ...this.bucket(bucket).tags };
  }

  async download(ref: ObjectRef, filePath: string, options: DownloadOptions = {}): Promise<DownloadResult> {
    const object = this.read(ref, options.versionId);
    if (options.ifMatch !== undefined && unquote(options.ifMatch) !== object.etag) {
      throw new PreconditionFailedError(ref.bucket, ref.key, 'if-match');
    }
    await mkdir(dirname(filePath), { recursive: true });
    const partial = `${filePath}.${randomBytes(4).toString('hex')}.part`;
    await writeFile(partial, object.data);
    await rename(partial, filePath);
    return withVersion({ size: object.data.length, etag: object.etag }, object.versionId);
  }

  async upload(ref: ObjectRef, filePath: string, options: PutOptions = {}): Promise<PutResult> {
    let data: Buffer;
    try {
      data = await readFile(filePath);
    } catch (thrown: unknown) {
      throw new SluiceError(`cannot upload ${filePath}: ${toError(thrown).message}`, { cause: thrown });
    }
    return this.write(ref, data, options, 'ObjectCreated:Put');
  }

  put(ref: ObjectRef, body: string | Uint8Array, options: PutOptions = {}): Promise<PutResult> {
    return this.write(ref, Buffer.from(body), options, 'ObjectCreated:Put');
  }

  putJson(ref: ObjectRef, value: unknown, options: PutOptions = {}): Promise<PutResult> {
    return this.put(ref, JSON.stringify(value), { contentType: 'application/json', ...options });
  }

  async putIfAbsent(
    ref: ObjectRef,
    body: string | Uint8Array,
    options: Omit<PutOptions, 'ifAbsent'> = {},
  ): Promise<PutResult | undefined> {
    try {
      return await this.put(ref, body, { ...options, ifAbsent: true });
    } catch (thrown: unknown) {
      if (thrown instanceof PreconditionFailedError) return undefined;
      throw thrown;
    }
  }

  getText(ref: ObjectRef, options: GetOptions = {}): Promise<TextObject | undefined> {
    const object = this.bucket(ref.bucket).objects.get(ref.key);
    if (object === undefined) return Promise.resolve(undefined);
    const maxBytes = options.maxBytes ?? SMALL_OBJECT_MAX_BYTES;
    if (object.data.length > maxBytes) {
      return Promise.reject(
        new UnreadableObjectError(
          ref.bucket,
          ref.key,
          `${object.data.length} bytes is over the ${maxBytes}-byte limit`,
        ),
      );
    }
    return Promise.resolve(
      withVersion({ text: object.data.toString('utf8'), etag: object.etag }, object.versionId),
    );
  }

  async getJson(
    ref: ObjectRef,
    options: GetOptions = {},
  ): Promise<{ readonly value: unknown; readonly etag: string } | undefined> {
    const object = await this.getText(ref, options);
    if (object === undefined) return undefined;
    try {
      return { value: JSON.parse(object.text) as unknown, etag: object.etag };
    } catch (thrown: unknown) {
      throw new UnreadableObjectError(ref.bucket, ref.key, `not JSON (${toError(thrown).message})`, {
        cause: thrown,
      });
    }
  }

  head(ref: ObjectRef): Promise<ObjectInfo | undefined> {
    // As S3: a HEAD cannot tell a missing bucket from a missing key.
    const object = this.buckets.get(ref.bucket)?.objects.get(ref.key);
    if (object === undefined) return Promise.resolve(undefined);
    return Promise.resolve({
      bucket: ref.bucket,
      key: ref.key,
      size: object.data.length,
      etag: object.etag,
      lastModified: object.lastModified,
      metadata: object.metadata,
      ...(object.versionId !== undefined && { versionId: object.versionId }),
      ...(object.contentType !== undefined && { contentType: object.contentType }),
    });
  }

  async *list(
    bucket: string,
    prefix: string,
    options: ListOptions = {},
  ): AsyncIterable<readonly ObjectSummary[]> {
    const pageSize = Math.min(Math.max(1, options.pageSize ?? LIST_PAGE_SIZE), LIST_PAGE_SIZE);
    const objects = this.bucket(bucket).objects;
    // S3 lists in UTF-8 byte order; sort the same way (not UTF-16 code units).
    const keys = [...objects.keys()]
      .filter(
        (key) =>
          key.startsWith(prefix) &&
          (options.startAfter === undefined || compareKeys(key, options.startAfter) > 0),
      )
      .sort(compareKeys);
    for (let start = 0; start < keys.length; start += pageSize) {
      const page = keys.slice(start, start + pageSize).flatMap((key): ObjectSummary[] => {
        const object = objects.get(key);
        return object === undefined
          ? []
          : [{ key, size: object.data.length, etag: object.etag, lastModified: object.lastModified }];
      });
      await Promise.resolve();
      if (page.length > 0) yield page;
    }
  }

  async copy(from: ObjectRef, to: ObjectRef, options: Pick<PutOptions, 'ifAbsent'> = {}): Promise<PutResult> {
    const source = this.read(from, undefined);
    return this.write(
      to,
      source.data,
      {
        ...(source.contentType !== undefined && { contentType: source.contentType }),
        metadata: source.metadata,
        ...(options.ifAbsent !== undefined && { ifAbsent: options.ifAbsent }),
      },
      'ObjectCreated:Copy',
    );
  }

  async deleteMany(
    bucket: string,
    keys: Iterable<string> | AsyncIterable<string>,
  ): Promise<DeleteManyResult> {
    const stored = this.bucket(bucket);
    let deleted = 0;
    for await (const key of keys) {
      const object = stored.objects.get(key);
      if (object !== undefined) {
        stored.objects.delete(key);
        await this.notify(bucket, key, object, 'ObjectRemoved:Delete');
      }
      deleted += 1;
    }
    return { deleted, failed: [] };
  }

  bucketExists(bucket: string): Promise<boolean> {
    return Promise.resolve(this.buckets.has(bucket));
  }

  ensureBucket(bucket: string, options: EnsureBucketOptions = {}): Promise<{ readonly created: boolean }> {
    if (this.buckets.has(bucket)) return Promise.resolve({ created: false });
    if (!/^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/.test(bucket)) {
      return Promise.reject(
        new ConfigurationError(
          `S3.CreateBucket on s3://${bucket} failed: InvalidBucketName. Bucket names are 3-63 characters of lowercase letters, digits, dots and hyphens; choose a valid one.`,
        ),
      );
    }
    this.buckets.set(bucket, {
      objects: new Map(),
      versions: new Map(),
      notifications: { queues: [] },
      tags: { ...options.tags },
    });
    return Promise.resolve({ created: true });
  }

  getQueueNotifications(bucket: string): Promise<BucketNotifications> {
    const { queues } = this.bucket(bucket).notifications;
    return Promise.resolve({ queues: queues.map((q) => ({ ...q, events: [...q.events] })) });
  }

  async putQueueNotifications(bucket: string, notifications: BucketNotifications): Promise<void> {
    const stored = this.bucket(bucket);
    // As S3: every configuration gets an id, and each destination receives an s3:TestEvent.
    stored.notifications = {
      queues: notifications.queues.map((q): QueueNotification => ({
        ...q,
        id: q.id ?? randomBytes(8).toString('hex'),
      })),
    };
    const arns = new Set(stored.notifications.queues.map((q) => q.queueArn));
    for (const arn of arns) {
      const queue = this.queues.get(arn);
      const body = {
        Service: 'Amazon S3',
        Event: 's3:TestEvent',
        Time: new Date(this.clock.now()).toISOString(),
        Bucket: bucket,
      };
      if (queue !== undefined) await queue.sendBatch([{ body: JSON.stringify(body) }]);
    }
  }

  getBucketTags(bucket: string): Promise<Readonly<Record<string, string>> | undefined> {
    const found = this.buckets.get(bucket);
    return Promise.resolve(found === undefined ? undefined : { ...found.tags });
  }

  deleteBucket(bucket: string): Promise<{ readonly objectsDeleted: number } | undefined> {
    const found = this.buckets.get(bucket);
    if (found === undefined) return Promise.resolve(undefined);
    const objectsDeleted = Math.max(found.objects.size, found.versions.size);
    this.buckets.delete(bucket);
    return Promise.resolve({ objectsDeleted });
  }

  private bucket(name: string): FakeBucket {
    const bucket = this.buckets.get(name);
    if (bucket === undefined) {
      throw new ConfigurationError(
        `s3://${name}: NoSuchBucket. The bucket does not exist. Check the bucket name in job.json, or set \`create: true\` to have sluice create it.`,
      );
    }
    return bucket;
  }

  private read(ref: ObjectRef, versionId: string | undefined): StoredObject {
    const bucket = this.bucket(ref.bucket);
    const latest = bucket.objects.get(ref.key);
    const object =
      versionId === undefined || latest?.versionId === versionId
        ? latest
        : bucket.versions.get(`${ref.key}\0${versionId}`);
    if (object === undefined) throw new ObjectNotFoundError(ref.bucket, ref.key);
    return object;
  }

  private async write(
    ref: ObjectRef,
    data: Buffer,
    options: PutOptions,
    eventName: string,
  ): Promise<PutResult> {
    const bucket = this.bucket(ref.bucket);
    if (options.ifAbsent === true && bucket.objects.has(ref.key)) {
      throw new PreconditionFailedError(ref.bucket, ref.key, 'if-none-match');
    }
    if (options.ifMatch !== undefined) {
      const current = bucket.objects.get(ref.key);
      if (current === undefined) throw new ObjectNotFoundError(ref.bucket, ref.key);
      if (current.etag !== unquote(options.ifMatch)) {
        throw new PreconditionFailedError(ref.bucket, ref.key, 'if-match');
      }
    }
    const object: StoredObject = {
      data: Buffer.from(data),
      etag: createHash('md5').update(data).digest('hex'),
      versionId: this.versioned ? randomBytes(16).toString('base64url') : undefined,
      lastModified: new Date(this.clock.now()),
      contentType: options.contentType,
      metadata: Object.fromEntries(
        Object.entries(options.metadata ?? {}).map(([k, v]) => [k.toLowerCase(), v]),
      ),
    };
    bucket.objects.set(ref.key, object);
    if (object.versionId !== undefined) bucket.versions.set(`${ref.key}\0${object.versionId}`, object);
    await this.notify(ref.bucket, ref.key, object, eventName);
    return withVersion({ etag: object.etag }, object.versionId);
  }

  private async notify(
    bucketName: string,
    key: string,
    object: StoredObject,
    eventName: string,
  ): Promise<void> {
    const bucket = this.bucket(bucketName);
    for (const notification of bucket.notifications.queues) {
      const queue = this.queues.get(notification.queueArn);
      if (queue === undefined || !matches(notification, eventName, key)) continue;
      this.sequence += 1;
      const created = eventName.startsWith('ObjectCreated:');
      const record = {
        eventVersion: '2.1',
        eventSource: 'aws:s3',
        awsRegion: this.region,
        eventTime: new Date(this.clock.now()).toISOString(),
        eventName,
        s3: {
          s3SchemaVersion: '1.0',
          configurationId: notification.id ?? 'fake',
          bucket: { name: bucketName, arn: `arn:aws:s3:::${bucketName}` },
          object: {
            key: encodeS3EventKey(key),
            // As AWS: size and ETag for created objects only.
            ...(created && { size: object.data.length, eTag: object.etag }),
            ...(object.versionId !== undefined && { versionId: object.versionId }),
            sequencer: this.sequence.toString(16).toUpperCase().padStart(18, '0'),
          },
        },
      };
      await queue.sendBatch([{ body: JSON.stringify({ Records: [record] }) }]);
    }
  }
}

function matches(notification: QueueNotification, eventName: string, key: string): boolean {
  const event = `s3:${eventName}`;
  const wanted = notification.events.some((pattern) =>
    pattern.endsWith(':*') ? event.startsWith(pattern.slice(0, -1)) : pattern === event,
  );
  return (
    wanted &&
    (notification.prefix === undefined || key.startsWith(notification.prefix)) &&
    (notification.suffix === undefined || key.endsWith(notification.suffix))
  );
}

function compareKeys(a: string, b: string): number {
  return Buffer.compare(Buffer.from(a, 'utf8'), Buffer.from(b, 'utf8'));
}

function unquote(etag: string): string {
  return etag.replace(/^"(.*)"$/, '$1');
}

function withVersion<T extends object>(value: T, versionId: string | undefined): T & { versionId?: string } {
  return versionId !== undefined ? { ...value, versionId } : value;
}

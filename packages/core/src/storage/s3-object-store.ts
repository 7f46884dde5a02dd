import { randomBytes } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import { mkdir, rename, rm, stat } from 'node:fs/promises';
import { dirname } from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';

import {
  CopyObjectCommand,
  CreateBucketCommand,
  DeleteObjectsCommand,
  GetBucketNotificationConfigurationCommand,
  GetObjectCommand,
  HeadBucketCommand,
  HeadObjectCommand,
  PutBucketNotificationConfigurationCommand,
  PutBucketTaggingCommand,
  PutObjectCommand,
  paginateListObjectsV2,
  waitUntilBucketExists,
  type BucketLocationConstraint,
  type FilterRule,
  type GetObjectCommandOutput,
  type QueueConfiguration,
  type S3Client,
} from '@aws-sdk/client-s3';
import { Upload } from '@aws-sdk/lib-storage';

import { SluiceError, toError } from '../errors.js';
import { AwsRequestError, classifyAwsError, describeAwsError } from '../aws/errors.js';
import { ObjectNotFoundError, PreconditionFailedError, UnreadableObjectError } from './errors.js';
import {
  LIST_PAGE_SIZE,
  SMALL_OBJECT_MAX_BYTES,
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
  type TextObject,
} from './object-store.js';

/** Tuning of {@link S3ObjectStore}. */
export interface S3ObjectStoreOptions {
  /**
   * Files larger than this go up as a multipart upload (default 16 MiB). Below it one PutObject is
   * cheaper; above it parts upload in parallel and a failed part is retried alone.
   */
  readonly multipartThreshold?: number;
  /** Part size of multipart uploads (default 8 MiB; raised automatically to stay under 10,000 parts). */
  readonly partSize?: number;
  /** Parts uploaded at once (default 4). Memory used is about `partSize × queueSize`. */
  readonly queueSize?: number;
  /** How long `ensureBucket` waits for a new bucket to become visible (default 60 s). */
  readonly bucketWaitSeconds?: number;
}

const MiB = 1024 * 1024;
const DELETE_BATCH = 1000;
// S3 allows at most 10,000 parts per upload.
const MAX_PARTS = 10_000;

/**
 * {@link ObjectStore} on Amazon S3 or any S3-compatible endpoint (the moto server in tests). Takes
 * a configured `S3Client` so credentials, region, endpoint and retries are the caller's choice.
 *
 * @example
 * const store = new S3ObjectStore(new S3Client({ region: 'eu-west-1' }));
 * await store.ensureBucket('my-input');
 * for await (const page of store.list('my-input', 'incoming/')) console.log(page.length);
 * @throws ConfigurationError from any method when access is denied, the bucket does not exist or the
 *   credentials are wrong; AwsRequestError for faults (`retryable` says whether to try again).
 */
export class S3ObjectStore implements ObjectStore {
  private readonly multipartThreshold: number;
  private readonly partSize: number;
  private readonly queueSize: number;
  private readonly bucketWaitSeconds: number;

  constructor(
    private readonly client: S3Client,
    options: S3ObjectStoreOptions = {},
  ) {
    this.multipartThreshold = options.multipartThreshold ?? 16 * MiB;
    this.partSize = options.partSize ?? 8 * MiB;
    this.queueSize = options.queueSize ?? 4;
    this.bucketWaitSeconds = options.bucketWaitSeconds ?? 60;
  }

  async download(ref: ObjectRef, filePath: string, options: DownloadOptions = {}): Promise<DownloadResult> {
    const response = await this.call('S3.GetObject', ref, () =>
      this.client.send(
        new GetObjectCommand({
          Bucket: ref.bucket,
          Key: ref.key,
          ...(options.versionId !== undefined && { VersionId: options.versionId }),
          ...(options.ifMatch !== undefined && { IfMatch: quote(options.ifMatch) }),
        }),
      ),
    );
    await mkdir(dirname(filePath), { recursive: true });
    // Written beside the target and renamed when complete, so a half-written file never sits at
    // the path the algorithm reads.
    const partial = `${filePath}.${randomBytes(4).toString('hex')}.part`;
    let size = 0;
    try {
      await pipeline(
        bodyStream(response, ref),
        async function* count(source: AsyncIterable<Buffer>) {
          for await (const chunk of source) {
            size += chunk.length;
            yield chunk;
          }
        },
        createWriteStream(partial),
      );
      // A connection closed early can end the stream without an error; the length tells.
      if (response.ContentLength !== undefined && response.ContentLength !== size) {
        throw new AwsRequestError(
          `S3.GetObject on ${describeRef(ref)} ended after ${size} of ${response.ContentLength} bytes`,
          {
            operation: 'S3.GetObject',
            code: 'IncompleteBody',
            httpStatus: undefined,
            requestId: undefined,
            retryable: true,
          },
        );
      }
      await rename(partial, filePath);
    } catch (thrown: unknown) {
      await rm(partial, { force: true });
      throw this.convert(thrown, 'S3.GetObject', ref, 'if-match');
    }
    return withVersion({ size, etag: unquote(response.ETag) }, response.VersionId);
  }

  async upload(ref: ObjectRef, filePath: string, options: PutOptions = {}): Promise<PutResult> {
    let size: number;
    try {
      size = (await stat(filePath)).size;
    } catch (thrown: unknown) {
      throw new SluiceError(`cannot upload ${filePath}: ${toError(thrown).message}`, { cause: thrown });
    }
    const params = {
      Bucket: ref.bucket,
      Key: ref.key,
      ContentLength: size,
      ...putParams(options),
    };
    if (size <= this.multipartThreshold) {
      const result = await this.call('S3.PutObject', ref, () =>
        this.client.send(new PutObjectCommand({ ...params, Body: createReadStream(filePath) })),
      );
      return withVersion({ etag: unquote(result.ETag) }, result.VersionId);
    }
    const partSize = Math.max(this.partSize, Math.ceil(size / MAX_PARTS));
    const upload = new Upload({
      client: this.client,
      params: { ...params, Body: createReadStream(filePath) },
      partSize,
      queueSize: this.queueSize,
      // Abandoned parts cost money until a lifecycle rule removes them: abort on failure.
      leavePartsOnError: false,
    });
    const result = await this.call('S3.Upload', ref, () => upload.done());
    return withVersion({ etag: unquote(result.ETag) }, result.VersionId);
  }

  async put(ref: ObjectRef, body: string | Uint8Array, options: PutOptions = {}): Promise<PutResult> {
    const condition = options.ifMatch !== undefined ? 'if-match' : 'if-none-match';
    const result = await this.call(
      'S3.PutObject',
      ref,
      () =>
        this.client.send(
          new PutObjectCommand({
            Bucket: ref.bucket,
            Key: ref.key,
            Body: body,
            // Given, so the SDK need not guess the length of an empty body (it warns when it cannot).
            ContentLength: typeof body === 'string' ? Buffer.byteLength(body, 'utf8') : body.byteLength,
            ...putParams(options),
            ...(options.ifMatch !== undefined && { IfMatch: quote(options.ifMatch) }),
          }),
        ),
      condition,
    );
    return withVersion({ etag: unquote(result.ETag) }, result.VersionId);
  }

  async putJson(ref: ObjectRef, value: unknown, options: PutOptions = {}): Promise<PutResult> {
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

  async getText(ref: ObjectRef, options: GetOptions = {}): Promise<TextObject | undefined> {
    const maxBytes = options.maxBytes ?? SMALL_OBJECT_MAX_BYTES;
    let response: GetObjectCommandOutput;
    try {
      response = await this.call('S3.GetObject', ref, () =>
        this.client.send(new GetObjectCommand({ Bucket: ref.bucket, Key: ref.key })),
      );
    } catch (thrown: unknown) {
      if (thrown instanceof ObjectNotFoundError) return undefined;
      throw thrown;
    }
    const stream = bodyStream(response, ref);
    if (response.ContentLength !== undefined && response.ContentLength > maxBytes) {
      stream.destroy();
      throw new UnreadableObjectError(
        ref.bucket,
        ref.key,
        `${response.ContentLength} bytes is over the ${maxBytes}-byte limit`,
      );
    }
    const chunks: Buffer[] = [];
    let size = 0;
    try {
      for await (const chunk of stream as AsyncIterable<Buffer>) {
        size += chunk.length;
        // Also checked while reading: ContentLength may be absent (chunked responses).
        if (size > maxBytes) {
          stream.destroy();
          throw new UnreadableObjectError(ref.bucket, ref.key, `more than the ${maxBytes}-byte limit`);
        }
        chunks.push(chunk);
      }
    } catch (thrown: unknown) {
      throw this.convert(thrown, 'S3.GetObject', ref, 'if-match');
    }
    return withVersion(
      { text: Buffer.concat(chunks).toString('utf8'), etag: unquote(response.ETag) },
      response.VersionId,
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

  async head(ref: ObjectRef): Promise<ObjectInfo | undefined> {
    try {
      const result = await this.call('S3.HeadObject', ref, () =>
        this.client.send(new HeadObjectCommand({ Bucket: ref.bucket, Key: ref.key })),
      );
      return {
        bucket: ref.bucket,
        key: ref.key,
        size: result.ContentLength ?? 0,
        etag: unquote(result.ETag),
        metadata: result.Metadata ?? {},
        ...(result.VersionId !== undefined && { versionId: result.VersionId }),
        ...(result.LastModified !== undefined && { lastModified: result.LastModified }),
        ...(result.ContentType !== undefined && { contentType: result.ContentType }),
      };
    } catch (thrown: unknown) {
      // HEAD responses have no body, so S3 cannot say *what* is missing: a missing bucket also
      // lands here as "not found". Other errors (403, 5xx) still throw.
      if (thrown instanceof ObjectNotFoundError) return undefined;
      throw thrown;
    }
  }

  async *list(
    bucket: string,
    prefix: string,
    options: ListOptions = {},
  ): AsyncIterable<readonly ObjectSummary[]> {
    const pageSize = Math.min(Math.max(1, options.pageSize ?? LIST_PAGE_SIZE), LIST_PAGE_SIZE);
    const pages = paginateListObjectsV2(
      { client: this.client, pageSize },
      {
        Bucket: bucket,
        Prefix: prefix,
        ...(options.startAfter !== undefined && { StartAfter: options.startAfter }),
      },
    );
    try {
      for await (const result of pages) {
        const page = (result.Contents ?? []).flatMap((object): ObjectSummary[] =>
          object.Key === undefined
            ? []
            : [
                {
                  key: object.Key,
                  size: object.Size ?? 0,
                  etag: unquote(object.ETag),
                  ...(object.LastModified !== undefined && { lastModified: object.LastModified }),
                },
              ],
        );
        if (page.length > 0) yield page;
      }
    } catch (thrown: unknown) {
      throw classifyAwsError(thrown, 'S3.ListObjectsV2', `s3://${bucket}/${prefix}`);
    }
  }

  async copy(from: ObjectRef, to: ObjectRef, options: Pick<PutOptions, 'ifAbsent'> = {}): Promise<PutResult> {
    const result = await this.call('S3.CopyObject', to, async () => {
      try {
        return await this.client.send(
          new CopyObjectCommand({
            Bucket: to.bucket,
            Key: to.key,
            // CopySource is `bucket/key` with the key URL-encoded; `/` may stay as it is.
            CopySource: `${from.bucket}/${encodeURIComponent(from.key).replace(/%2F/g, '/')}`,
            ...(options.ifAbsent === true && { IfNoneMatch: '*' }),
          }),
        );
      } catch (thrown: unknown) {
        // The key reported missing is the source's, not the destination's.
        if (isNotFound(thrown)) throw new ObjectNotFoundError(from.bucket, from.key, { cause: thrown });
        throw thrown;
      }
    });
    return withVersion({ etag: unquote(result.CopyObjectResult?.ETag) }, result.VersionId);
  }

  async deleteMany(
    bucket: string,
    keys: Iterable<string> | AsyncIterable<string>,
  ): Promise<DeleteManyResult> {
    let deleted = 0;
    const failed: { key: string; code: string; message: string }[] = [];
    let batch: string[] = [];
    const flush = async (): Promise<void> => {
      const current = batch;
      batch = [];
      const result = await this.call('S3.DeleteObjects', { bucket, key: current[0] ?? '' }, () =>
        this.client.send(
          new DeleteObjectsCommand({
            Bucket: bucket,
            // Quiet: S3 then lists only the failures, keeping the response small.
            Delete: { Objects: current.map((Key) => ({ Key })), Quiet: true },
          }),
        ),
      );
      const errors = result.Errors ?? [];
      for (const error of errors) {
        failed.push({ key: error.Key ?? '', code: error.Code ?? 'Unknown', message: error.Message ?? '' });
      }
      deleted += current.length - errors.length;
    };
    for await (const key of keys) {
      batch.push(key);
      if (batch.length === DELETE_BATCH) await flush();
    }
    if (batch.length > 0) await flush();
    return { deleted, failed };
  }

  async bucketExists(bucket: string): Promise<boolean> {
    try {
      await this.client.send(new HeadBucketCommand({ Bucket: bucket }));
      return true;
    } catch (thrown: unknown) {
      if (isNotFound(thrown)) return false;
      throw classifyAwsError(thrown, 'S3.HeadBucket', `s3://${bucket}`);
    }
  }

  async ensureBucket(
    bucket: string,
    options: EnsureBucketOptions = {},
  ): Promise<{ readonly created: boolean }> {
    if (await this.bucketExists(bucket)) return { created: false };
    const region = await this.client.config.region();
    try {
      await this.client.send(
        new CreateBucketCommand({
          Bucket: bucket,
          // us-east-1 is the one region that refuses an explicit location constraint.
          ...(region !== 'us-east-1' && {
            CreateBucketConfiguration: { LocationConstraint: region as BucketLocationConstraint },
          }),
        }),
      );
    } catch (thrown: unknown) {
      // Another provision run created it between our HEAD and CREATE: that is success.
      if (describeAwsError(thrown).code === 'BucketAlreadyOwnedByYou') return { created: false };
      throw classifyAwsError(thrown, 'S3.CreateBucket', `s3://${bucket}`);
    }
    try {
      // S3 is eventually consistent about new buckets: wait with the SDK's waiter, not a loop.
      await waitUntilBucketExists(
        { client: this.client, maxWaitTime: this.bucketWaitSeconds },
        { Bucket: bucket },
      );
    } catch (thrown: unknown) {
      throw classifyAwsError(thrown, 'S3.waitUntilBucketExists', `s3://${bucket}`);
    }
    const tags = Object.entries(options.tags ?? {});
    if (tags.length > 0) {
      await this.call('S3.PutBucketTagging', { bucket, key: '' }, () =>
        this.client.send(
          new PutBucketTaggingCommand({
            Bucket: bucket,
            Tagging: { TagSet: tags.map(([Key, Value]) => ({ Key, Value })) },
          }),
        ),
      );
    }
    return { created: true };
  }

  async getQueueNotifications(bucket: string): Promise<BucketNotifications> {
    const result = await this.call('S3.GetBucketNotificationConfiguration', { bucket, key: '' }, () =>
      this.client.send(new GetBucketNotificationConfigurationCommand({ Bucket: bucket })),
    );
    return { queues: (result.QueueConfigurations ?? []).map(fromQueueConfiguration) };
  }

  async putQueueNotifications(bucket: string, notifications: BucketNotifications): Promise<void> {
    // PutBucketNotificationConfiguration replaces the whole configuration: read it first so a
    // user's own Lambda, SNS or EventBridge notifications on the bucket survive.
    const current = await this.call('S3.GetBucketNotificationConfiguration', { bucket, key: '' }, () =>
      this.client.send(new GetBucketNotificationConfigurationCommand({ Bucket: bucket })),
    );
    await this.call('S3.PutBucketNotificationConfiguration', { bucket, key: '' }, () =>
      this.client.send(
        new PutBucketNotificationConfigurationCommand({
          Bucket: bucket,
          NotificationConfiguration: {
            ...(current.TopicConfigurations !== undefined && {
              TopicConfigurations: current.TopicConfigurations,
            }),
            ...(current.LambdaFunctionConfigurations !== undefined && {
              LambdaFunctionConfigurations: current.LambdaFunctionConfigurations,
            }),
            ...(current.EventBridgeConfiguration !== undefined && {
              EventBridgeConfiguration: current.EventBridgeConfiguration,
            }),
            QueueConfigurations: notifications.queues.map(toQueueConfiguration),
          },
        }),
      ),
    );
  }

  /**
   * Runs one SDK call and converts what it throws. `condition` names the precondition a 412 means:
   * reads are conditional on `If-Match`, writes on `If-None-Match` unless they say otherwise.
   */
  private async call<T>(
    operation: string,
    ref: ObjectRef,
    run: () => Promise<T>,
    condition: 'if-match' | 'if-none-match' = operation === 'S3.GetObject' ? 'if-match' : 'if-none-match',
  ): Promise<T> {
    try {
      return await run();
    } catch (thrown: unknown) {
      throw this.convert(thrown, operation, ref, condition);
    }
  }

  private convert(
    thrown: unknown,
    operation: string,
    ref: ObjectRef,
    condition: 'if-match' | 'if-none-match',
  ): Error {
    if (thrown instanceof SluiceError) return thrown;
    if (isNotFound(thrown) && ref.key !== '')
      return new ObjectNotFoundError(ref.bucket, ref.key, { cause: thrown });
    const { code, httpStatus } = describeAwsError(thrown);
    if (code === 'PreconditionFailed' || httpStatus === 412) {
      return new PreconditionFailedError(ref.bucket, ref.key, condition, { cause: thrown });
    }
    return classifyAwsError(thrown, operation, describeRef(ref));
  }
}

/** True for "no such key/version" and for the bodiless 404 of a HEAD request. */
function isNotFound(thrown: unknown): boolean {
  const { code, httpStatus } = describeAwsError(thrown);
  return (
    code === 'NoSuchKey' ||
    code === 'NoSuchVersion' ||
    code === 'NotFound' ||
    (httpStatus === 404 && code !== 'NoSuchBucket')
  );
}

function bodyStream(response: GetObjectCommandOutput, ref: ObjectRef): Readable {
  // In Node the SDK returns an http.IncomingMessage, a Readable; anything else is a bug.
  if (response.Body instanceof Readable) return response.Body;
  throw new SluiceError(`S3.GetObject on ${describeRef(ref)} returned no readable body`);
}

function putParams(options: PutOptions): {
  ContentType?: string;
  Metadata?: Record<string, string>;
  IfNoneMatch?: string;
} {
  return {
    ...(options.contentType !== undefined && { ContentType: options.contentType }),
    ...(options.metadata !== undefined && { Metadata: { ...options.metadata } }),
    ...(options.ifAbsent === true && { IfNoneMatch: '*' }),
  };
}

function fromQueueConfiguration(configuration: QueueConfiguration): QueueNotification {
  const rules = configuration.Filter?.Key?.FilterRules ?? [];
  // AWS answers `Prefix`/`Suffix` though it is sent `prefix`/`suffix`.
  const rule = (name: string): string | undefined => rules.find((r) => r.Name?.toLowerCase() === name)?.Value;
  const prefix = rule('prefix');
  const suffix = rule('suffix');
  return {
    queueArn: configuration.QueueArn ?? '',
    events: configuration.Events ?? [],
    ...(configuration.Id !== undefined && { id: configuration.Id }),
    ...(prefix !== undefined && { prefix }),
    ...(suffix !== undefined && { suffix }),
  };
}

function toQueueConfiguration(notification: QueueNotification): QueueConfiguration {
  const rules: FilterRule[] = [
    ...(notification.prefix !== undefined ? [{ Name: 'prefix' as const, Value: notification.prefix }] : []),
    ...(notification.suffix !== undefined ? [{ Name: 'suffix' as const, Value: notification.suffix }] : []),
  ];
  return {
    QueueArn: notification.queueArn,
    Events: [...notification.events] as QueueConfiguration['Events'],
    ...(notification.id !== undefined && { Id: notification.id }),
    ...(rules.length > 0 && { Filter: { Key: { FilterRules: rules } } }),
  };
}

function withVersion<T extends object>(value: T, versionId: string | undefined): T & { versionId?: string } {
  // moto and unversioned buckets answer `null` or nothing; only a real id is worth passing on.
  return versionId !== undefined && versionId !== 'null' ? { ...value, versionId } : value;
}

function unquote(etag: string | undefined): string {
  return (etag ?? '').replace(/^"(.*)"$/, '$1');
}

function quote(etag: string): string {
  return etag.startsWith('"') ? etag : `"${etag}"`;
}

function describeRef(ref: ObjectRef): string {
  return ref.key === '' ? `s3://${ref.bucket}` : `s3://${ref.bucket}/${ref.key}`;
}

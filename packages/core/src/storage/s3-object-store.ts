import { randomBytes } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import { mkdir, rename, rm, stat } from 'node:fs/promises';
import { dirname } from 'node:path';
import { pipeline } from 'node:stream/promises';

import {
  CopyObjectCommand,
  DeleteObjectsCommand,
  GetObjectCommand,
  HeadObjectCommand,
  PutObjectCommand,
  paginateListObjectsV2,
  type GetObjectCommandOutput,
  type S3Client,
} from '@aws-sdk/client-s3';
import { Upload } from '@aws-sdk/lib-storage';

import { SluiceError, toError } from '../errors.js';
import { AwsRequestError, classifyAwsError } from '../aws/errors.js';
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
  type TextObject,
} from './object-store.js';
import {
  ensureS3Bucket,
  getS3QueueNotifications,
  putS3QueueNotifications,
  s3BucketExists,
} from './s3-bucket-setup.js';
import {
  bodyStream,
  callS3,
  describeRef,
  isNotFound,
  putParams,
  quote,
  s3Error,
  unquote,
  withVersion,
} from './s3-requests.js';

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
    const response = await callS3('S3.GetObject', ref, () =>
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
      throw s3Error(thrown, 'S3.GetObject', ref, 'if-match');
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
      const result = await callS3('S3.PutObject', ref, () =>
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
    const result = await callS3('S3.Upload', ref, () => upload.done());
    return withVersion({ etag: unquote(result.ETag) }, result.VersionId);
  }

  async put(ref: ObjectRef, body: string | Uint8Array, options: PutOptions = {}): Promise<PutResult> {
    const condition = options.ifMatch !== undefined ? 'if-match' : 'if-none-match';
    const result = await callS3(
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
      response = await callS3('S3.GetObject', ref, () =>
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
      throw s3Error(thrown, 'S3.GetObject', ref, 'if-match');
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
      const result = await callS3('S3.HeadObject', ref, () =>
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
    const result = await callS3('S3.CopyObject', to, async () => {
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
      const result = await callS3('S3.DeleteObjects', { bucket, key: current[0] ?? '' }, () =>
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
    return s3BucketExists(this.client, bucket);
  }

  async ensureBucket(
    bucket: string,
    options: EnsureBucketOptions = {},
  ): Promise<{ readonly created: boolean }> {
    return ensureS3Bucket(this.client, bucket, options, this.bucketWaitSeconds);
  }

  async getQueueNotifications(bucket: string): Promise<BucketNotifications> {
    return getS3QueueNotifications(this.client, bucket);
  }

  async putQueueNotifications(bucket: string, notifications: BucketNotifications): Promise<void> {
    return putS3QueueNotifications(this.client, bucket, notifications);
  }
}

/**
 * The object storage sluice needs, as one small interface: the S3 adapter implements it for AWS and
 * any S3-compatible endpoint, and `@sluice/testing` has an in-memory fake that passes the same
 * contract tests.
 *
 * ETags are always given without the surrounding quotes S3 puts on them, so they compare equal to
 * the `eTag` of an S3 event notification.
 */

/** Where an object lives. */
export interface ObjectRef {
  readonly bucket: string;
  readonly key: string;
}

/** What a write produced. */
export interface PutResult {
  /** ETag without quotes (an MD5 for single-part uploads, `<md5>-<parts>` for multipart). */
  readonly etag: string;
  /** Set when the bucket is versioned. */
  readonly versionId?: string;
}

/** What a download wrote. */
export interface DownloadResult {
  /** Bytes written to the file. */
  readonly size: number;
  readonly etag: string;
  readonly versionId?: string;
}

/** An object's metadata, from `head`. */
export interface ObjectInfo {
  readonly bucket: string;
  readonly key: string;
  readonly size: number;
  readonly etag: string;
  readonly versionId?: string;
  readonly lastModified?: Date;
  readonly contentType?: string;
  /** User metadata (`x-amz-meta-*`), names in lower case. */
  readonly metadata: Readonly<Record<string, string>>;
}

/** One entry of a listing page. */
export interface ObjectSummary {
  readonly key: string;
  readonly size: number;
  readonly etag: string;
  readonly lastModified?: Date;
}

/** A small object read whole (records, markers, manifests). */
export interface TextObject {
  readonly text: string;
  readonly etag: string;
  readonly versionId?: string;
}

/** Options of every write. */
export interface PutOptions {
  readonly contentType?: string;
  /** User metadata, sent as `x-amz-meta-*`. */
  readonly metadata?: Readonly<Record<string, string>>;
  /**
   * Write only if no object has this key (`If-None-Match: *`); otherwise throw
   * `PreconditionFailedError`. How a completion marker is written exactly once.
   */
  readonly ifAbsent?: boolean;
  /**
   * Write only if the object still has this ETag (`If-Match`); otherwise throw
   * `PreconditionFailedError` (`ObjectNotFoundError` when it is gone). How a read-modify-write keeps
   * another writer's change (see `updateJson`). For `put`/`putJson` only.
   */
  readonly ifMatch?: string;
}

/** Options of `download`. */
export interface DownloadOptions {
  /** Read this version rather than the latest. */
  readonly versionId?: string;
  /**
   * Read only if the object still has this ETag (`If-Match`); otherwise throw
   * `PreconditionFailedError`, so a task never processes a newer object than its event named.
   */
  readonly ifMatch?: string;
}

/** Options of `list`. */
export interface ListOptions {
  /** Keys per page, at most 1,000 (S3's own maximum, and the default). */
  readonly pageSize?: number;
  /** Start listing after this key (exclusive), e.g. to resume. */
  readonly startAfter?: string;
}

/** Options of `getText`/`getJson`. */
export interface GetOptions {
  /**
   * Refuse objects larger than this many bytes (default 8 MiB): these methods read the whole
   * object into memory, which is right for records and markers and wrong for data.
   */
  readonly maxBytes?: number;
}

/** The outcome of `deleteMany`. */
export interface DeleteManyResult {
  readonly deleted: number;
  /** Keys S3 refused to delete, with its code and message. */
  readonly failed: readonly { readonly key: string; readonly code: string; readonly message: string }[];
}

/** One S3 → SQS notification of a bucket. */
export interface QueueNotification {
  /** The configuration's id; S3 generates one when it is not given. */
  readonly id?: string;
  readonly queueArn: string;
  /** Event types, e.g. `s3:ObjectCreated:*`. */
  readonly events: readonly string[];
  /** S3 allows one prefix and one suffix filter per configuration. */
  readonly prefix?: string;
  readonly suffix?: string;
}

/**
 * The S3 → SQS part of a bucket's notification configuration. Other kinds (SNS topics, Lambda
 * functions, EventBridge) are left as they are by `putQueueNotifications`.
 */
export interface BucketNotifications {
  readonly queues: readonly QueueNotification[];
}

/** Options of `ensureBucket`. */
export interface EnsureBucketOptions {
  /** Tags set when sluice creates the bucket (never on a bucket it did not create). */
  readonly tags?: Readonly<Record<string, string>>;
}

/**
 * Object storage as sluice uses it. Every method may throw `ConfigurationError` (denied, missing
 * bucket, bad credentials: the user fixes it) or `AwsRequestError` (a fault; `retryable` says if a
 * retry may help).
 *
 * @example
 * const store: ObjectStore = new S3ObjectStore(new S3Client({}));
 * const { size } = await store.download({ bucket: 'in', key: 'a/b.csv' }, '/work/input/b.csv');
 */
export interface ObjectStore {
  /**
   * Streams an object to a file (any size; never held in memory). The file appears at `filePath`
   * only when complete.
   * @throws ObjectNotFoundError when the object (or version) does not exist.
   * @throws PreconditionFailedError when `ifMatch` is given and the ETag differs.
   */
  download(ref: ObjectRef, filePath: string, options?: DownloadOptions): Promise<DownloadResult>;

  /**
   * Streams a file to an object; large files go up in parts.
   * @throws PreconditionFailedError when `ifAbsent` is set and the object exists.
   */
  upload(ref: ObjectRef, filePath: string, options?: PutOptions): Promise<PutResult>;

  /**
   * Writes a small text or binary body.
   * @throws PreconditionFailedError when `ifAbsent` is set and the object exists, or `ifMatch` is
   *   set and the ETag differs.
   * @throws ObjectNotFoundError when `ifMatch` is set and the object does not exist.
   */
  put(ref: ObjectRef, body: string | Uint8Array, options?: PutOptions): Promise<PutResult>;

  /**
   * Writes `JSON.stringify(value)` with content type `application/json`.
   * @throws PreconditionFailedError or ObjectNotFoundError as `put` does.
   */
  putJson(ref: ObjectRef, value: unknown, options?: PutOptions): Promise<PutResult>;

  /**
   * Writes only if the key is free; resolves to `undefined` when it was taken, instead of throwing.
   */
  putIfAbsent(
    ref: ObjectRef,
    body: string | Uint8Array,
    options?: Omit<PutOptions, 'ifAbsent'>,
  ): Promise<PutResult | undefined>;

  /**
   * Reads a small object as UTF-8 text; `undefined` when it does not exist.
   * @throws UnreadableObjectError when it is larger than `maxBytes`.
   */
  getText(ref: ObjectRef, options?: GetOptions): Promise<TextObject | undefined>;

  /**
   * Reads and parses a small JSON object; `undefined` when it does not exist. The value is
   * `unknown`: validate it before use.
   * @throws UnreadableObjectError when it is larger than `maxBytes` or is not JSON.
   */
  getJson(
    ref: ObjectRef,
    options?: GetOptions,
  ): Promise<{ readonly value: unknown; readonly etag: string } | undefined>;

  /** An object's metadata; `undefined` when it does not exist (other errors throw). */
  head(ref: ObjectRef): Promise<ObjectInfo | undefined>;

  /** Lists keys under a prefix, one page (at most 1,000 keys) at a time, in key order. */
  list(bucket: string, prefix: string, options?: ListOptions): AsyncIterable<readonly ObjectSummary[]>;

  /**
   * Copies an object (server side; up to 5 GB, S3's single-copy limit).
   * @throws ObjectNotFoundError when the source does not exist.
   */
  copy(from: ObjectRef, to: ObjectRef, options?: Pick<PutOptions, 'ifAbsent'>): Promise<PutResult>;

  /** Deletes keys in batches of 1,000; keys that do not exist count as deleted (as in S3). */
  deleteMany(bucket: string, keys: Iterable<string> | AsyncIterable<string>): Promise<DeleteManyResult>;

  /** True when the bucket exists and these credentials may use it. */
  bucketExists(bucket: string): Promise<boolean>;

  /**
   * Creates the bucket unless it exists; `created` says which. Idempotent.
   * @throws ConfigurationError when the name belongs to another account or is invalid.
   */
  ensureBucket(bucket: string, options?: EnsureBucketOptions): Promise<{ readonly created: boolean }>;

  /** The bucket's S3 → SQS notifications. */
  getQueueNotifications(bucket: string): Promise<BucketNotifications>;

  /**
   * Replaces the bucket's S3 → SQS notifications, keeping its other notification kinds.
   * @throws ConfigurationError when S3 refuses the destination (queue missing, or its policy does
   * not let S3 send).
   */
  putQueueNotifications(bucket: string, notifications: BucketNotifications): Promise<void>;
}

/**
 * Default and maximum keys per listing page (S3's own page size).
 *
 * @example
 * for await (const page of store.list(bucket, prefix, { pageSize: LIST_PAGE_SIZE })) enqueue(page);
 */
export const LIST_PAGE_SIZE = 1000;

/**
 * Default `maxBytes` of `getText`/`getJson`.
 *
 * @example
 * await store.getJson(recordRef, { maxBytes: SMALL_OBJECT_MAX_BYTES / 8 });
 */
export const SMALL_OBJECT_MAX_BYTES = 8 * 1024 * 1024;

// Presigned transfers for sealed mode: the broker alone holds S3 credentials and hands a worker a
// presigned GET for its input and one presigned POST policy bound to the attempt's staging prefix.
// The worker's side (no credentials, plain HTTP) is presigned-transfer.ts.
import { GetObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { createPresignedPost } from '@aws-sdk/s3-presigned-post';
import { getSignedUrl } from '@aws-sdk/s3-request-presigner';

import { SluiceError } from '../errors.js';

/**
 * The largest object one POST (or PUT) may carry: S3 refuses a single upload above 5 GiB; larger
 * objects need a multipart upload, which a POST policy cannot grant.
 */
export const S3_POST_MAX_BYTES = 5 * 1024 ** 3;

/** The longest a SigV4 presigned URL or policy may live: S3 refuses an expiry beyond 7 days. */
export const PRESIGN_MAX_EXPIRY_SECONDS = 7 * 24 * 60 * 60;

/** A presigned GET of one object. The URL's query is a bearer secret: never log it. */
export interface PresignedGet {
  readonly url: string;
  /** When S3 stops honouring {@link PresignedGet.url} (ISO 8601). */
  readonly expiresAt: string;
  /** The object, for error messages (both are in the URL's path or host too; neither is secret). */
  readonly bucket: string;
  readonly key: string;
}

/**
 * A presigned POST policy: any key under {@link PresignedPost.keyPrefix}, at most
 * {@link PresignedPost.maxBytes} bytes each, until {@link PresignedPost.expiresAt}. `fields` (the
 * policy and its signature) are a bearer secret: never log them.
 */
export interface PresignedPost {
  /** Where to POST the form: the bucket's URL (path-style on a custom endpoint). */
  readonly url: string;
  /** Form fields to send before the file; the worker replaces `key` with the object's key. */
  readonly fields: Readonly<Record<string, string>>;
  readonly keyPrefix: string;
  readonly maxBytes: number;
  /** ISO 8601. */
  readonly expiresAt: string;
}

/** What a broker needs to hand out transfers without sharing credentials. */
export interface Presigner {
  /** @throws SluiceError when the expiry is out of S3's range. */
  presignGet(
    ref: { readonly bucket: string; readonly key: string; readonly versionId?: string },
    expiresInSeconds: number,
  ): Promise<PresignedGet>;
  /** @throws SluiceError when the prefix is empty, or the size or expiry is out of S3's range. */
  presignPost(scope: {
    readonly bucket: string;
    readonly keyPrefix: string;
    readonly maxBytes: number;
    readonly expiresInSeconds: number;
    /** User metadata every upload must carry (`x-amz-meta-<name>`, pinned by the policy). */
    readonly metadata?: Readonly<Record<string, string>>;
  }): Promise<PresignedPost>;
}

function checkExpiry(expiresInSeconds: number): void {
  if (
    !Number.isInteger(expiresInSeconds) ||
    expiresInSeconds < 1 ||
    expiresInSeconds > PRESIGN_MAX_EXPIRY_SECONDS
  ) {
    throw new SluiceError(
      `a presigned request must expire in 1 to ${PRESIGN_MAX_EXPIRY_SECONDS} whole seconds (S3's limit); got ${expiresInSeconds}`,
    );
  }
}

function expiry(expiresInSeconds: number, now: number): string {
  return new Date(now + expiresInSeconds * 1000).toISOString();
}

/**
 * {@link Presigner} over an S3 client that holds credentials. Signing is local (no request to
 * S3); the URLs follow the client's addressing, so a client with `forcePathStyle` (what
 * `awsClientConfig` gives for a custom endpoint such as moto or SeaweedFS) yields
 * `http://host/bucket/key`, and an AWS client virtual-hosted `https://bucket.s3.region.amazonaws.com/key`.
 *
 * @example
 * const presigner = new S3Presigner(new S3Client(awsClientConfig(process.env).s3));
 * const input = await presigner.presignGet({ bucket: 'in', key: 'photos/a.ppm' }, 900);
 * const output = await presigner.presignPost({ bucket: 'out', keyPrefix: 'staging/run/task/1/', maxBytes: 1 << 30, expiresInSeconds: 3600 });
 */
export class S3Presigner implements Presigner {
  constructor(private readonly s3: S3Client) {}

  /**
   * A GET of one object (one version, when given), valid for `expiresInSeconds`.
   *
   * @example
   * const get = await presigner.presignGet({ bucket: 'in', key: 'a.csv' }, 900);
   * @throws SluiceError when `expiresInSeconds` is not a whole number in 1..604800.
   */
  async presignGet(
    ref: { readonly bucket: string; readonly key: string; readonly versionId?: string },
    expiresInSeconds: number,
  ): Promise<PresignedGet> {
    checkExpiry(expiresInSeconds);
    const issued = Date.now();
    const url = await getSignedUrl(
      this.s3,
      new GetObjectCommand({
        Bucket: ref.bucket,
        Key: ref.key,
        ...(ref.versionId !== undefined && { VersionId: ref.versionId }),
      }),
      { expiresIn: expiresInSeconds, signingDate: new Date(issued) },
    );
    return { url, expiresAt: expiry(expiresInSeconds, issued), bucket: ref.bucket, key: ref.key };
  }

  /**
   * One POST policy for every key under `keyPrefix`, each at most `maxBytes`. The policy's
   * conditions: `["starts-with", "$key", keyPrefix]`, `["content-length-range", 0, maxBytes]`, the
   * bucket, the signing fields, any `Content-Type`, and the expiry. S3 refuses a form with a field
   * the policy does not name, so `Content-Type` is allowed explicitly.
   *
   * @example
   * const post = await presigner.presignPost({ bucket: 'out', keyPrefix: 'staging/r/t/1/', maxBytes: 1 << 30, expiresInSeconds: 3600 });
   * @throws SluiceError when `keyPrefix` is empty (that would grant the whole bucket), `maxBytes`
   * is not a whole number in 0..{@link S3_POST_MAX_BYTES}, or the expiry is out of range.
   */
  async presignPost(scope: {
    readonly bucket: string;
    readonly keyPrefix: string;
    readonly maxBytes: number;
    readonly expiresInSeconds: number;
    readonly metadata?: Readonly<Record<string, string>>;
  }): Promise<PresignedPost> {
    const { bucket, keyPrefix, maxBytes, expiresInSeconds } = scope;
    // Fields go into the form and, each as an exact match, into the policy's conditions.
    const metadata = Object.fromEntries(
      Object.entries(scope.metadata ?? {}).map(([name, value]) => [`x-amz-meta-${name}`, value]),
    );
    checkExpiry(expiresInSeconds);
    if (keyPrefix === '') {
      throw new SluiceError(
        'a presigned POST needs a key prefix: an empty one would let its holder write anywhere in the bucket',
      );
    }
    if (!Number.isSafeInteger(maxBytes) || maxBytes < 0 || maxBytes > S3_POST_MAX_BYTES) {
      throw new SluiceError(
        `a presigned POST's size limit must be 0 to ${S3_POST_MAX_BYTES} bytes (S3's POST limit); got ${maxBytes}`,
      );
    }
    const issued = Date.now();
    // createPresignedPost names the S3Client of its own pinned @aws-sdk/client-s3 (3.1164.0 beside
    // our 3.1173.0), so lint sees another class; it reads only the client's config (region,
    // credentials, hashing, endpoint and addressing), which both versions share.
    // eslint-disable-next-line @typescript-eslint/no-unsafe-class-instance-assignment -- see above
    const signed = await createPresignedPost(this.s3, {
      Bucket: bucket,
      // A key ending in ${filename} makes createPresignedPost add ["starts-with", "$key", prefix]
      // instead of pinning one key; the worker sends its real key in the `key` field.
      Key: `${keyPrefix}\${filename}`,
      Fields: metadata,
      Conditions: [
        ['starts-with', '$key', keyPrefix],
        ['content-length-range', 0, maxBytes],
        ['starts-with', '$Content-Type', ''],
      ],
      Expires: expiresInSeconds,
    });
    return {
      url: signed.url,
      fields: { ...signed.fields },
      keyPrefix,
      maxBytes,
      expiresAt: expiry(expiresInSeconds, issued),
    };
  }
}

// How the S3 store speaks S3: one conversion of what a call throws into sluice's errors, and the
// small translations of its requests (ETags quoted, put options) and answers (version ids, bodies).
import { Readable } from 'node:stream';

import type { GetObjectCommandOutput } from '@aws-sdk/client-s3';

import { SluiceError } from '../errors.js';
import { classifyAwsError, describeAwsError } from '../aws/errors.js';
import { ObjectNotFoundError, PreconditionFailedError } from './errors.js';
import type { ObjectRef, PutOptions } from './object-store.js';

/**
 * Runs one SDK call and converts what it throws. `condition` names the precondition a 412 means:
 * reads are conditional on `If-Match`, writes on `If-None-Match` unless they say otherwise.
 *
 * @example
 * const head = await callS3('S3.HeadObject', ref, () => client.send(new HeadObjectCommand(input)));
 * @throws ObjectNotFoundError, PreconditionFailedError, ConfigurationError or AwsRequestError.
 */
export async function callS3<T>(
  operation: string,
  ref: ObjectRef,
  run: () => Promise<T>,
  condition: 'if-match' | 'if-none-match' = operation === 'S3.GetObject' ? 'if-match' : 'if-none-match',
): Promise<T> {
  try {
    return await run();
  } catch (thrown: unknown) {
    throw s3Error(thrown, operation, ref, condition);
  }
}

/**
 * What a failed S3 call means for `ref`: the object missing, a precondition failed, or an AWS
 * error classified. A SluiceError passes through as it is.
 *
 * @example
 * throw s3Error(thrown, 'S3.GetObject', ref, 'if-match');
 * @throws never: it returns the error to throw.
 */
export function s3Error(
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

/**
 * True for "no such key/version" and for the bodiless 404 of a HEAD request.
 *
 * @example
 * if (isNotFound(thrown)) throw new ObjectNotFoundError(from.bucket, from.key, { cause: thrown });
 * @throws never.
 */
export function isNotFound(thrown: unknown): boolean {
  const { code, httpStatus } = describeAwsError(thrown);
  return (
    code === 'NoSuchKey' ||
    code === 'NoSuchVersion' ||
    code === 'NotFound' ||
    (httpStatus === 404 && code !== 'NoSuchBucket')
  );
}

/**
 * The body of a GetObject answer as a stream.
 *
 * @example
 * await pipeline(bodyStream(response, ref), createWriteStream(path));
 * @throws {SluiceError} when the SDK returned no Node stream (a bug).
 */
export function bodyStream(response: GetObjectCommandOutput, ref: ObjectRef): Readable {
  // In Node the SDK returns an http.IncomingMessage, a Readable; anything else is a bug.
  if (response.Body instanceof Readable) return response.Body;
  throw new SluiceError(`S3.GetObject on ${describeRef(ref)} returned no readable body`);
}

/**
 * The PutObject parameters a {@link PutOptions} asks for: content type, metadata, If-None-Match.
 *
 * @example
 * new PutObjectCommand({ Bucket, Key, Body, ...putParams({ ifAbsent: true }) });
 * @throws never.
 */
export function putParams(options: PutOptions): {
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

/**
 * `value` with the answer's version id, when the bucket gave a real one.
 *
 * @example
 * withVersion({ etag }, result.VersionId); // { etag, versionId: '3HL4...' } or { etag }
 * @throws never.
 */
export function withVersion<T extends object>(
  value: T,
  versionId: string | undefined,
): T & { versionId?: string } {
  // moto and unversioned buckets answer `null` or nothing; only a real id is worth passing on.
  return versionId !== undefined && versionId !== 'null' ? { ...value, versionId } : value;
}

/**
 * An ETag as sluice passes it on: without S3's quotes.
 *
 * @example
 * unquote('"9b2cf535f27731c974343645a3985328"'); // '9b2cf535f27731c974343645a3985328'
 * @throws never.
 */
export function unquote(etag: string | undefined): string {
  return (etag ?? '').replace(/^"(.*)"$/, '$1');
}

/**
 * An ETag as S3's If-Match wants it: quoted.
 *
 * @example
 * quote('9b2cf535'); // '"9b2cf535"'
 * @throws never.
 */
export function quote(etag: string): string {
  return etag.startsWith('"') ? etag : `"${etag}"`;
}

/**
 * `s3://bucket/key`, or `s3://bucket` for the bucket itself (an empty key).
 *
 * @example
 * describeRef({ bucket: 'in', key: 'a.png' }); // 's3://in/a.png'
 * @throws never.
 */
export function describeRef(ref: ObjectRef): string {
  return ref.key === '' ? `s3://${ref.bucket}` : `s3://${ref.bucket}/${ref.key}`;
}

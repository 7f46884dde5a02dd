// Errors of the storage adapters: what S3 answered about one object, in terms the runner acts on.
import { InfrastructureError } from '../errors.js';

/**
 * The object asked for does not exist (or the version asked for is gone). The runner records this
 * as "input missing": retrying will not bring it back.
 *
 * @example
 * try { await store.download(ref, path); } catch (e) { if (e instanceof ObjectNotFoundError) recordInputMissing(e.bucket, e.key); }
 */
export class ObjectNotFoundError extends InfrastructureError {
  readonly bucket: string;
  readonly key: string;

  constructor(bucket: string, key: string, options?: { cause?: unknown }) {
    super(`s3://${bucket}/${key} does not exist`, options);
    this.name = 'ObjectNotFoundError';
    this.bucket = bucket;
    this.key = key;
  }
}

/**
 * A conditional request did not hold: a put with `ifAbsent` found the object already there, or a
 * download with `ifMatch` found a different ETag (the object was replaced since the event).
 *
 * @example
 * try { await store.putJson(marker, done, { ifAbsent: true }); } catch (e) { if (e instanceof PreconditionFailedError) alreadyCommitted(); }
 */
export class PreconditionFailedError extends InfrastructureError {
  readonly bucket: string;
  readonly key: string;
  /** Which condition failed. */
  readonly condition: 'if-none-match' | 'if-match';

  constructor(
    bucket: string,
    key: string,
    condition: 'if-none-match' | 'if-match',
    options?: { cause?: unknown },
  ) {
    super(
      condition === 'if-none-match'
        ? `s3://${bucket}/${key} already exists`
        : `s3://${bucket}/${key} has changed (its ETag no longer matches)`,
      options,
    );
    this.name = 'PreconditionFailedError';
    this.bucket = bucket;
    this.key = key;
    this.condition = condition;
  }
}

/**
 * A small object (record, marker) could not be read as asked: larger than the limit for reading
 * whole, or not the JSON it should be.
 *
 * @example
 * try { await store.getJson(recordRef); } catch (e) { if (e instanceof UnreadableObjectError) logger.warning(e.message); }
 */
export class UnreadableObjectError extends InfrastructureError {
  readonly bucket: string;
  readonly key: string;

  constructor(bucket: string, key: string, reason: string, options?: { cause?: unknown }) {
    super(`s3://${bucket}/${key} cannot be read: ${reason}`, options);
    this.name = 'UnreadableObjectError';
    this.bucket = bucket;
    this.key = key;
  }
}

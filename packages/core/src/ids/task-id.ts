// The task id: one per input object version, the same whoever computes it (the dispatcher listing
// the bucket, the watcher reading an S3 event, the runner), so a re-delivered or re-enqueued task
// finds its existing record and completion marker.
import { createHash } from 'node:crypto';
import { SluiceError } from '../errors.js';

/** An input object as S3 names it. */
export interface ObjectIdentity {
  readonly bucket: string;
  readonly key: string;
  /** As S3 gives it, with or without the surrounding quotes (listing) or without (events). */
  readonly etag?: string;
  readonly versionId?: string;
}

/** What a task id looks like: 24 lower-case hex digits (96 bits of sha256). */
export const TASK_ID_PATTERN = /^[0-9a-f]{24}$/;

/**
 * Strips the quotes S3 puts around ETags in listings (events have none) and lower-cases it, so both
 * sources give the same text.
 *
 * @example
 * normalizeEtag('"9B2CF535F27731C974343645A3985328"'); // '9b2cf535f27731c974343645a3985328'
 */
export function normalizeEtag(etag: string): string {
  return etag.replace(/^(W\/)?"|"$/g, '').toLowerCase();
}

/**
 * The task id of an input object: the first 24 hex digits of
 * sha256(`["sluice-task-v1", bucket, key, "etag:<etag>"]`). The ETag is used whenever it is known,
 * even for versioned buckets, because listing objects (ListObjectsV2) gives no version id while
 * events do: keying on the ETag gives the same id from both. The version id is used only when no
 * ETag is known. A new upload with new content gets a new id (and is processed again); the same
 * content uploaded again keeps its id (and is skipped once done).
 *
 * @example
 * taskId({ bucket: 'photos', key: 'in/cat.jpg', etag: '"9b2cf535f27731c974343645a3985328"' }); // 24 hex digits
 * @throws {SluiceError} when neither an ETag nor a version id is given: the object's content cannot be told.
 */
export function taskId(object: ObjectIdentity): string {
  const etag = object.etag !== undefined ? normalizeEtag(object.etag) : '';
  const version = object.versionId !== undefined && object.versionId !== 'null' ? object.versionId : '';
  if (etag === '' && version === '') {
    throw new SluiceError(`taskId: s3://${object.bucket}/${object.key} has neither an ETag nor a version id`);
  }
  const content = etag !== '' ? `etag:${etag}` : `version:${version}`;
  const hash = createHash('sha256').update(
    JSON.stringify(['sluice-task-v1', object.bucket, object.key, content]),
  );
  return hash.digest('hex').slice(0, 24);
}

/**
 * True when the text is shaped like a task id.
 *
 * @example
 * isTaskId('0123456789abcdef01234567'); // true
 */
export function isTaskId(text: string): boolean {
  return TASK_ID_PATTERN.test(text);
}

/**
 * What a message on a task queue says. Two writers put messages there: S3 (event notifications,
 * including the `s3:TestEvent` it sends when a notification is configured) and sluice's dispatch
 * (task messages). The parser is strict and total: anything else comes back as `malformed` with a
 * reason, and nothing it is given makes it throw.
 */
import { checkTaskMessage, type TaskMessage } from '../schemas/task-message.js';

/** One record of an S3 event notification, with the key decoded. */
export interface S3EventRecord {
  /** Without the `s3:` prefix, as S3 writes it: `ObjectCreated:Put`, `ObjectRemoved:Delete`, ... */
  readonly eventName: string;
  /** ISO 8601 time of the event. */
  readonly eventTime: string;
  readonly awsRegion: string;
  readonly bucket: string;
  /** The object key, decoded. Use this one. */
  readonly key: string;
  /** The key exactly as the event carried it (URL-encoded, spaces as `+`), for logs. */
  readonly encodedKey: string;
  /** Bytes; S3 gives it for created objects only. */
  readonly size?: number;
  /** ETag without quotes; S3 gives it for created objects only. */
  readonly etag?: string;
  /** Set when the bucket is versioned. */
  readonly versionId?: string;
  /** Orders events of one key: a greater hex value is later. */
  readonly sequencer?: string;
  /** The notification configuration that sent it. */
  readonly configurationId?: string;
}

/** A record of an S3 event that could not be read: its place in the event, and what is wrong. */
export interface InvalidS3Record {
  /** Its index in `Records`. */
  readonly index: number;
  /** What is wrong, starting with the JSON path at fault (`$.Records[1].s3.object.eTag: ...`). */
  readonly reason: string;
}

/** A parsed queue message. */
export type QueueMessage =
  | {
      readonly kind: 's3-event';
      /** The records that could be read, in their order. */
      readonly records: readonly S3EventRecord[];
      /** The records that could not: the others are still good (one bad record spoils no other). */
      readonly invalid: readonly InvalidS3Record[];
    }
  | { readonly kind: 's3-test-event'; readonly bucket: string; readonly time: string }
  | { readonly kind: 'task'; readonly task: TaskMessage }
  | { readonly kind: 'malformed'; readonly reason: string };

/**
 * Decodes an object key as S3 encodes it in event notifications: form-URL-encoding, so `+` is a
 * space and a real `+` arrives as `%2B`. Throws `URIError` on a broken `%` sequence.
 *
 * @example
 * decodeS3EventKey('my+file%2B1.txt'); // 'my file+1.txt'
 * @throws URIError when the key holds a `%` not followed by two hex digits, or invalid UTF-8.
 */
export function decodeS3EventKey(encoded: string): string {
  return decodeURIComponent(encoded.replace(/\+/g, ' '));
}

/**
 * Encodes an object key the way S3 writes it into event notifications (the inverse of
 * {@link decodeS3EventKey}); `/` is kept. For fakes and tests that emit events as AWS does.
 *
 * @example
 * encodeS3EventKey('dir/my file+1.txt'); // 'dir/my+file%2B1.txt'
 * @throws never.
 */
export function encodeS3EventKey(key: string): string {
  return encodeURIComponent(key).replace(/%20/g, '+').replace(/%2F/g, '/');
}

/**
 * True for records of a created object (`ObjectCreated:Put`, `:Post`, `:Copy`,
 * `:CompleteMultipartUpload`), the only ones that make a task.
 *
 * @example
 * const tasks = message.records.filter(isObjectCreated);
 * @throws never.
 */
export function isObjectCreated(
  record: S3EventRecord,
): record is S3EventRecord & { size: number; etag: string } {
  return (
    record.eventName.startsWith('ObjectCreated:') && record.size !== undefined && record.etag !== undefined
  );
}

/**
 * Parses the body of a task-queue message. Never throws: a body that is neither an S3 event
 * notification, an S3 test event nor a sluice task message gives `{ kind: 'malformed', reason }`,
 * the reason naming the JSON path at fault. An S3 event is read record by record: the records that
 * cannot be read come back in `invalid` beside the good ones; only an event without any good record
 * is `malformed`.
 *
 * @example
 * const parsed = parseQueueMessage(message.body);
 * switch (parsed.kind) {
 *   case 's3-event': for (const r of parsed.records.filter(isObjectCreated)) enqueue(r.bucket, r.key); break;
 *   case 'task': run(parsed.task); break;
 *   case 's3-test-event': break; // delete it
 *   case 'malformed': setAside(message, parsed.reason); break;
 * }
 * @throws never.
 */
export function parseQueueMessage(body: string): QueueMessage {
  let value: unknown;
  try {
    value = JSON.parse(body);
  } catch {
    return malformed(`$: not JSON (${describeStart(body)})`);
  }
  if (!isObject(value)) return malformed(`$: expected a JSON object, found ${describeType(value)}`);
  if ('Records' in value) return parseS3Event(value.Records);
  if (value.Event === 's3:TestEvent') {
    if (typeof value.Bucket !== 'string' || typeof value.Time !== 'string') {
      return malformed('$: an s3:TestEvent needs string Bucket and Time');
    }
    return { kind: 's3-test-event', bucket: value.Bucket, time: value.Time };
  }
  if ('sluice' in value) {
    const check = checkTaskMessage(value);
    return check.ok
      ? { kind: 'task', task: check.message }
      : malformed(`sluice task message: ${check.reason}`);
  }
  if (value.Type === 'Notification' && typeof value.Message === 'string') {
    return malformed(
      '$: an SNS envelope, not an S3 event; turn on raw message delivery on the SNS subscription, or subscribe the queue to S3 directly',
    );
  }
  return malformed(
    '$: neither an S3 event notification (Records), an s3:TestEvent nor a sluice task message (sluice: 1)',
  );
}

function parseS3Event(records: unknown): QueueMessage {
  if (!Array.isArray(records) || records.length === 0) {
    return malformed('$.Records: expected a non-empty array');
  }
  const parsed: S3EventRecord[] = [];
  const invalid: InvalidS3Record[] = [];
  for (const [index, record] of (records as unknown[]).entries()) {
    const result = parseRecord(record, `$.Records[${index}]`);
    if (typeof result === 'string') invalid.push({ index, reason: result });
    else parsed.push(result);
  }
  if (parsed.length === 0) return malformed(invalid.map((record) => record.reason).join('; '));
  return { kind: 's3-event', records: parsed, invalid };
}

/** A record, or the reason it is not one. */
function parseRecord(record: unknown, path: string): S3EventRecord | string {
  if (!isObject(record)) return `${path}: expected an object, found ${describeType(record)}`;
  if (record.eventSource !== 'aws:s3')
    return `${path}.eventSource: expected "aws:s3", found ${describeValue(record.eventSource)}`;
  for (const field of ['eventName', 'eventTime', 'awsRegion'] as const) {
    if (typeof record[field] !== 'string')
      return `${path}.${field}: expected a string, found ${describeType(record[field])}`;
  }
  const s3 = record.s3;
  if (!isObject(s3)) return `${path}.s3: expected an object, found ${describeType(s3)}`;
  const bucket = s3.bucket;
  if (!isObject(bucket) || typeof bucket.name !== 'string' || bucket.name === '') {
    return `${path}.s3.bucket.name: expected a bucket name`;
  }
  const object = s3.object;
  if (!isObject(object)) return `${path}.s3.object: expected an object, found ${describeType(object)}`;
  if (typeof object.key !== 'string' || object.key === '')
    return `${path}.s3.object.key: expected a non-empty string`;
  let key: string;
  try {
    key = decodeS3EventKey(object.key);
  } catch {
    return `${path}.s3.object.key: not a URL-encoded key (${describeValue(object.key)})`;
  }
  const eventName = record.eventName as string;
  const created = eventName.startsWith('ObjectCreated:');
  const size = object.size;
  const etag = object.eTag;
  // A created object always has a size and an ETag; other events (deletes) may not.
  if (size !== undefined || created) {
    if (typeof size !== 'number' || !Number.isSafeInteger(size) || size < 0) {
      return `${path}.s3.object.size: expected an integer >= 0, found ${describeValue(size)}`;
    }
  }
  if (etag !== undefined || created) {
    if (typeof etag !== 'string' || etag === '')
      return `${path}.s3.object.eTag: expected a non-empty string, found ${describeValue(etag)}`;
  }
  for (const field of ['versionId', 'sequencer'] as const) {
    if (object[field] !== undefined && typeof object[field] !== 'string') {
      return `${path}.s3.object.${field}: expected a string, found ${describeType(object[field])}`;
    }
  }
  return {
    eventName,
    eventTime: record.eventTime as string,
    awsRegion: record.awsRegion as string,
    bucket: bucket.name,
    key,
    encodedKey: object.key,
    ...(typeof size === 'number' && { size }),
    ...(typeof etag === 'string' && { etag: etag.replace(/^"(.*)"$/, '$1') }),
    ...(typeof object.versionId === 'string' &&
      object.versionId !== 'null' && { versionId: object.versionId }),
    ...(typeof object.sequencer === 'string' && { sequencer: object.sequencer }),
    ...(typeof s3.configurationId === 'string' && { configurationId: s3.configurationId }),
  };
}

function malformed(reason: string): QueueMessage {
  return { kind: 'malformed', reason };
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function describeType(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  return typeof value === 'undefined' ? 'nothing' : `a ${typeof value}`;
}

function describeValue(value: unknown): string {
  if (typeof value === 'string') return JSON.stringify(value.length > 80 ? `${value.slice(0, 80)}…` : value);
  if (typeof value === 'number' || typeof value === 'boolean') return String(value);
  return describeType(value);
}

function describeStart(body: string): string {
  if (body.trim() === '') return 'empty body';
  return `starts with ${JSON.stringify(body.slice(0, 40))}`;
}

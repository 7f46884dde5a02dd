/**
 * sluice's own task message: what dispatch-tasks enqueues for an object already in the bucket (the
 * other kind of message on a task queue is S3's event notification). `sluice: 1` marks the
 * version, so a later shape can be told apart and an old runner can refuse it clearly.
 *
 * Unlike S3 events, the key is carried as is (JSON can hold any string), never URL-encoded.
 */
import Ajv2020 from 'ajv/dist/2020.js';
import type { ErrorObject, JSONSchemaType } from 'ajv';

/** Version 1 of the task message. */
export interface TaskMessage {
  /** Marks a sluice task message and its version. */
  readonly sluice: 1;
  /** The run this task belongs to. */
  readonly runId: string;
  /** Input bucket. */
  readonly bucket: string;
  /** Object key, not encoded. */
  readonly key: string;
  /** ETag of the object when it was enqueued, without quotes. */
  readonly etag: string;
  /** Version id when the bucket is versioned. */
  readonly versionId?: string;
  /** Size in bytes. */
  readonly size: number;
  /**
   * Attempts already used before this message was sent (default 0). A runner that releases a task
   * (SIGTERM) or moves it to the dead-letter queue sends a fresh message carrying the count, so the
   * attempt number (`attemptsUsed` + the message's receive count) survives the new message.
   */
  readonly attemptsUsed?: number;
  /**
   * Where this round's retry budget starts (default 0). A re-drive from the dead-letter queue keeps
   * numbering attempts after the earlier ones (`attemptsUsed`) but grants a fresh budget, so it sets
   * `retryFrom` to the attempts already used: the task is final once `attempt - retryFrom` reaches
   * the run's maximum.
   */
  readonly retryFrom?: number;
}

// Mutable mirror of TaskMessage for ajv's type-level schema check (it does not accept readonly or
// exact optional properties).
interface TaskMessageShape {
  sluice: 1;
  runId: string;
  bucket: string;
  key: string;
  etag: string;
  versionId?: string;
  size: number;
  attemptsUsed?: number;
  retryFrom?: number;
}

/**
 * JSON Schema (draft 2020-12) of {@link TaskMessage}. Extra properties are refused: a message that
 * does not match exactly was not written by this version of sluice.
 *
 * @example
 * writeFileSync('task-message.schema.json', JSON.stringify(taskMessageSchema, null, 2));
 */
export const taskMessageSchema: JSONSchemaType<TaskMessageShape> = {
  $schema: 'https://json-schema.org/draft/2020-12/schema',
  $id: 'https://sluice.dev/schemas/task-message.schema.json',
  title: 'sluice task message',
  type: 'object',
  properties: {
    sluice: { type: 'integer', const: 1 },
    runId: { type: 'string', minLength: 1, maxLength: 128 },
    // S3's own limits: bucket names are 3-63 characters, keys up to 1,024 bytes.
    bucket: { type: 'string', minLength: 3, maxLength: 63 },
    key: { type: 'string', minLength: 1, maxLength: 1024 },
    etag: { type: 'string', minLength: 1, maxLength: 128 },
    versionId: { type: 'string', minLength: 1, maxLength: 1024, nullable: true },
    size: { type: 'integer', minimum: 0 },
    attemptsUsed: { type: 'integer', minimum: 0, maximum: 1000, nullable: true },
    retryFrom: { type: 'integer', minimum: 0, maximum: 1000, nullable: true },
  },
  required: ['sluice', 'runId', 'bucket', 'key', 'etag', 'size'],
  additionalProperties: false,
};

// Compiled once, at module load.
const ajv = new Ajv2020({ allErrors: true, strict: true });
const validate = ajv.compile(taskMessageSchema);

/** The outcome of {@link checkTaskMessage}. */
export type TaskMessageCheck =
  { readonly ok: true; readonly message: TaskMessage } | { readonly ok: false; readonly reason: string };

/**
 * Checks a parsed JSON value against {@link taskMessageSchema}. Never throws; the reason names the
 * JSON path, what was expected and what was found.
 *
 * @example
 * const check = checkTaskMessage(JSON.parse(body));
 * if (check.ok) process(check.message); else logger.warning(check.reason);
 */
export function checkTaskMessage(value: unknown): TaskMessageCheck {
  if (validate(value)) {
    // `null` is allowed by ajv for nullable properties; treat it as absent.
    const { versionId, attemptsUsed, retryFrom, ...rest } = value;
    return {
      ok: true,
      message: {
        ...rest,
        ...(typeof versionId === 'string' && { versionId }),
        ...(typeof attemptsUsed === 'number' && { attemptsUsed }),
        ...(typeof retryFrom === 'number' && { retryFrom }),
      },
    };
  }
  return { ok: false, reason: (validate.errors ?? []).map(describeError).join('; ') };
}

/**
 * Serialises a task message for SQS (the body dispatch sends).
 *
 * @example
 * await queue.sendBatch([{ body: formatTaskMessage({ sluice: 1, runId, bucket, key, etag, size }) }]);
 * @throws SluiceError never: the type guarantees the shape.
 */
export function formatTaskMessage(message: TaskMessage): string {
  const { sluice, runId, bucket, key, etag, versionId, size, attemptsUsed, retryFrom } = message;
  return JSON.stringify({
    sluice,
    runId,
    bucket,
    key,
    etag,
    ...(versionId !== undefined && { versionId }),
    size,
    ...(attemptsUsed !== undefined && attemptsUsed > 0 && { attemptsUsed }),
    ...(retryFrom !== undefined && retryFrom > 0 && { retryFrom }),
  });
}

function describeError(error: ErrorObject): string {
  const path = `$${error.instancePath.replace(/\/([^/]+)/g, (_match, part: string) => (/^\d+$/.test(part) ? `[${part}]` : `.${part}`))}`;
  switch (error.keyword) {
    case 'required':
      return `${path}: missing required property ${String((error.params as { missingProperty?: unknown }).missingProperty)}`;
    case 'additionalProperties':
      return `${path}: unexpected property ${String((error.params as { additionalProperty?: unknown }).additionalProperty)}`;
    default:
      return `${path}: ${error.message ?? error.keyword}`;
  }
}

// The objects every part of a run shares in the output bucket's ledger (`_sluice/<run-id>/`): the
// task record (one per input object, with every attempt) and the completion marker (written last,
// when the task's outputs are committed). `schemaVersion` lets later releases add fields.
import { ValidationError } from '../errors.js';
import { lazyValidator, toSchemaJson, type JSONSchemaType } from './ajv.js';
import { problemsFromAjv } from './ajv-problems.js';

/** Every status, in the order a task passes through them: the schema's enum and the type are made of it. */
const TASK_STATUSES = ['running', 'succeeded', 'failed'] as const;

/** Where a task stands. `running` while an attempt is under way or a retry is due. */
export type TaskStatus = (typeof TASK_STATUSES)[number];

/** Every failure class: the schema's enum and the type are made of it. */
export const FAILURE_CLASSES = [
  'algorithm-exit',
  'out-of-memory',
  'timeout',
  'no-output',
  'input-unreadable',
  'upload-failed',
  'infrastructure',
] as const;

/**
 * Why an attempt failed:
 * - `algorithm-exit`: the algorithm exited non-zero.
 * - `out-of-memory`: it was killed for exceeding its memory.
 * - `timeout`: it ran past the time limit.
 * - `no-output`: it exited 0 but left nothing under `output` (and `allowEmptyOutput` is false).
 * - `input-unreadable`: the input object could not be downloaded (gone, denied, changed).
 * - `upload-failed`: results could not be uploaded or committed.
 * - `infrastructure`: anything outside the algorithm (container engine, network, worker lost).
 */
export type FailureClass = (typeof FAILURE_CLASSES)[number];

/** The input object a task processes, as it was when the task was created. */
export interface TaskInput {
  bucket: string;
  key: string;
  etag: string;
  versionId?: string;
  size?: number;
}

/** The largest task log kept inside its attempt's record entry; a larger one is its own object. */
export const INLINE_LOG_MAX_BYTES = 8192;

/** One result object, committed under the output prefix. */
export interface TaskOutput {
  key: string;
  size: number;
  etag: string;
}

/** Milliseconds spent in each phase of an attempt; a phase not reached is absent. */
export interface PhaseTimings {
  downloadMs?: number;
  runMs?: number;
  uploadMs?: number;
}

/** One attempt at a task. */
export interface TaskAttempt {
  /** 1 for the first attempt. */
  attempt: number;
  /** Which worker ran it (container or ECS task id). */
  workerId: string;
  startedAt: string;
  endedAt?: string;
  phases: PhaseTimings;
  /** The algorithm's exit code, when it ran to an exit. */
  exitCode?: number;
  failureClass?: FailureClass;
  /** Key of this attempt's log in the output bucket (`_sluice/<run-id>/logs/<task-id>/<attempt>.log`). */
  logKey?: string;
  /**
   * The attempt's whole log, when it is small ({@link INLINE_LOG_MAX_BYTES} at most): kept here instead
   * of in its own object, which saves a write per task and a read per reader. Secrets are masked.
   */
  log?: string;
  /** A short explanation for people; never a secret value. */
  message?: string;
}

/** `_sluice/<run-id>/tasks/<task-id>.json`: everything known about one task. */
export interface TaskRecord {
  schemaVersion: 1;
  runId: string;
  taskId: string;
  input: TaskInput;
  status: TaskStatus;
  /** Digest of the wrapped image that ran (`sha256:…`). */
  algorithmDigest: string;
  attempts: TaskAttempt[];
  /** The committed outputs (empty until the task succeeds). */
  outputs: TaskOutput[];
  /**
   * The message whose lease holds the task while it is not done: another message for the same task
   * (a duplicate delivery, a second dispatch) is dropped instead of running it a second time.
   * Cleared when the task ends or is handed back.
   */
  heldBy?: TaskHolder;
  updatedAt: string;
}

/** Which message holds a task: a hash of its message id, and the attempt and worker it is on. */
export interface TaskHolder {
  message: string;
  attempt: number;
  workerId: string;
}

/**
 * `_sluice/<run-id>/done/<task-id>.json`: written last, once the outputs are committed. It is the
 * task's final word: its `attempts` end with the one that committed, and the task record is not
 * rewritten after it (read both through {@link completedRecord}).
 */
export interface CompletionMarker {
  schemaVersion: 1;
  runId: string;
  taskId: string;
  input: { bucket: string; key: string; etag: string; versionId?: string };
  algorithmDigest: string;
  outputs: TaskOutput[];
  committedAt: string;
  /** Every attempt as the committing worker knew them, the committing one last (absent in old markers). */
  attempts?: TaskAttempt[];
}

const TIMESTAMP = {
  type: 'string',
  title: 'an ISO 8601 UTC timestamp such as "2025-01-31T12:00:00.000Z"',
  pattern: '^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(\\.[0-9]+)?Z$',
} as const;
const ID = { type: 'string', minLength: 1, maxLength: 128, pattern: '^[a-z0-9-]+$' } as const;
const DIGEST = {
  type: 'string',
  title: 'an image digest "sha256:<64 hex>"',
  pattern: '^sha256:[a-f0-9]{64}$',
} as const;
const MS = { type: 'integer', minimum: 0, nullable: true } as const;

const outputSchema: JSONSchemaType<TaskOutput> = {
  type: 'object',
  properties: {
    key: { type: 'string', minLength: 1, maxLength: 1024 },
    size: { type: 'integer', minimum: 0 },
    etag: { type: 'string', minLength: 1 },
  },
  required: ['key', 'size', 'etag'],
  additionalProperties: false,
};

const attemptSchema: JSONSchemaType<TaskAttempt> = {
  type: 'object',
  properties: {
    attempt: { type: 'integer', minimum: 1 },
    workerId: { type: 'string', minLength: 1 },
    startedAt: TIMESTAMP,
    endedAt: { ...TIMESTAMP, nullable: true },
    phases: {
      type: 'object',
      properties: { downloadMs: MS, runMs: MS, uploadMs: MS },
      additionalProperties: false,
    },
    exitCode: { type: 'integer', nullable: true, minimum: -255, maximum: 255 },
    failureClass: {
      type: 'string',
      nullable: true,
      enum: [...FAILURE_CLASSES],
    },
    logKey: { type: 'string', nullable: true, minLength: 1 },
    // UTF-16 code units never outnumber UTF-8 bytes, so a log within the byte limit fits.
    log: { type: 'string', nullable: true, maxLength: INLINE_LOG_MAX_BYTES },
    message: { type: 'string', nullable: true, maxLength: 4096 },
  },
  required: ['attempt', 'workerId', 'startedAt', 'phases'],
  additionalProperties: false,
};

const taskRecordSchemaTyped: JSONSchemaType<TaskRecord> = {
  $schema: 'https://json-schema.org/draft/2020-12/schema',
  title: 'sluice task record',
  description: 'One task (one input object) with every attempt: _sluice/<run-id>/tasks/<task-id>.json.',
  type: 'object',
  properties: {
    schemaVersion: { type: 'integer', const: 1 },
    runId: ID,
    taskId: ID,
    input: {
      type: 'object',
      properties: {
        bucket: { type: 'string', minLength: 1 },
        key: { type: 'string', minLength: 1, maxLength: 1024 },
        etag: { type: 'string', minLength: 1 },
        versionId: { type: 'string', nullable: true, minLength: 1 },
        size: { type: 'integer', nullable: true, minimum: 0 },
      },
      required: ['bucket', 'key', 'etag'],
      additionalProperties: false,
    },
    status: { type: 'string', enum: [...TASK_STATUSES] },
    algorithmDigest: DIGEST,
    attempts: { type: 'array', items: attemptSchema },
    outputs: { type: 'array', items: outputSchema },
    heldBy: {
      type: 'object',
      nullable: true,
      properties: {
        message: { type: 'string', pattern: '^[a-f0-9]{12}$' },
        attempt: { type: 'integer', minimum: 1 },
        workerId: { type: 'string', minLength: 1 },
      },
      required: ['message', 'attempt', 'workerId'],
      additionalProperties: false,
    },
    updatedAt: TIMESTAMP,
  },
  required: [
    'schemaVersion',
    'runId',
    'taskId',
    'input',
    'status',
    'algorithmDigest',
    'attempts',
    'outputs',
    'updatedAt',
  ],
  additionalProperties: false,
};

const completionMarkerSchemaTyped: JSONSchemaType<CompletionMarker> = {
  $schema: 'https://json-schema.org/draft/2020-12/schema',
  title: 'sluice completion marker',
  description: "Written last, once a task's outputs are committed: _sluice/<run-id>/done/<task-id>.json.",
  type: 'object',
  properties: {
    schemaVersion: { type: 'integer', const: 1 },
    runId: ID,
    taskId: ID,
    input: {
      type: 'object',
      properties: {
        bucket: { type: 'string', minLength: 1 },
        key: { type: 'string', minLength: 1, maxLength: 1024 },
        etag: { type: 'string', minLength: 1 },
        versionId: { type: 'string', nullable: true, minLength: 1 },
      },
      required: ['bucket', 'key', 'etag'],
      additionalProperties: false,
    },
    algorithmDigest: DIGEST,
    outputs: { type: 'array', items: outputSchema },
    committedAt: TIMESTAMP,
    attempts: { type: 'array', items: attemptSchema, nullable: true },
  },
  required: ['schemaVersion', 'runId', 'taskId', 'input', 'algorithmDigest', 'outputs', 'committedAt'],
  additionalProperties: false,
};

/**
 * The published JSON Schema of a task record.
 *
 * @example
 * writeFileSync('task-record.schema.json', JSON.stringify(taskRecordSchema, null, 2));
 */
export const taskRecordSchema = toSchemaJson(taskRecordSchemaTyped);

/**
 * The published JSON Schema of a completion marker.
 *
 * @example
 * writeFileSync('completion-marker.schema.json', JSON.stringify(completionMarkerSchema, null, 2));
 */
export const completionMarkerSchema = toSchemaJson(completionMarkerSchemaTyped);

const taskRecordValidator = lazyValidator<TaskRecord>(taskRecordSchema);
const completionMarkerValidator = lazyValidator<CompletionMarker>(completionMarkerSchema);

/**
 * Checks a parsed task record (e.g. read back from the ledger) and returns it typed.
 *
 * @example
 * const record = validateTaskRecord(JSON.parse(body), 's3://out/_sluice/run/tasks/abc.json');
 * @throws {ValidationError} when it does not follow the task record schema.
 */
export function validateTaskRecord(value: unknown, file: string): TaskRecord {
  const validate = taskRecordValidator();
  if (validate(value)) return value;
  throw new ValidationError(problemsFromAjv(validate.errors ?? [], file, value, taskRecordSchema));
}

/**
 * Checks a parsed completion marker and returns it typed.
 *
 * @example
 * const marker = validateCompletionMarker(JSON.parse(body), 's3://out/_sluice/run/done/abc.json');
 * @throws {ValidationError} when it does not follow the completion marker schema.
 */
export function validateCompletionMarker(value: unknown, file: string): CompletionMarker {
  const validate = completionMarkerValidator();
  if (validate(value)) return value;
  throw new ValidationError(problemsFromAjv(validate.errors ?? [], file, value, completionMarkerSchema));
}

/** The same attempt: its number, worker and start (a released attempt's number comes again). */
export function sameAttempt(a: TaskAttempt, b: TaskAttempt): boolean {
  return a.attempt === b.attempt && a.workerId === b.workerId && a.startedAt === b.startedAt;
}

/**
 * A task as it stands, from its record and its completion marker. A task with a marker succeeded:
 * the commit writes the marker and leaves the record as the lease wrote it (`running`, held), so
 * the marker's attempts (the committing one last) are merged over the record's, and its outputs are
 * the task's. Without a marker, the record is returned as it is.
 *
 * @example
 * const task = completedRecord(await readRecord(), await readMarker()); // status 'succeeded' when a marker exists
 * @throws never.
 */
export function completedRecord(
  record: TaskRecord | undefined,
  marker: CompletionMarker | undefined,
): TaskRecord | undefined {
  if (marker === undefined) return record;
  const fromMarker = marker.attempts ?? [];
  const attempts = [
    ...(record?.attempts ?? []).filter((a) => !fromMarker.some((m) => sameAttempt(a, m))),
    ...fromMarker,
  ].sort((a, b) => a.attempt - b.attempt || a.startedAt.localeCompare(b.startedAt));
  const updatedAt =
    record !== undefined && record.updatedAt > marker.committedAt ? record.updatedAt : marker.committedAt;
  return {
    schemaVersion: 1,
    runId: marker.runId,
    taskId: marker.taskId,
    input: record?.input ?? { ...marker.input },
    status: 'succeeded',
    algorithmDigest: marker.algorithmDigest,
    attempts,
    outputs: marker.outputs,
    updatedAt,
  };
}

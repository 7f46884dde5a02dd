/**
 * The broker protocol, version 1 (`sluice-broker/1`; docs/contracts.md, "The broker protocol"): JSON
 * over HTTPS POST to `<broker url>/v1/<operation>`. A worker leases a task, keeps the lease with
 * heartbeats, and ends it with complete, fail or release; the lease token it carries names the
 * attempt. Data never passes through the broker: the lease carries a presigned GET for the input and
 * a presigned POST policy for the input's output prefix and one for the attempt's log.
 */
import type { JSONSchemaType } from 'ajv';

import { ValidationError } from '../errors.js';
import { lazyValidator, toSchemaJson } from '../schemas/ajv.js';
import { problemsFromAjv } from '../schemas/ajv-problems.js';
import {
  FAILURE_CLASSES,
  INLINE_LOG_MAX_BYTES,
  type FailureClass,
  type TaskAttempt,
} from '../schemas/records.js';
import type { PresignedGet, PresignedPost } from '../storage/presign.js';
import type { TaskRef } from './message-decision.js';
import type { CompletionResult } from './control-types.js';

/** The protocol's name and version, sent by the worker and answered by the broker. */
export const BROKER_PROTOCOL = 'sluice-broker/1';
/** The header that carries it. */
export const BROKER_PROTOCOL_HEADER = 'x-sluice-protocol';

export const BROKER_OPERATIONS = ['lease', 'heartbeat', 'complete', 'fail', 'release'] as const;
export type BrokerOperation = (typeof BROKER_OPERATIONS)[number];

/** Longest lease long-poll, as SQS's. */
export const MAX_LEASE_WAIT_SECONDS = 20;

type Phases = TaskAttempt['phases'];

export interface LeaseRequest {
  readonly workerId: string;
  readonly waitSeconds: number;
}
export interface HeartbeatRequest {
  readonly token: string;
  /** How long the input's download took, once done: the lease's cap does not count it. */
  readonly downloadMs?: number;
}
export interface CompleteRequest {
  readonly token: string;
  /** What the worker wrote under the lease's output prefix (with S3's ETag of each upload). */
  readonly outputs: readonly {
    readonly relativePath: string;
    readonly size: number;
    readonly etag?: string;
  }[];
  readonly phases: Phases;
  readonly exitCode?: number;
  readonly logStaged: boolean;
  /** The whole task log when it is small ({@link INLINE_LOG_MAX_BYTES}): no log upload then. */
  readonly log?: string;
}
export interface FailRequest {
  readonly token: string;
  readonly failureClass: FailureClass;
  readonly retryable: boolean;
  readonly message: string;
  readonly phases: Phases;
  readonly exitCode?: number;
  readonly logStaged: boolean;
  /** The whole task log when it is small ({@link INLINE_LOG_MAX_BYTES}): no log upload then. */
  readonly log?: string;
}
export interface ReleaseRequest {
  readonly token: string;
  readonly reason: string;
}

/** What a worker needs to run one attempt, without any credential. */
export interface GrantedLease {
  readonly token: string;
  readonly task: TaskRef;
  readonly taskId: string;
  readonly attempt: number;
  /** The input's output prefix, which the upload policy allows: each output goes to `<outputPrefix><path>`. */
  readonly outputPrefix: string;
  /** The attempt's log key, which `logUpload` allows. */
  readonly logKey: string;
  /** When the lease ends unless a heartbeat extends it. */
  readonly expiresAt: string;
  readonly input: PresignedGet;
  /** One POST policy for the output prefix: every output (tagged with the writing run and task). */
  readonly upload: PresignedPost;
  /** A POST policy for the attempt's log, straight to its final key (prefix `…/logs/<task>/<attempt>.`). */
  readonly logUpload: PresignedPost;
}

export interface LeaseResponse {
  readonly lease: GrantedLease | null;
}
/** A heartbeat's answer: a new token (and fresh transfers: the old ones may expire before the upload). */
export type HeartbeatResponse =
  | {
      readonly status: 'extended';
      readonly token: string;
      readonly expiresAt: string;
      readonly input: PresignedGet;
      readonly upload: PresignedPost;
      readonly logUpload: PresignedPost;
    }
  | { readonly status: 'capped' }
  | { readonly status: 'lost'; readonly message: string };
export type CompleteResponse = CompletionResult;
export interface FailResponse {
  readonly outcome: 'retry' | 'failed';
}
/** Every refusal and fault: a stable code and a sentence for people. */
export interface BrokerErrorBody {
  readonly error: { readonly code: string; readonly message: string };
}

const TOKEN = { type: 'string', minLength: 1, maxLength: 16384 } as const;
const MS = { type: 'integer', minimum: 0, nullable: true } as const;
/** A small task log sent inline (code units never outnumber its UTF-8 bytes). */
const LOG = { type: 'string', maxLength: INLINE_LOG_MAX_BYTES, nullable: true } as const;
const PHASES = {
  type: 'object',
  properties: { downloadMs: MS, runMs: MS, uploadMs: MS },
  additionalProperties: false,
} as const;
const EXIT_CODE = { type: 'integer', minimum: -255, maximum: 255, nullable: true } as const;
// A path below the output directory as the runner collects it: no empty, `.` or `..` segment.
const RELATIVE_PATH = {
  type: 'string',
  minLength: 1,
  maxLength: 1024,
  pattern: '^(?!/)(?!.*//)(?!(?:.*/)?\\.\\.?(?:/|$)).+$',
} as const;

const leaseSchema: JSONSchemaType<LeaseRequest> = {
  type: 'object',
  properties: {
    workerId: { type: 'string', minLength: 1, maxLength: 128 },
    waitSeconds: { type: 'integer', minimum: 0, maximum: MAX_LEASE_WAIT_SECONDS },
  },
  required: ['workerId', 'waitSeconds'],
  additionalProperties: false,
};
const heartbeatSchema: JSONSchemaType<HeartbeatRequest> = {
  type: 'object',
  properties: { token: TOKEN, downloadMs: MS },
  required: ['token'],
  additionalProperties: false,
};
const completeSchema: JSONSchemaType<CompleteRequest> = {
  type: 'object',
  properties: {
    token: TOKEN,
    outputs: {
      type: 'array',
      maxItems: 100_000,
      items: {
        type: 'object',
        properties: {
          relativePath: RELATIVE_PATH,
          size: { type: 'integer', minimum: 0 },
          etag: { type: 'string', minLength: 1, maxLength: 1024, nullable: true },
        },
        required: ['relativePath', 'size'],
        additionalProperties: false,
      },
    },
    phases: PHASES,
    exitCode: EXIT_CODE,
    logStaged: { type: 'boolean' },
    log: LOG,
  },
  required: ['token', 'outputs', 'phases', 'logStaged'],
  additionalProperties: false,
};
const failSchema: JSONSchemaType<FailRequest> = {
  type: 'object',
  properties: {
    token: TOKEN,
    failureClass: { type: 'string', enum: [...FAILURE_CLASSES] },
    retryable: { type: 'boolean' },
    message: { type: 'string', maxLength: 4096 },
    phases: PHASES,
    exitCode: EXIT_CODE,
    logStaged: { type: 'boolean' },
    log: LOG,
  },
  required: ['token', 'failureClass', 'retryable', 'message', 'phases', 'logStaged'],
  additionalProperties: false,
};
const releaseSchema: JSONSchemaType<ReleaseRequest> = {
  type: 'object',
  properties: { token: TOKEN, reason: { type: 'string', maxLength: 1024 } },
  required: ['token', 'reason'],
  additionalProperties: false,
};

/** The request body of each operation. */
export interface BrokerRequests {
  lease: LeaseRequest;
  heartbeat: HeartbeatRequest;
  complete: CompleteRequest;
  fail: FailRequest;
  release: ReleaseRequest;
}

const SCHEMAS = {
  lease: toSchemaJson(leaseSchema),
  heartbeat: toSchemaJson(heartbeatSchema),
  complete: toSchemaJson(completeSchema),
  fail: toSchemaJson(failSchema),
  release: toSchemaJson(releaseSchema),
};
const VALIDATORS = {
  lease: lazyValidator<LeaseRequest>(SCHEMAS.lease),
  heartbeat: lazyValidator<HeartbeatRequest>(SCHEMAS.heartbeat),
  complete: lazyValidator<CompleteRequest>(SCHEMAS.complete),
  fail: lazyValidator<FailRequest>(SCHEMAS.fail),
  release: lazyValidator<ReleaseRequest>(SCHEMAS.release),
};

/**
 * True when `name` is an operation of the protocol.
 *
 * @example
 * isBrokerOperation('lease'); // true
 * @throws never.
 */
export function isBrokerOperation(name: string): name is BrokerOperation {
  return (BROKER_OPERATIONS as readonly string[]).includes(name);
}

/**
 * Checks a request body against its operation's schema.
 *
 * @example
 * const request = parseBrokerRequest('heartbeat', JSON.parse(body));
 * @throws {ValidationError} naming each problem's JSON path.
 */
export function parseBrokerRequest<O extends BrokerOperation>(
  operation: O,
  body: unknown,
): BrokerRequests[O] {
  const validate = VALIDATORS[operation]();
  if (!validate(body)) {
    throw new ValidationError(
      problemsFromAjv(validate.errors ?? [], `broker ${operation} request`, body, SCHEMAS[operation]),
    );
  }
  return body as BrokerRequests[O];
}

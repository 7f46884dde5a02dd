/**
 * The classification of AWS SDK errors that every adapter shares: a throttled or failed call is a
 * transient fault worth retrying; a denied call or a missing bucket is the user's to fix, so it
 * becomes a {@link ConfigurationError} with a hint, and nobody retries it.
 */
import { ConfigurationError, InfrastructureError, toError } from '../errors.js';

/** What an AWS SDK v3 error looks like, read defensively: every field may be absent. */
interface SdkErrorShape {
  readonly name?: unknown;
  readonly code?: unknown;
  readonly Code?: unknown;
  readonly $fault?: unknown;
  readonly $retryable?: unknown;
  readonly $metadata?: { readonly httpStatusCode?: unknown; readonly requestId?: unknown };
}

// Error codes AWS services use for throttling and for their own transient faults. S3 says
// `SlowDown`, SQS `RequestThrottled`/`ThrottlingException`, and several say `Throttling`.
const TRANSIENT_CODES: ReadonlySet<string> = new Set([
  'Throttling',
  'ThrottlingException',
  'ThrottledException',
  'RequestThrottled',
  'RequestThrottledException',
  'TooManyRequestsException',
  'RequestLimitExceeded',
  'SlowDown',
  'ServiceUnavailable',
  'InternalError',
  'InternalFailure',
  'InternalServerError',
  'RequestTimeout',
  'RequestTimeoutException',
  'PriorRequestNotComplete',
  'OperationAborted',
  'TimeoutError',
  'ProvisionedThroughputExceededException',
  'EC2ThrottledException',
  // S3: another conditional write to the same key is in flight; AWS asks the caller to retry.
  'ConditionalRequestConflict',
]);

// Node socket errors: the request may never have reached AWS, so trying again is safe.
const NETWORK_CODES: ReadonlySet<string> = new Set([
  'ECONNRESET',
  'ECONNREFUSED',
  'ECONNABORTED',
  'ETIMEDOUT',
  'EPIPE',
  'EAI_AGAIN',
  'ENOTFOUND',
  'ENETUNREACH',
  'EHOSTUNREACH',
  'UND_ERR_SOCKET',
  'UND_ERR_CONNECT_TIMEOUT',
]);

// Codes the user fixes (credentials, permissions, names); each with what to do about it.
const CONFIGURATION_HINTS: Readonly<Record<string, string>> = {
  AccessDenied:
    'The credentials in use are not allowed to do this. Check the role or user policy (and, in direct mode, the run task role).',
  AccessDeniedException:
    'The credentials in use are not allowed to do this. Check the role or user policy (and, in direct mode, the run task role).',
  // HeadBucket answers 403 without a body, which the SDK names `Forbidden`.
  Forbidden:
    'The bucket exists but these credentials may not use it (or it belongs to another account). Check the bucket name and policy.',
  AllAccessDisabled: 'All access to this resource has been disabled by AWS; use another bucket.',
  InvalidAccessKeyId:
    'The access key id is not known to AWS. Check the credentials configured for the job (job.json `aws`).',
  SignatureDoesNotMatch:
    'The secret access key does not match the key id. Check the credentials configured for the job.',
  UnrecognizedClientException: 'The credentials are not valid. Check the credentials configured for the job.',
  InvalidClientTokenId: 'The credentials are not valid. Check the credentials configured for the job.',
  ExpiredToken: 'The session credentials have expired. Refresh them (re-assume the role) and try again.',
  ExpiredTokenException:
    'The session credentials have expired. Refresh them (re-assume the role) and try again.',
  NoSuchBucket:
    'The bucket does not exist. Check the bucket name in job.json, or set `create: true` to have sluice create it.',
  BucketAlreadyExists:
    'Bucket names are global across all AWS accounts and this one belongs to another account; choose another name.',
  InvalidBucketName:
    'Bucket names are 3-63 characters of lowercase letters, digits, dots and hyphens; choose a valid one.',
  PermanentRedirect:
    "The bucket is in another region than the client's. Set job.json `aws.region` to the bucket's region.",
  AuthorizationHeaderMalformed:
    "The bucket is in another region than the client's. Set job.json `aws.region` to the bucket's region.",
  'AWS.SimpleQueueService.NonExistentQueue':
    'The queue does not exist. Run provision-run first, or check the queue URL.',
  QueueDoesNotExist: 'The queue does not exist. Run provision-run first, or check the queue URL.',
  // The SDK's credential chain found nothing (no variables, profile, container or instance role).
  CredentialsProviderError:
    'No AWS credentials were found. Set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY (in a workflow: aws-actions/configure-aws-credentials with a role, or secrets), or AWS_PROFILE, or choose a source in job.json `aws.credentials`.',
  KMSAccessDeniedException:
    'The queue is encrypted with a KMS key these credentials may not use; grant kms:Decrypt/GenerateDataKey.',
};

/**
 * A failed AWS call that is not the user's to fix. `retryable` says whether trying again may help
 * (throttling, a 5xx, a dropped connection); the SDK has already retried it a few times.
 *
 * @example
 * try { await store.head(ref); } catch (e) { if (e instanceof AwsRequestError && e.retryable) scheduleRetry(); }
 */
export class AwsRequestError extends InfrastructureError {
  /** The operation that failed, such as `S3.GetObject`. */
  readonly operation: string;
  /** The AWS error code (`SlowDown`, `InternalError`) or Node socket code (`ECONNRESET`). */
  readonly code: string;
  /** HTTP status of the response, when one arrived. */
  readonly httpStatus: number | undefined;
  /** AWS request id, for a support case. */
  readonly requestId: string | undefined;
  /** True when a later attempt may succeed. */
  readonly retryable: boolean;

  constructor(
    message: string,
    details: {
      operation: string;
      code: string;
      httpStatus: number | undefined;
      requestId: string | undefined;
      retryable: boolean;
    },
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = 'AwsRequestError';
    this.operation = details.operation;
    this.code = details.code;
    this.httpStatus = details.httpStatus;
    this.requestId = details.requestId;
    this.retryable = details.retryable;
  }
}

/**
 * Reads the AWS error code, HTTP status and request id off anything thrown by the SDK.
 *
 * @example
 * if (describeAwsError(e).code === 'BucketAlreadyOwnedByYou') return { created: false };
 * @throws never: any value gives an answer (`code: 'Unknown'` when there is none).
 */
export function describeAwsError(thrown: unknown): {
  code: string;
  httpStatus: number | undefined;
  requestId: string | undefined;
  fault: 'client' | 'server' | undefined;
  sdkRetryable: boolean;
} {
  const shape: SdkErrorShape = typeof thrown === 'object' && thrown !== null ? thrown : {};
  const codeCandidates = [shape.Code, shape.code, shape.name];
  const code = codeCandidates.find((c): c is string => typeof c === 'string' && c.length > 0) ?? 'Unknown';
  // Node puts socket codes in `code` while the SDK keeps `name` as `Error`: prefer the socket code.
  // When the SDK re-wraps a socket error it cannot recognise (one from another realm, e.g. a jest
  // VM context), only the message keeps the code: read it from there.
  const status = shape.$metadata?.httpStatusCode;
  const message = thrown instanceof Error && status === undefined ? thrown.message : '';
  const socketCode =
    typeof shape.code === 'string' && NETWORK_CODES.has(shape.code)
      ? shape.code
      : [...NETWORK_CODES].find((candidate) => new RegExp(`\\b${candidate}\\b`).test(message));
  const requestId = shape.$metadata?.requestId;
  return {
    code: socketCode ?? code,
    httpStatus: typeof status === 'number' ? status : undefined,
    requestId: typeof requestId === 'string' ? requestId : undefined,
    fault: shape.$fault === 'client' || shape.$fault === 'server' ? shape.$fault : undefined,
    sdkRetryable: shape.$retryable !== undefined && shape.$retryable !== null && shape.$retryable !== false,
  };
}

/**
 * True when trying the same call again may succeed: throttling, a 5xx, a timeout or a dropped
 * connection. Errors already converted by {@link classifyAwsError} keep their verdict.
 *
 * @example
 * if (isTransientAwsError(e)) await sleep(backoff(attempt));
 */
export function isTransientAwsError(thrown: unknown): boolean {
  if (thrown instanceof AwsRequestError) return thrown.retryable;
  if (thrown instanceof ConfigurationError || thrown instanceof InfrastructureError) return false;
  const { code, httpStatus, sdkRetryable } = describeAwsError(thrown);
  if (TRANSIENT_CODES.has(code) || NETWORK_CODES.has(code) || sdkRetryable) return true;
  return httpStatus !== undefined && (httpStatus >= 500 || httpStatus === 429);
}

/**
 * Turns an error thrown by an AWS SDK call into a sluice error: a {@link ConfigurationError} with a
 * hint for what the user can fix (denied, missing bucket or queue, bad credentials), an
 * {@link AwsRequestError} otherwise (with `retryable` set for throttling, 5xx and network faults).
 * Errors that are already sluice errors pass through unchanged.
 *
 * @param operation - what was being done, e.g. `S3.GetObject`, shown in the message.
 * @param target - the resource, e.g. `s3://bucket/key` or a queue URL, shown in the message.
 * @example
 * try { await client.send(cmd); } catch (e) { throw classifyAwsError(e, 'S3.HeadBucket', 's3://my-bucket'); }
 */
export function classifyAwsError(thrown: unknown, operation: string, target: string): Error {
  if (thrown instanceof ConfigurationError || thrown instanceof InfrastructureError) return thrown;
  const error = toError(thrown);
  const { code, httpStatus, requestId } = describeAwsError(thrown);
  const hint = CONFIGURATION_HINTS[code];
  const detail = `${code}${httpStatus !== undefined ? ` (HTTP ${httpStatus})` : ''}: ${error.message}`;
  if (hint !== undefined) {
    return new ConfigurationError(`${operation} on ${target} failed: ${detail}. ${hint}`, { cause: thrown });
  }
  // A connection that never happened is most often a wrong endpoint or region, not an AWS fault.
  const reach = NETWORK_CODES.has(code)
    ? '. AWS could not be reached: check AWS_ENDPOINT_URL (when set), the region and the network'
    : '';
  return new AwsRequestError(
    `${operation} on ${target} failed: ${detail}${reach}`,
    { operation, code, httpStatus, requestId, retryable: isTransientAwsError(thrown) },
    { cause: thrown },
  );
}

/**
 * Errors of the queue adapters. AWS SDK errors are classified as the storage adapters classify
 * them (transient faults vs what the user fixes), by the shared helpers in `storage/errors.ts`.
 */
import { InfrastructureError } from '../errors.js';
import { classifyAwsError, describeAwsError } from '../aws/errors.js';

/**
 * The message is no longer held under this receipt handle: its visibility timeout ran out (and
 * another worker may have it now), or it was deleted. The holder must stop treating the task as
 * its own; it must not commit results as if it still held it.
 *
 * @example
 * try { await queue.changeVisibility(handle, 60); } catch (e) { if (e instanceof MessageNotHeldError) abandonTask(); }
 */
export class MessageNotHeldError extends InfrastructureError {
  readonly receiptHandle: string;

  constructor(receiptHandle: string, detail: string, options?: { cause?: unknown }) {
    super(`the message is no longer held under this receipt handle: ${detail}`, options);
    this.name = 'MessageNotHeldError';
    this.receiptHandle = receiptHandle;
  }
}

/**
 * SQS refused a purge because one started less than 60 seconds ago (one purge a minute per queue).
 * The earlier purge still removes what was queued when it began; later messages stay.
 *
 * @example
 * try { await queue.purge(); } catch (e) { if (e instanceof PurgeInProgressError) tryAgainInAMinute(); }
 */
export class PurgeInProgressError extends InfrastructureError {
  constructor(queueUrl: string, options?: { cause?: unknown }) {
    super(`${queueUrl} was purged less than a minute ago; SQS allows one purge a minute per queue`, options);
    this.name = 'PurgeInProgressError';
  }
}

// SQS says "not held" in several ways, depending on the operation and the protocol.
const NOT_HELD_CODES: ReadonlySet<string> = new Set([
  'ReceiptHandleIsInvalid',
  'MessageNotInflight',
  'AWS.SimpleQueueService.MessageNotInflight',
  'InvalidReceiptHandle',
]);

/** True when SQS's code (and message) say a receipt handle is no longer held. */
export function isNotHeldCode(code: string, message: string): boolean {
  // An expired handle comes back as InvalidParameterValue naming the ReceiptHandle parameter.
  return NOT_HELD_CODES.has(code) || (code === 'InvalidParameterValue' && /receipt ?handle/i.test(message));
}

/**
 * Converts an error thrown by an SQS call: receipt-handle errors become {@link MessageNotHeldError},
 * the rest go through `classifyAwsError`.
 *
 * @example
 * try { await client.send(cmd); } catch (e) { throw classifySqsError(e, 'SQS.DeleteMessage', url, handle); }
 */
export function classifySqsError(
  thrown: unknown,
  operation: string,
  queueUrl: string,
  receiptHandle?: string,
): Error {
  if (receiptHandle !== undefined) {
    const { code } = describeAwsError(thrown);
    const message = thrown instanceof Error ? thrown.message : '';
    if (isNotHeldCode(code, message)) {
      return new MessageNotHeldError(receiptHandle, `${code}: ${message}`, { cause: thrown });
    }
  }
  return classifyAwsError(thrown, operation, queueUrl);
}

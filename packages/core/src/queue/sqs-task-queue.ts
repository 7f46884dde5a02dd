import {
  ChangeMessageVisibilityCommand,
  CreateQueueCommand,
  DeleteMessageBatchCommand,
  DeleteMessageCommand,
  GetQueueAttributesCommand,
  GetQueueUrlCommand,
  PurgeQueueCommand,
  ReceiveMessageCommand,
  SendMessageBatchCommand,
  SetQueueAttributesCommand,
  type QueueAttributeName,
  type SendMessageBatchRequestEntry,
  type SQSClient,
} from '@aws-sdk/client-sqs';

import { toError } from '../errors.js';
import { AwsRequestError, describeAwsError, isTransientAwsError } from '../aws/errors.js';
import { retryRounds, withRetries } from '../aws/retry.js';
import { MessageNotHeldError, PurgeInProgressError, classifySqsError, isNotHeldCode } from './errors.js';
import {
  SQS_LIMITS,
  type DeleteBatchResult,
  type FailedSend,
  type QueueCounts,
  type ReceiveOptions,
  type ReceivedMessage,
  type SendBatchResult,
  type SendEntry,
  type TaskQueue,
} from './task-queue.js';

/** Tuning of {@link SqsTaskQueue}. */
export interface SqsTaskQueueOptions {
  /** Attempts per batch entry in `sendBatch`, the first included (default 5). */
  readonly sendAttempts?: number;
  /** First backoff delay between attempts in ms, doubled each time with jitter (default 200). */
  readonly backoffMs?: number;
  /** How to wait between attempts; tests pass a fake. */
  readonly sleep?: (ms: number) => Promise<void>;
}

/**
 * {@link TaskQueue} on Amazon SQS (standard queues) or the moto server. Takes a configured
 * `SQSClient` and the queue URL.
 *
 * @example
 * const queue = new SqsTaskQueue(new SQSClient({}), 'https://sqs.eu-west-1.amazonaws.com/123456789012/sluice-run-1');
 * const messages = await queue.receive({ maxMessages: 10, waitSeconds: 20 });
 * @throws ConfigurationError from any method when the queue does not exist or access is denied;
 *   AwsRequestError for faults; MessageNotHeldError from delete/changeVisibility.
 */
export class SqsTaskQueue implements TaskQueue {
  private readonly sendAttempts: number;
  private readonly backoffMs: number;
  private readonly sleep: ((ms: number) => Promise<void>) | undefined;

  constructor(
    private readonly client: SQSClient,
    /** The queue URL, as CreateQueue or GetQueueUrl returns it. */
    readonly url: string,
    options: SqsTaskQueueOptions = {},
  ) {
    this.sendAttempts = Math.max(1, options.sendAttempts ?? 5);
    this.backoffMs = options.backoffMs ?? 200;
    this.sleep = options.sleep;
  }

  async receive(options: ReceiveOptions = {}): Promise<readonly ReceivedMessage[]> {
    const { signal } = options;
    if (isAborted(signal)) return [];
    let output;
    try {
      output = await this.client.send(
        new ReceiveMessageCommand({
          QueueUrl: this.url,
          MaxNumberOfMessages: clamp(options.maxMessages ?? 1, 1, SQS_LIMITS.maxMessagesPerReceive),
          WaitTimeSeconds: clamp(
            options.waitSeconds ?? SQS_LIMITS.maxWaitSeconds,
            0,
            SQS_LIMITS.maxWaitSeconds,
          ),
          MessageSystemAttributeNames: ['ApproximateReceiveCount', 'SentTimestamp'],
          ...(options.visibilityTimeoutSeconds !== undefined && {
            VisibilityTimeout: clamp(
              options.visibilityTimeoutSeconds,
              0,
              SQS_LIMITS.maxVisibilityTimeoutSeconds,
            ),
          }),
        }),
        signal !== undefined ? { abortSignal: signal } : {},
      );
    } catch (thrown: unknown) {
      // A poll cut short on purpose (shutdown) is not a failure: nothing was received.
      if (isAborted(signal)) return [];
      throw classifySqsError(thrown, 'SQS.ReceiveMessage', this.url);
    }
    return (output.Messages ?? []).flatMap((message): ReceivedMessage[] => {
      if (message.ReceiptHandle === undefined || message.MessageId === undefined) return [];
      const attributes = message.Attributes ?? {};
      return [
        {
          messageId: message.MessageId,
          body: message.Body ?? '',
          receiptHandle: message.ReceiptHandle,
          receiveCount: Number(attributes.ApproximateReceiveCount ?? '1'),
          sentAt: new Date(Number(attributes.SentTimestamp ?? Date.now())),
        },
      ];
    });
  }

  async delete(receiptHandle: string): Promise<void> {
    try {
      await this.client.send(new DeleteMessageCommand({ QueueUrl: this.url, ReceiptHandle: receiptHandle }));
    } catch (thrown: unknown) {
      throw classifySqsError(thrown, 'SQS.DeleteMessage', this.url, receiptHandle);
    }
  }

  async deleteBatch(receiptHandles: readonly string[]): Promise<DeleteBatchResult> {
    if (receiptHandles.length === 0) return { notHeld: [] };
    if (receiptHandles.length > SQS_LIMITS.maxBatchEntries) {
      throw new Error(`deleteBatch takes at most ${SQS_LIMITS.maxBatchEntries} handles`);
    }
    let output;
    try {
      output = await withRetries(() =>
        this.client.send(
          new DeleteMessageBatchCommand({
            QueueUrl: this.url,
            Entries: receiptHandles.map((handle, index) => ({ Id: String(index), ReceiptHandle: handle })),
          }),
        ),
      );
    } catch (thrown: unknown) {
      throw classifySqsError(thrown, 'SQS.DeleteMessageBatch', this.url);
    }
    const notHeld: { receiptHandle: string; message: string }[] = [];
    for (const failed of output.Failed ?? []) {
      const receiptHandle = receiptHandles[Number(failed.Id)] ?? '';
      // Another fault than "not held" (throttled, internal) goes again on its own, with retries.
      if (!isNotHeldCode(failed.Code ?? '', failed.Message ?? '')) {
        await withRetries(() => this.delete(receiptHandle)).catch((thrown: unknown) => {
          if (!(thrown instanceof MessageNotHeldError)) throw thrown;
        });
      } else notHeld.push({ receiptHandle, message: `${failed.Code ?? ''}: ${failed.Message ?? ''}` });
    }
    return { notHeld };
  }

  async changeVisibility(receiptHandle: string, timeoutSeconds: number): Promise<void> {
    try {
      await this.client.send(
        new ChangeMessageVisibilityCommand({
          QueueUrl: this.url,
          ReceiptHandle: receiptHandle,
          VisibilityTimeout: clamp(Math.round(timeoutSeconds), 0, SQS_LIMITS.maxVisibilityTimeoutSeconds),
        }),
      );
    } catch (thrown: unknown) {
      throw classifySqsError(thrown, 'SQS.ChangeMessageVisibility', this.url, receiptHandle);
    }
  }

  async sendBatch(entries: readonly SendEntry[]): Promise<SendBatchResult> {
    let sent = 0;
    const failed: FailedSend[] = [];
    // A body over SQS's limit would make SQS refuse its whole batch (BatchRequestTooLong), so it
    // is reported here and never sent.
    const sendable: number[] = [];
    for (const [index, entry] of entries.entries()) {
      if (Buffer.byteLength(entry.body, 'utf8') > SQS_LIMITS.maxMessageBytes) {
        failed.push({
          index,
          code: 'MessageTooLong',
          message: `longer than ${SQS_LIMITS.maxMessageBytes} bytes`,
          senderFault: true,
        });
      } else {
        sendable.push(index);
      }
    }
    for (const chunk of chunkEntries(entries, sendable)) {
      const outcome = await this.sendChunk(entries, chunk);
      sent += outcome.sent;
      failed.push(...outcome.failed);
    }
    failed.sort((a, b) => a.index - b.index);
    return { sent, failed };
  }

  async counts(): Promise<QueueCounts> {
    const attributes = await this.attributes([
      'ApproximateNumberOfMessages',
      'ApproximateNumberOfMessagesNotVisible',
      'ApproximateNumberOfMessagesDelayed',
    ]);
    return {
      visible: Number(attributes.ApproximateNumberOfMessages ?? '0'),
      inFlight: Number(attributes.ApproximateNumberOfMessagesNotVisible ?? '0'),
      delayed: Number(attributes.ApproximateNumberOfMessagesDelayed ?? '0'),
    };
  }

  async purge(): Promise<void> {
    try {
      await this.client.send(new PurgeQueueCommand({ QueueUrl: this.url }));
    } catch (thrown: unknown) {
      if (describeAwsError(thrown).code.endsWith('PurgeQueueInProgress'))
        throw new PurgeInProgressError(this.url, { cause: thrown });
      throw classifySqsError(thrown, 'SQS.PurgeQueue', this.url);
    }
  }

  /**
   * The queue's ARN (for S3 notifications and IAM policies).
   *
   * @example
   * const arn = await queue.arn(); // arn:aws:sqs:eu-west-1:123456789012:sluice-run-1
   * @throws ConfigurationError when the queue does not exist.
   */
  async arn(): Promise<string> {
    const { QueueArn } = await this.attributes(['QueueArn']);
    if (QueueArn === undefined)
      throw new AwsRequestError(`SQS did not return the ARN of ${this.url}`, notReturned);
    return QueueArn;
  }

  private async attributes(
    names: QueueAttributeName[],
  ): Promise<Partial<Record<QueueAttributeName, string>>> {
    try {
      const output = await this.client.send(
        new GetQueueAttributesCommand({ QueueUrl: this.url, AttributeNames: names }),
      );
      return output.Attributes ?? {};
    } catch (thrown: unknown) {
      throw classifySqsError(thrown, 'SQS.GetQueueAttributes', this.url);
    }
  }

  /** Sends one batch (indices into `all`), retrying only the entries that failed transiently. */
  private async sendChunk(all: readonly SendEntry[], indices: readonly number[]): Promise<SendBatchResult> {
    let pending = [...indices];
    let sent = 0;
    const failed: FailedSend[] = [];
    // Each round answers with what would be reported if it were the last: the entries still
    // failing count as failed then.
    return retryRounds<SendBatchResult>(
      async () => {
        let output;
        try {
          output = await this.client.send(
            new SendMessageBatchCommand({
              QueueUrl: this.url,
              Entries: pending.map((index): SendMessageBatchRequestEntry => {
                const entry = all[index] as SendEntry;
                return {
                  Id: String(index),
                  MessageBody: entry.body,
                  ...(entry.delaySeconds !== undefined && { DelaySeconds: entry.delaySeconds }),
                };
              }),
            }),
          );
        } catch (thrown: unknown) {
          // The SDK has already retried the call; one more round after a pause is still worth it
          // for throttling, but the user's errors (denied, no such queue) are thrown at once.
          if (!isTransientAwsError(thrown)) throw classifySqsError(thrown, 'SQS.SendMessageBatch', this.url);
          const { code } = describeAwsError(thrown);
          const { message } = toError(thrown);
          const unsent = pending.map((index) => ({ index, code, message, senderFault: false }));
          return { retry: { sent, failed: [...failed, ...unsent] }, reason: code };
        }
        sent += output.Successful?.length ?? 0;
        const retry: FailedSend[] = [];
        for (const entry of output.Failed ?? []) {
          const failure = {
            index: Number(entry.Id),
            code: entry.Code ?? 'Unknown',
            message: entry.Message ?? '',
            senderFault: entry.SenderFault === true,
          };
          // Sender faults (too large, invalid characters) fail again however often they are sent.
          if (failure.senderFault) failed.push(failure);
          else retry.push(failure);
        }
        if (retry.length === 0) return { done: { sent, failed } };
        pending = retry.map((failure) => failure.index);
        return { retry: { sent, failed: [...failed, ...retry] }, reason: retry[0]?.code ?? 'Unknown' };
      },
      {
        maxAttempts: this.sendAttempts,
        baseDelayMs: this.backoffMs,
        // Full jitter spreads retries of many senders so they do not throttle together again.
        jitter: 'full',
        ...(this.sleep !== undefined && { sleep: this.sleep }),
      },
    );
  }
}

/** What `ensureQueue` creates or updates. */
export interface EnsureQueueOptions {
  /** Visibility timeout in seconds (default 60; the runner's heartbeat extends it while it works). */
  readonly visibilityTimeoutSeconds?: number;
  /** How long messages are kept, in seconds (default 4 days, SQS's default; at most 14 days). */
  readonly retentionSeconds?: number;
  /**
   * A dead-letter queue, created too: messages received `maxReceiveCount` times without being
   * deleted move there. Its name defaults to `<name>-dlq`; it keeps messages 14 days.
   */
  readonly deadLetter?: { readonly maxReceiveCount: number; readonly name?: string };
  /** Any other queue attributes (e.g. `Policy` letting S3 send, `KmsMasterKeyId`). */
  readonly attributes?: Readonly<Partial<Record<QueueAttributeName, string>>>;
  /** Tags set when the queue is created (on both queues). */
  readonly tags?: Readonly<Record<string, string>>;
}

/** A queue that exists after `ensureQueue`. */
export interface EnsuredQueue {
  readonly url: string;
  readonly arn: string;
  readonly created: boolean;
  readonly deadLetter?: { readonly url: string; readonly arn: string };
}

const notReturned = {
  operation: 'SQS.GetQueueAttributes',
  code: 'MissingAttribute',
  httpStatus: undefined,
  requestId: undefined,
  retryable: false,
};

/** Tries, QUEUE_NAME_WAIT_MS apart, while SQS still holds a deleted queue's name (60 s). */
const QUEUE_NAME_WAITS = 8;
const QUEUE_NAME_WAIT_MS = 10_000;

/** 14 days: the longest SQS keeps a message, so the dead-letter queue holds failures longest. */
const MAX_RETENTION_SECONDS = 1_209_600;

/**
 * Creating and finding queues (provisioning), apart from {@link SqsTaskQueue}'s per-message work.
 *
 * @example
 * const queues = new SqsQueues(new SQSClient({}));
 * const { url, arn } = await queues.ensureQueue('sluice-run-1', { deadLetter: { maxReceiveCount: 4 } });
 * const queue = new SqsTaskQueue(client, url);
 * @throws ConfigurationError when access is denied; AwsRequestError for faults.
 */
export class SqsQueues {
  private readonly sleep: ((ms: number) => Promise<void>) | undefined;

  constructor(
    private readonly client: SQSClient,
    options: { readonly sleep?: (ms: number) => Promise<void> } = {},
  ) {
    this.sleep = options.sleep;
  }

  /**
   * The URL of a queue by name; `undefined` when there is none.
   *
   * @example
   * const url = await queues.findQueueUrl('sluice-run-1');
   * @throws ConfigurationError when access is denied.
   */
  async findQueueUrl(name: string): Promise<string | undefined> {
    try {
      const output = await this.client.send(new GetQueueUrlCommand({ QueueName: name }));
      return output.QueueUrl;
    } catch (thrown: unknown) {
      const { code } = describeAwsError(thrown);
      if (code === 'QueueDoesNotExist' || code === 'AWS.SimpleQueueService.NonExistentQueue')
        return undefined;
      throw classifySqsError(thrown, 'SQS.GetQueueUrl', name);
    }
  }

  /**
   * The ARN of a queue by URL.
   *
   * @example
   * const arn = await queues.queueArn(url);
   * @throws ConfigurationError when the queue does not exist.
   */
  async queueArn(url: string): Promise<string> {
    return new SqsTaskQueue(this.client, url).arn();
  }

  /**
   * Creates the queue (and its dead-letter queue) unless it exists; when it exists, brings its
   * attributes to what is asked (so provisioning twice converges). Idempotent.
   *
   * @example
   * await queues.ensureQueue('sluice-run-1', { visibilityTimeoutSeconds: 60, deadLetter: { maxReceiveCount: 4 }, tags: { 'sluice:run': 'run-1' } });
   * @throws ConfigurationError when access is denied or an attribute is refused.
   */
  async ensureQueue(name: string, options: EnsureQueueOptions = {}): Promise<EnsuredQueue> {
    let deadLetter: { url: string; arn: string } | undefined;
    if (options.deadLetter !== undefined) {
      const dlq = await this.ensureOne(
        options.deadLetter.name ?? `${name}-dlq`,
        { MessageRetentionPeriod: String(MAX_RETENTION_SECONDS) },
        options.tags,
      );
      deadLetter = { url: dlq.url, arn: dlq.arn };
    }
    const attributes: Partial<Record<QueueAttributeName, string>> = {
      VisibilityTimeout: String(options.visibilityTimeoutSeconds ?? 60),
      ...(options.retentionSeconds !== undefined && {
        MessageRetentionPeriod: String(options.retentionSeconds),
      }),
      ...(deadLetter !== undefined &&
        options.deadLetter !== undefined && {
          RedrivePolicy: JSON.stringify({
            deadLetterTargetArn: deadLetter.arn,
            maxReceiveCount: options.deadLetter.maxReceiveCount,
          }),
        }),
      ...options.attributes,
    };
    const queue = await this.ensureOne(name, attributes, options.tags);
    return { ...queue, ...(deadLetter !== undefined && { deadLetter }) };
  }

  private async ensureOne(
    name: string,
    attributes: Partial<Record<QueueAttributeName, string>>,
    tags: Readonly<Record<string, string>> | undefined,
  ): Promise<{ url: string; arn: string; created: boolean }> {
    const existing = await this.findQueueUrl(name);
    if (existing !== undefined) {
      // CreateQueue refuses differing attributes on an existing queue; set them instead.
      try {
        await this.client.send(new SetQueueAttributesCommand({ QueueUrl: existing, Attributes: attributes }));
      } catch (thrown: unknown) {
        throw classifySqsError(thrown, 'SQS.SetQueueAttributes', existing);
      }
      return { url: existing, arn: await this.queueArn(existing), created: false };
    }
    let url: string | undefined;
    try {
      const output = await withRetries(
        () =>
          this.client.send(
            new CreateQueueCommand({
              QueueName: name,
              Attributes: attributes,
              ...(tags !== undefined && { tags: { ...tags } }),
            }),
          ),
        {
          // SQS refuses a queue's name for 60 s after the queue was deleted (a run torn down and
          // provisioned again): waiting it out beats failing the provision.
          retryOn: (thrown) => /QueueDeletedRecently/.test(describeAwsError(thrown).code),
          maxAttempts: QUEUE_NAME_WAITS,
          baseDelayMs: QUEUE_NAME_WAIT_MS,
          maxDelayMs: QUEUE_NAME_WAIT_MS,
          jitter: 'none',
          ...(this.sleep !== undefined && { sleep: this.sleep }),
        },
      );
      url = output.QueueUrl;
    } catch (thrown: unknown) {
      throw classifySqsError(thrown, 'SQS.CreateQueue', name);
    }
    if (url === undefined) {
      throw new AwsRequestError(`SQS.CreateQueue did not return the URL of ${name}`, {
        ...notReturned,
        operation: 'SQS.CreateQueue',
      });
    }
    return { url, arn: await this.queueArn(url), created: true };
  }
}

// A function, so TypeScript does not narrow `aborted` across the await in between.
function isAborted(signal: AbortSignal | undefined): boolean {
  return signal?.aborted === true;
}

function clamp(value: number, min: number, max: number): number {
  return Math.min(Math.max(value, min), max);
}

/**
 * Splits entries into SendMessageBatch calls: at most 10 entries and 256 KiB of bodies per call
 * (a larger single entry goes alone).
 * Yields indices, so failures can be reported by position.
 */
function* chunkEntries(entries: readonly SendEntry[], indices: readonly number[]): Generator<number[]> {
  let chunk: number[] = [];
  let bytes = 0;
  for (const index of indices) {
    const size = Buffer.byteLength(entries[index]?.body ?? '', 'utf8');
    if (
      chunk.length === SQS_LIMITS.maxBatchEntries ||
      (chunk.length > 0 && bytes + size > SQS_LIMITS.maxBatchBytes)
    ) {
      yield chunk;
      chunk = [];
      bytes = 0;
    }
    chunk.push(index);
    bytes += size;
  }
  if (chunk.length > 0) yield chunk;
}

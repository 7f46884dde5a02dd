/**
 * The task queue as sluice uses it: long-poll receive, delete, visibility heartbeat, batched send
 * and counts. The SQS adapter implements it for AWS (and the moto server); `@sluice/testing` has an
 * in-memory fake that passes the same contract tests, visibility timeouts and dead-letter moves
 * included.
 */

/** A message taken from the queue; invisible to others until its visibility timeout runs out. */
export interface ReceivedMessage {
  readonly messageId: string;
  readonly body: string;
  /** Proof of this receive: needed to delete the message or extend its visibility. */
  readonly receiptHandle: string;
  /** How many times the message has been received, this time included (1 on the first). */
  readonly receiveCount: number;
  /** When the message was first sent to this queue. */
  readonly sentAt: Date;
}

/** Options of `receive`. */
export interface ReceiveOptions {
  /** At most this many messages (1-10; default 1). */
  readonly maxMessages?: number;
  /** Long polling: wait up to this many seconds for a message (0-20; default 20). */
  readonly waitSeconds?: number;
  /** Visibility timeout for these messages, instead of the queue's. */
  readonly visibilityTimeoutSeconds?: number;
  /** Ends the wait early (e.g. on SIGTERM); the receive then returns no messages. */
  readonly signal?: AbortSignal;
}

/** One message to send. */
export interface SendEntry {
  readonly body: string;
  /** Deliver after this many seconds (0-900). */
  readonly delaySeconds?: number;
}

/** An entry that could not be sent after the retries. */
export interface FailedSend {
  /** Position of the entry in the array given to `sendBatch`. */
  readonly index: number;
  readonly code: string;
  readonly message: string;
  /** True when the entry itself is at fault (too large, bad characters): resending will not help. */
  readonly senderFault: boolean;
}

/** The outcome of `sendBatch`. */
export interface SendBatchResult {
  readonly sent: number;
  readonly failed: readonly FailedSend[];
}

/** The outcome of `deleteBatch`: the handles SQS refused as no longer held, with its reasons. */
export interface DeleteBatchResult {
  readonly notHeld: readonly { readonly receiptHandle: string; readonly message: string }[];
}

/** Approximate message counts (SQS's own numbers lag by up to a minute). */
export interface QueueCounts {
  /** Waiting to be received. */
  readonly visible: number;
  /** Received and not yet deleted (being worked on). */
  readonly inFlight: number;
  /** Sent with a delay that has not run out. */
  readonly delayed: number;
}

/**
 * A task queue. Delivery is at least once: a message whose visibility runs out before it is
 * deleted is received again, and after the queue's maximum receive count it moves to the
 * dead-letter queue.
 *
 * @example
 * const [message] = await queue.receive({ waitSeconds: 20 });
 * if (message) { await work(message.body); await queue.delete(message.receiptHandle); }
 */
export interface TaskQueue {
  /** Waits up to `waitSeconds` for messages; an empty array when none came. */
  receive(options?: ReceiveOptions): Promise<readonly ReceivedMessage[]>;

  /**
   * Deletes a received message: the task is done.
   * @throws MessageNotHeldError when the receipt handle is no longer valid.
   */
  delete(receiptHandle: string): Promise<void>;

  /**
   * Deletes up to 10 received messages in one request (SQS's DeleteMessageBatch). A handle that is
   * no longer valid is reported in `notHeld`, not thrown: its message is someone else's now.
   * @throws AWS errors other than per-entry ones, once retries are spent.
   */
  deleteBatch(receiptHandles: readonly string[]): Promise<DeleteBatchResult>;

  /**
   * Sets the message's visibility timeout, counted from now (the heartbeat; 0 releases it at once).
   * @throws MessageNotHeldError when the message is no longer held under this receipt handle.
   */
  changeVisibility(receiptHandle: string, timeoutSeconds: number): Promise<void>;

  /**
   * Sends messages in batches of 10, retrying entries that failed for a transient reason with
   * backoff. Entries still failing are reported, not thrown.
   */
  sendBatch(entries: readonly SendEntry[]): Promise<SendBatchResult>;

  /** Approximate counts of visible, in-flight and delayed messages. */
  counts(): Promise<QueueCounts>;

  /** Deletes every message in the queue. */
  purge(): Promise<void>;
}

/**
 * SQS's limits, which the adapter and the fake both apply.
 *
 * @example
 * const visibility = Math.min(taskTimeoutSeconds, SQS_LIMITS.maxVisibilityTimeoutSeconds);
 */
export const SQS_LIMITS = {
  maxMessagesPerReceive: 10,
  maxWaitSeconds: 20,
  maxBatchEntries: 10,
  /**
   * Largest message body SQS accepts (1 MiB since August 2025, and the default of new queues).
   * Longer entries are reported as failed without being sent.
   */
  maxMessageBytes: 1024 * 1024,
  /**
   * Payload per SendMessageBatch that sluice aims for: 256 KiB, the limit queues made before
   * 2025 still have, so batching works on old queues and new alike.
   */
  maxBatchBytes: 256 * 1024,
  maxVisibilityTimeoutSeconds: 12 * 60 * 60,
  maxDelaySeconds: 15 * 60,
} as const;

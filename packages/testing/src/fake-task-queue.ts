import { randomUUID } from 'node:crypto';

import {
  MessageNotHeldError,
  PurgeInProgressError,
  SQS_LIMITS,
  type DeleteBatchResult,
  type FailedSend,
  type QueueCounts,
  type ReceivedMessage,
  type ReceiveOptions,
  type SendBatchResult,
  type SendEntry,
  type TaskQueue,
} from '@sluice/core';

import { systemClock, type FakeClock } from './fake-clock.js';

/** How the fake queue behaves; defaults are SQS's. */
export interface FakeTaskQueueOptions {
  /** Drives visibility timeouts and delays; a `ManualClock` makes them instant. */
  readonly clock?: FakeClock;
  /** The queue's visibility timeout (default 30 s, as SQS). */
  readonly visibilityTimeoutSeconds?: number;
  /** Where messages go after `maxReceiveCount` receives (the redrive policy). */
  readonly deadLetter?: { readonly queue: FakeTaskQueue; readonly maxReceiveCount: number };
}

interface StoredMessage {
  readonly messageId: string;
  readonly body: string;
  readonly sentAt: number;
  /** Until then the message is delayed (never received) or in flight (received). */
  visibleAt: number;
  receiveCount: number;
  /** The handle of the latest receive; earlier handles no longer hold the message. */
  receiptHandle: string | undefined;
}

/**
 * An in-memory {@link TaskQueue} that behaves as an SQS standard queue does where sluice relies
 * on it: visibility timeouts, receive counts, delays, and the move to a dead-letter queue after
 * `maxReceiveCount` receives. It passes the same contract tests as the SQS adapter.
 *
 * Differences, on purpose: `receive` never waits (long polling returns at once when nothing is
 * visible, since a fake clock would never move while it waited), and messages come out in the
 * order they were sent.
 *
 * @example
 * const clock = new ManualClock();
 * const dlq = new FakeTaskQueue({ clock });
 * const queue = new FakeTaskQueue({ clock, visibilityTimeoutSeconds: 30, deadLetter: { queue: dlq, maxReceiveCount: 3 } });
 * await queue.sendBatch([{ body: 'hello' }]);
 */
export class FakeTaskQueue implements TaskQueue {
  private readonly clock: FakeClock;
  private lastPurgeAt: number | undefined;
  private readonly visibilityTimeoutMs: number;
  private readonly deadLetter: FakeTaskQueueOptions['deadLetter'];
  private messages: StoredMessage[] = [];
  /** Every handle ever issued, to tell a stale handle (ignored, as SQS) from a made-up one. */
  private readonly issuedHandles = new Set<string>();

  constructor(options: FakeTaskQueueOptions = {}) {
    this.clock = options.clock ?? systemClock;
    this.visibilityTimeoutMs = (options.visibilityTimeoutSeconds ?? 30) * 1000;
    this.deadLetter = options.deadLetter;
  }

  receive(options: ReceiveOptions = {}): Promise<readonly ReceivedMessage[]> {
    if (options.signal?.aborted === true) return Promise.resolve([]);
    const max = Math.min(Math.max(options.maxMessages ?? 1, 1), SQS_LIMITS.maxMessagesPerReceive);
    const timeoutMs =
      options.visibilityTimeoutSeconds !== undefined
        ? options.visibilityTimeoutSeconds * 1000
        : this.visibilityTimeoutMs;
    const now = this.clock.now();
    const received: ReceivedMessage[] = [];
    for (const message of [...this.messages]) {
      if (received.length >= max) break;
      if (message.visibleAt > now) continue;
      // As SQS: the move happens when a receive would exceed the count.
      if (this.deadLetter !== undefined && message.receiveCount >= this.deadLetter.maxReceiveCount) {
        this.remove(message);
        this.deadLetter.queue.accept(message);
        continue;
      }
      message.receiveCount += 1;
      message.visibleAt = now + timeoutMs;
      message.receiptHandle = `fake-${randomUUID()}`;
      this.issuedHandles.add(message.receiptHandle);
      received.push({
        messageId: message.messageId,
        body: message.body,
        receiptHandle: message.receiptHandle,
        receiveCount: message.receiveCount,
        sentAt: new Date(message.sentAt),
      });
    }
    return Promise.resolve(received);
  }

  delete(receiptHandle: string): Promise<void> {
    const message = this.messages.find((m) => m.receiptHandle === receiptHandle);
    if (message !== undefined) {
      this.remove(message);
      return Promise.resolve();
    }
    // SQS accepts a handle of an already deleted (or since re-received) message and does nothing.
    if (this.issuedHandles.has(receiptHandle)) return Promise.resolve();
    return Promise.reject(
      new MessageNotHeldError(receiptHandle, 'ReceiptHandleIsInvalid: never issued by this queue'),
    );
  }

  async deleteBatch(receiptHandles: readonly string[]): Promise<DeleteBatchResult> {
    if (receiptHandles.length > SQS_LIMITS.maxBatchEntries) {
      throw new Error(`deleteBatch takes at most ${SQS_LIMITS.maxBatchEntries} handles`);
    }
    const notHeld: { receiptHandle: string; message: string }[] = [];
    for (const receiptHandle of receiptHandles) {
      await this.delete(receiptHandle).catch((thrown: unknown) => {
        if (!(thrown instanceof MessageNotHeldError)) throw thrown;
        notHeld.push({ receiptHandle, message: thrown.message });
      });
    }
    return { notHeld };
  }

  changeVisibility(receiptHandle: string, timeoutSeconds: number): Promise<void> {
    const now = this.clock.now();
    const message = this.messages.find((m) => m.receiptHandle === receiptHandle);
    if (message === undefined) {
      return Promise.reject(
        new MessageNotHeldError(
          receiptHandle,
          'ReceiptHandleIsInvalid: deleted, re-received or never issued',
        ),
      );
    }
    if (message.visibleAt <= now) {
      return Promise.reject(
        new MessageNotHeldError(receiptHandle, 'MessageNotInflight: its visibility timeout ran out'),
      );
    }
    const seconds = Math.min(Math.max(Math.round(timeoutSeconds), 0), SQS_LIMITS.maxVisibilityTimeoutSeconds);
    message.visibleAt = now + seconds * 1000;
    return Promise.resolve();
  }

  sendBatch(entries: readonly SendEntry[]): Promise<SendBatchResult> {
    const failed: FailedSend[] = [];
    let sent = 0;
    for (const [index, entry] of entries.entries()) {
      if (Buffer.byteLength(entry.body, 'utf8') > SQS_LIMITS.maxMessageBytes) {
        failed.push({
          index,
          code: 'MessageTooLong',
          message: `longer than ${SQS_LIMITS.maxMessageBytes} bytes`,
          senderFault: true,
        });
        continue;
      }
      const now = this.clock.now();
      const delay = Math.min(Math.max(entry.delaySeconds ?? 0, 0), SQS_LIMITS.maxDelaySeconds);
      this.messages.push({
        messageId: randomUUID(),
        body: entry.body,
        sentAt: now,
        visibleAt: now + delay * 1000,
        receiveCount: 0,
        receiptHandle: undefined,
      });
      sent += 1;
    }
    return Promise.resolve({ sent, failed });
  }

  counts(): Promise<QueueCounts> {
    const now = this.clock.now();
    let visible = 0;
    let inFlight = 0;
    let delayed = 0;
    for (const message of this.messages) {
      if (message.visibleAt <= now) visible += 1;
      else if (message.receiveCount > 0) inFlight += 1;
      else delayed += 1;
    }
    return Promise.resolve({ visible, inFlight, delayed });
  }

  purge(): Promise<void> {
    const now = this.clock.now();
    // SQS allows one purge a minute per queue.
    if (this.lastPurgeAt !== undefined && now - this.lastPurgeAt < 60_000)
      return Promise.reject(new PurgeInProgressError('the fake task queue'));
    this.lastPurgeAt = now;
    this.messages = [];
    return Promise.resolve();
  }

  /** Every message body still in the queue, visible or not, in send order (for assertions). */
  bodies(): string[] {
    return this.messages.map((m) => m.body);
  }

  /** Takes a message moved from another queue, keeping its id, body and sent time. */
  private accept(message: StoredMessage): void {
    this.messages.push({
      ...message,
      visibleAt: this.clock.now(),
      receiveCount: message.receiveCount,
      receiptHandle: undefined,
    });
  }

  private remove(message: StoredMessage): void {
    this.messages = this.messages.filter((m) => m !== message);
  }
}

/**
 * Deletes of finished tasks' messages, sent in batches of up to 10 (one DeleteMessageBatch) when
 * the control lives on to send them. A delete waits at most `delayMs`; the message stays invisible
 * meanwhile, and if it came back anyway its task's marker (or final record) settles it at once.
 */
import { withRetries } from '../aws/retry.js';
import { toError } from '../errors.js';
import type { JsonLog } from '../logging/json-log.js';
import { MessageNotHeldError } from '../queue/errors.js';
import { SQS_LIMITS, type TaskQueue } from '../queue/task-queue.js';

interface PendingDelete {
  readonly receiptHandle: string;
  readonly log: JsonLog;
}

export class MessageDeletes {
  private pending: PendingDelete[] = [];
  private timer: NodeJS.Timeout | undefined;
  private sending: Promise<void> = Promise.resolve();

  /** `delayMs` 0 deletes each message at once, with DeleteMessage. */
  constructor(
    private readonly queue: TaskQueue,
    private readonly delayMs: number,
    private readonly log: JsonLog,
  ) {}

  /**
   * Deletes a finished task's message, now or with the next batch.
   *
   * @throws AWS errors when an immediate delete failed after its retries (a batched one is logged).
   */
  async delete(receiptHandle: string, log: JsonLog): Promise<void> {
    if (this.delayMs <= 0) {
      try {
        await withRetries(() => this.queue.delete(receiptHandle));
      } catch (thrown) {
        // Lost the message meanwhile: whoever has it now finds the marker (or the record) and stops.
        if (!(thrown instanceof MessageNotHeldError)) throw thrown;
        log.warning('message-delete-not-held', { message: thrown.message });
      }
      return;
    }
    this.pending.push({ receiptHandle, log });
    if (this.pending.length >= SQS_LIMITS.maxBatchEntries) this.send();
    else
      this.timer ??= setTimeout(() => {
        this.send();
      }, this.delayMs).unref();
  }

  /** Sends every waiting delete and waits for them. */
  async flush(): Promise<void> {
    this.send();
    await this.sending;
  }

  private send(): void {
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.timer = undefined;
    while (this.pending.length > 0) {
      const batch = this.pending.splice(0, SQS_LIMITS.maxBatchEntries);
      this.sending = this.sending.then(() => this.sendBatch(batch));
    }
  }

  private async sendBatch(batch: readonly PendingDelete[]): Promise<void> {
    try {
      const { notHeld } = await this.queue.deleteBatch(batch.map((d) => d.receiptHandle));
      for (const { receiptHandle, message } of notHeld) {
        const log = batch.find((d) => d.receiptHandle === receiptHandle)?.log ?? this.log;
        log.warning('message-delete-not-held', { message });
      }
    } catch (thrown) {
      // The messages come back when their visibility runs out, and their markers settle them.
      this.log.warning('message-delete-failed', {
        messages: batch.length,
        message: toError(thrown).message,
      });
    }
  }
}

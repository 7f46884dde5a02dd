/**
 * Keeps a received message invisible while its task runs. The queue's window is short (three
 * heartbeat periods), so a dead worker's task returns within about a minute; the heartbeat extends
 * it every period, but never past the task's time limit plus a margin for download and upload (a
 * stuck runner must not hold a task for ever), nor past SQS's 12 hours from the receive.
 */
import { MessageNotHeldError, SQS_LIMITS, toError, type TaskQueue } from '@sluice/core';

import type { JsonLog } from '../logging/json-log.js';

/** Time allowed beyond the algorithm's limit for download, upload and commit. */
export const TRANSFER_MARGIN_SECONDS = 15 * 60;

export class Heartbeat {
  private timer: NodeJS.Timeout | undefined;
  private readonly receivedAt = Date.now();
  /** True once the message is no longer ours (its visibility ran out, or someone deleted it). */
  lost = false;

  constructor(
    private readonly queue: TaskQueue,
    private readonly receiptHandle: string,
    private readonly periodSeconds: number,
    private readonly timeLimitSeconds: number,
    private readonly log: JsonLog,
  ) {}

  /** The visibility window: three periods, so one missed beat does not lose the task. */
  static windowSeconds(periodSeconds: number): number {
    return Math.min(periodSeconds * 3, SQS_LIMITS.maxVisibilityTimeoutSeconds);
  }

  start(): void {
    this.timer = setInterval(() => {
      void this.beat();
    }, this.periodSeconds * 1000);
  }

  stop(): void {
    if (this.timer !== undefined) clearInterval(this.timer);
    this.timer = undefined;
  }

  private async beat(): Promise<void> {
    const elapsed = (Date.now() - this.receivedAt) / 1000;
    const untilLimit = this.timeLimitSeconds + TRANSFER_MARGIN_SECONDS - elapsed;
    // Keep a few seconds between us and SQS's hard cap, which it enforces with an error.
    const untilCap = SQS_LIMITS.maxVisibilityTimeoutSeconds - elapsed - 5;
    const seconds = Math.floor(Math.min(Heartbeat.windowSeconds(this.periodSeconds), untilLimit, untilCap));
    if (seconds <= 0) {
      this.log.warning('heartbeat-stopped', { reason: 'the task is past its time limit or SQS 12-hour cap' });
      this.stop();
      return;
    }
    try {
      await this.queue.changeVisibility(this.receiptHandle, seconds);
    } catch (thrown) {
      if (thrown instanceof MessageNotHeldError) {
        this.lost = true;
        this.stop();
        this.log.warning('message-lost', { message: thrown.message });
      } else {
        this.log.warning('heartbeat-failed', { message: toError(thrown).message });
      }
    }
  }
}

/**
 * Keeps a leased task while it runs: every period, the source extends the lease by one window (three
 * periods, so one missed beat does not lose it). The control caps the extensions at the task's time
 * limit plus a margin for transfers; a lease another worker took is noted as lost.
 */
import { toError, type JsonLog } from '@sluice/core';

import type { TaskSource, WorkerLease } from '../sources/task-source.js';

export class Heartbeat {
  private timer: NodeJS.Timeout | undefined;
  /** True once the lease is no longer ours (its visibility ran out, or someone deleted the message). */
  lost = false;

  constructor(
    private readonly source: TaskSource,
    private readonly lease: WorkerLease,
    private readonly periodSeconds: number,
    private readonly log: JsonLog,
  ) {}

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
    try {
      const state = await this.source.heartbeat(this.lease);
      if (state === 'held') return;
      this.stop();
      if (state === 'lost') {
        this.lost = true;
        this.log.warning('message-lost', { message: 'the lease was lost: another worker may run this task' });
      } else {
        this.log.warning('heartbeat-stopped', {
          reason: 'the task is past its time limit or SQS 12-hour cap',
        });
      }
    } catch (thrown) {
      this.log.warning('heartbeat-failed', { message: toError(thrown).message });
    }
  }
}

/**
 * Keeps a leased task while it runs: every period, the source extends the lease by one window (three
 * periods, so one missed beat does not lose it). The control caps the extensions at the task's time
 * limit plus a margin for transfers. A lease that is lost (another worker took the message, or it was
 * deleted) aborts `lostSignal`: the attempt stops and reports nothing, since the task is not its own now.
 */
import { toError, type JsonLog } from '@sluice/core';

import type { TaskSource, WorkerLease } from '../sources/task-source.js';

export class Heartbeat {
  private timer: NodeJS.Timeout | undefined;
  private readonly lostController = new AbortController();

  constructor(
    private readonly source: TaskSource,
    private readonly lease: WorkerLease,
    private readonly periodSeconds: number,
    private readonly log: JsonLog,
    /** The attempt's download time once known (the lease's cap does not count it). */
    private readonly downloadMs: () => number | undefined = () => undefined,
  ) {}

  /** True once the lease is no longer ours (its visibility ran out, or someone deleted the message). */
  get lost(): boolean {
    return this.lostController.signal.aborted;
  }

  /** Aborted when the lease is lost. */
  get lostSignal(): AbortSignal {
    return this.lostController.signal;
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
    try {
      const downloadMs = this.downloadMs();
      const state = await this.source.heartbeat(this.lease, downloadMs === undefined ? {} : { downloadMs });
      if (state === 'held') return;
      this.stop();
      if (state === 'lost') {
        this.log.warning('message-lost', {
          message: 'the lease was lost: another worker may run this task; this attempt stops',
        });
        this.lostController.abort();
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

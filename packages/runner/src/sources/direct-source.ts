/**
 * Direct mode: the runner holds the run's task control and its S3 and SQS access itself. Fastest
 * (no hop through a broker), but the runner's container holds storage credentials.
 */
import { outputKeyUnder, type ObjectStore } from '@sluice/core';
import { withRetries } from '@sluice/core/aws';
import {
  OUTPUT_WRITER_METADATA,
  type CompletionReport,
  type CompletionResult,
  type ControlStats,
  type FailureReport,
  type Lease,
  type TaskControl,
} from '@sluice/core/broker';

import type { LeaseState, TaskSource, WorkerLease } from './task-source.js';

export class DirectTaskSource implements TaskSource {
  private readonly leases = new WeakMap<WorkerLease, Lease>();

  constructor(
    private readonly control: TaskControl,
    private readonly store: ObjectStore,
    private readonly outputBucket: string,
    private readonly workerId: string,
  ) {}

  get stats(): ControlStats {
    return this.control.stats;
  }

  async lease(waitSeconds: number, signal: AbortSignal): Promise<WorkerLease | undefined> {
    const lease = await this.control.lease(this.workerId, { waitSeconds, signal });
    if (lease === undefined) return undefined;
    const worker: WorkerLease = {
      task: lease.task,
      taskId: lease.taskId,
      attempt: lease.attempt,
      outputPrefix: lease.outputPrefix,
      logKey: lease.logKey,
    };
    this.leases.set(worker, lease);
    return worker;
  }

  async heartbeat(worker: WorkerLease, progress: { readonly downloadMs?: number } = {}): Promise<LeaseState> {
    const beat = await this.control.heartbeat(this.inner(worker), progress);
    if (beat.kind === 'extended') {
      this.leases.set(worker, beat.lease);
      return 'held';
    }
    return beat.kind === 'capped' ? 'capped' : 'lost';
  }

  async download(worker: WorkerLease, file: string): Promise<void> {
    const { task } = worker;
    await withRetries(() =>
      this.store.download({ bucket: task.bucket, key: task.key }, file, {
        ifMatch: task.etag,
        ...(task.versionId !== undefined && { versionId: task.versionId }),
      }),
    );
  }

  async uploadOutput(worker: WorkerLease, relativePath: string, file: string): Promise<string> {
    const key = outputKeyUnder(worker.outputPrefix, relativePath);
    const put = await withRetries(() =>
      this.store.upload({ bucket: this.outputBucket, key }, file, {
        metadata: { [OUTPUT_WRITER_METADATA]: `${worker.task.runId}/${worker.taskId}` },
      }),
    );
    return put.etag;
  }

  async stageLog(worker: WorkerLease, file: string): Promise<void> {
    await withRetries(() =>
      this.store.upload({ bucket: this.outputBucket, key: worker.logKey }, file, {
        contentType: 'text/plain; charset=utf-8',
      }),
    );
  }

  complete(worker: WorkerLease, report: CompletionReport): Promise<CompletionResult> {
    return this.control.complete(this.inner(worker), report);
  }

  fail(worker: WorkerLease, report: FailureReport): Promise<'retry' | 'failed'> {
    return this.control.fail(this.inner(worker), report);
  }

  async release(worker: WorkerLease, reason: string): Promise<void> {
    await this.control.release(this.inner(worker), reason);
  }

  async close(): Promise<void> {
    await this.control.flush();
  }

  private inner(worker: WorkerLease): Lease {
    const lease = this.leases.get(worker);
    if (lease === undefined) throw new Error(`task ${worker.taskId} was not leased from this source`);
    return lease;
  }
}

/**
 * The runner's loop: lease one task at a time from its task source (the run's queue through its own
 * task control in direct mode, the broker in sealed mode) and hand it to the processor; exit when
 * idle for `idleSeconds` or when asked to stop.
 */
import { setTimeout as sleep } from 'node:timers/promises';

import { ConfigurationError, isConfigurationError, toError, type JsonLog } from '@sluice/core';
import { MAX_LEASE_WAIT_SECONDS } from '@sluice/core/broker';

import type { RunnerSettings } from './config/settings.js';
import type { TaskSource, WorkerLease } from './sources/task-source.js';
import type { TaskOutcome, TaskProcessor } from './tasks/task-processor.js';

/** Why the loop ended. */
export type RunnerExit = 'idle' | 'stopped';

export interface RunnerDeps {
  readonly settings: RunnerSettings;
  readonly source: TaskSource;
  readonly processor: TaskProcessor;
  readonly log: JsonLog;
}

/** Counts of what a runner did, for its last log line and for tests. */
export interface RunnerStats {
  leases: number;
  tasks: Record<TaskOutcome, number>;
}

export class Runner {
  readonly stats: RunnerStats = {
    leases: 0,
    tasks: { succeeded: 0, retry: 0, failed: 0, released: 0 },
  };

  constructor(private readonly deps: RunnerDeps) {}

  /**
   * Runs until idle or stopped. Never throws for a task's trouble (it is logged and recorded);
   * throws a ConfigurationError when the configuration is wrong (a missing queue or bucket, denied
   * access, a broker that refuses this runner), which no retry fixes.
   */
  async run(stop: AbortSignal): Promise<RunnerExit> {
    const { settings, source, log } = this.deps;
    const idleMs = settings.config.idleSeconds * 1000;
    let lastActivity = Date.now();
    let leaseFailures = 0;
    while (!stop.aborted) {
      const remainingMs = Math.max(0, idleMs - (Date.now() - lastActivity));
      let lease: WorkerLease | undefined;
      try {
        lease = await source.lease(Math.min(MAX_LEASE_WAIT_SECONDS, Math.ceil(remainingMs / 1000)), stop);
        leaseFailures = 0;
      } catch (thrown) {
        if (isConfigurationError(thrown)) throw thrown;
        if (stop.aborted) break;
        leaseFailures += 1;
        log.warning('lease-failed', { message: toError(thrown).message, failures: leaseFailures });
        await sleep(Math.min(30_000, 500 * 2 ** leaseFailures));
        continue;
      }
      if (lease === undefined) {
        if (Date.now() - lastActivity >= idleMs) return 'idle';
        continue;
      }
      this.stats.leases += 1;
      await this.handle(lease, stop);
      lastActivity = Date.now();
    }
    return 'stopped';
  }

  /** Runs one leased task; logs instead of throwing, except for configuration errors. */
  private async handle(lease: WorkerLease, stop: AbortSignal): Promise<void> {
    try {
      const outcome = await this.deps.processor.process(lease, stop);
      this.stats.tasks[outcome] += 1;
    } catch (thrown) {
      if (thrown instanceof ConfigurationError) throw thrown;
      // The lease runs out by itself, and the task is tried again.
      this.deps.log.error('task-report-failed', {
        taskId: lease.taskId,
        attempt: lease.attempt,
        message: toError(thrown).message,
      });
    }
  }
}

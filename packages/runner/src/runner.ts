/**
 * The runner's loop: lease one task at a time from its task source (the run's queue through its own
 * task control in direct mode, the broker in sealed mode) and hand it to the processor; exit when
 * idle for `idleSeconds`, when asked to stop, or when its AWS session (SLUICE_RUN
 * `credentialsExpireAt`) would end before one more task could finish.
 */
import { setTimeout as sleep } from 'node:timers/promises';

import {
  ConfigurationError,
  isConfigurationError,
  sessionOutlastsTask,
  toError,
  type JsonLog,
} from '@sluice/core';
import { MAX_LEASE_WAIT_SECONDS } from '@sluice/core/broker';

import type { RunnerSettings } from './config/settings.js';
import type { TaskSource, WorkerLease } from './sources/task-source.js';
import type { TaskOutcome, TaskProcessor } from './tasks/task-processor.js';

/** The longest wait between failed leases. */
const LEASE_RETRY_MAX_MS = 5000;

/** How long an idle runner that waits for its sibling runners long-polls before it looks again. */
const SIBLING_CHECK_MS = MAX_LEASE_WAIT_SECONDS * 1000;

/**
 * Why the loop ended. `credentials-expiring`: the session it was started with would end before a
 * task leased now could finish; whoever started it starts another with a fresh one (the local backend).
 */
export type RunnerExit = 'idle' | 'stopped' | 'credentials-expiring';

export interface RunnerDeps {
  readonly settings: RunnerSettings;
  readonly source: TaskSource;
  readonly processor: TaskProcessor;
  readonly log: JsonLog;
  /** The clock the session's end and the idle time are judged on (default `Date.now`; tests pass their own). */
  readonly now?: () => number;
  /**
   * Whether sibling runners still run: given to the first runner container (`algorithm`) of an ECS
   * worker running several tasks, whose exit ends the ECS task and would stop its siblings mid-task.
   * Idle, it then keeps leasing (and so working) until they have exited.
   */
  readonly siblingsBusy?: () => Promise<boolean>;
}

/** Counts of what a runner did, for its last log line and for tests. */
export interface RunnerStats {
  leases: number;
  tasks: Record<TaskOutcome, number>;
}

export class Runner {
  readonly stats: RunnerStats = {
    leases: 0,
    tasks: { succeeded: 0, retry: 0, failed: 0, released: 0, lost: 0 },
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
    const now = this.deps.now ?? Date.now;
    let lastActivity = now();
    // Idle time added while sibling runners still work (siblingsBusy).
    let heldMs = 0;
    let leaseFailures = 0;
    while (!stop.aborted) {
      // Before every lease, never during a task: a task leased is one the session can finish.
      if (!sessionOutlastsTask(settings.config.credentialsExpireAt, settings.timeoutSeconds, now())) {
        log.info('credentials-expiring', {
          expiresAt: settings.config.credentialsExpireAt,
          timeoutSeconds: settings.timeoutSeconds,
        });
        return 'credentials-expiring';
      }
      const remainingMs = Math.max(0, idleMs + heldMs - (now() - lastActivity));
      let lease: WorkerLease | undefined;
      try {
        lease = await source.lease(Math.min(MAX_LEASE_WAIT_SECONDS, Math.ceil(remainingMs / 1000)), stop);
        leaseFailures = 0;
      } catch (thrown) {
        if (isConfigurationError(thrown)) throw thrown;
        if (aborted(stop)) break;
        leaseFailures += 1;
        log.warning('lease-failed', { message: toError(thrown).message, failures: leaseFailures });
        // No task source for the idle time (a local run's broker gone with its sluice process): go,
        // as an idle runner does; the next sluice process of the run starts runners again.
        if (now() - lastActivity >= idleMs) return 'idle';
        // Short waits: a restarted broker (or queue) should find its runners back within seconds.
        await sleep(Math.min(LEASE_RETRY_MAX_MS, 500 * 2 ** leaseFailures));
        continue;
      }
      if (lease === undefined) {
        const idleFor = now() - lastActivity;
        if (idleFor >= idleMs + heldMs) {
          if (!(await this.siblingsBusy())) return 'idle';
          heldMs = idleFor - idleMs + SIBLING_CHECK_MS;
        }
        continue;
      }
      this.stats.leases += 1;
      await this.handle(lease, stop);
      lastActivity = now();
      heldMs = 0;
    }
    return 'stopped';
  }

  /** Whether sibling runners still run; a failed look counts as no (the runner exits as before). */
  private async siblingsBusy(): Promise<boolean> {
    if (this.deps.siblingsBusy === undefined) return false;
    try {
      return await this.deps.siblingsBusy();
    } catch {
      return false;
    }
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

/** The signal's state read afresh (an await may have aborted it since the loop's test). */
function aborted(signal: AbortSignal): boolean {
  return signal.aborted;
}

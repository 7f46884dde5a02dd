/**
 * The runner's loop: long-poll the task queue one message at a time, decide what each message is,
 * and hand tasks to the processor; exit when idle for `idleSeconds` or when asked to stop.
 */
import { setTimeout as sleep } from 'node:timers/promises';

import {
  ConfigurationError,
  SQS_LIMITS,
  formatTaskMessage,
  inputFilter,
  isConfigurationError,
  toError,
  type ReceivedMessage,
  type TaskQueue,
} from '@sluice/core';

import type { RunnerSettings } from './config/settings.js';
import type { JsonLog } from './logging/json-log.js';
import { decideMessage } from './messages/decide.js';
import { MessageMoveError } from './errors.js';
import { Heartbeat } from './tasks/heartbeat.js';
import type { TaskLedger } from './tasks/ledger.js';
import type { TaskOutcome, TaskProcessor } from './tasks/task-processor.js';

/** Why the loop ended. */
export type RunnerExit = 'idle' | 'stopped';

export interface RunnerDeps {
  readonly settings: RunnerSettings;
  readonly queue: TaskQueue;
  readonly ledger: TaskLedger;
  readonly processor: TaskProcessor;
  readonly log: JsonLog;
}

/** Counts of what a runner did, for its last log line and for tests. */
export interface RunnerStats {
  messages: number;
  rejected: number;
  dropped: number;
  tasks: Record<TaskOutcome, number>;
}

export class Runner {
  readonly stats: RunnerStats = {
    messages: 0,
    rejected: 0,
    dropped: 0,
    tasks: { succeeded: 0, 'already-done': 0, retry: 0, failed: 0, released: 0 },
  };
  private readonly isInput;

  constructor(private readonly deps: RunnerDeps) {
    this.isInput = inputFilter(deps.settings.config);
  }

  /**
   * Runs until idle or stopped. Never throws for a task's or a message's trouble (they are logged
   * and recorded); throws a ConfigurationError when AWS says the configuration is wrong (a missing
   * queue or bucket, denied access), which no retry fixes.
   */
  async run(stop: AbortSignal): Promise<RunnerExit> {
    const { settings, queue, log } = this.deps;
    const idleMs = settings.config.idleSeconds * 1000;
    const visibility = Heartbeat.windowSeconds(settings.heartbeatSeconds);
    let lastActivity = Date.now();
    let receiveFailures = 0;
    while (!stop.aborted) {
      const remainingMs = Math.max(0, idleMs - (Date.now() - lastActivity));
      let messages: readonly ReceivedMessage[];
      try {
        messages = await queue.receive({
          maxMessages: 1,
          waitSeconds: Math.min(SQS_LIMITS.maxWaitSeconds, Math.ceil(remainingMs / 1000)),
          visibilityTimeoutSeconds: visibility,
          signal: stop,
        });
        receiveFailures = 0;
      } catch (thrown) {
        if (isConfigurationError(thrown)) throw thrown;
        receiveFailures += 1;
        log.warning('receive-failed', { message: toError(thrown).message, failures: receiveFailures });
        await sleep(Math.min(30_000, 500 * 2 ** receiveFailures));
        continue;
      }
      if (messages.length === 0) {
        if (Date.now() - lastActivity >= idleMs) return 'idle';
        continue;
      }
      for (const message of messages) {
        await this.handle(message, stop);
        lastActivity = Date.now();
      }
    }
    return 'stopped';
  }

  /** Handles one message; logs instead of throwing, except for configuration errors. */
  async handle(message: ReceivedMessage, stop: AbortSignal): Promise<void> {
    const { settings, queue, ledger, processor } = this.deps;
    const log = this.deps.log.with({ messageId: message.messageId, receiveCount: message.receiveCount });
    this.stats.messages += 1;
    try {
      const decision = decideMessage(message.body, settings.config.runId, this.isInput);
      switch (decision.action) {
        case 'reject': {
          const key = await ledger.reject(message.messageId, decision.reason, message.body, new Date());
          log.warning('message-rejected', { reason: decision.reason, recordedAt: key });
          this.stats.rejected += 1;
          await queue.delete(message.receiptHandle);
          return;
        }
        case 'drop':
          log.info('message-dropped', { dropped: decision.dropped });
          this.stats.dropped += 1;
          await queue.delete(message.receiptHandle);
          return;
        case 'fan-out': {
          // Attempts and visibility belong to a message: one message per task keeps one task's
          // retries from re-running another's.
          const sent = await queue.sendBatch(
            decision.tasks.map((task) => ({
              body: formatTaskMessage({ ...task, attemptsUsed: message.receiveCount - 1 }),
            })),
          );
          if (sent.failed.length > 0) {
            throw new MessageMoveError(
              `could not split an S3 event into task messages: ${sent.failed.length} failed`,
            );
          }
          log.info('message-split', { tasks: decision.tasks.length, dropped: decision.dropped });
          await queue.delete(message.receiptHandle);
          return;
        }
        case 'run': {
          const outcome = await processor.process(message, decision.task, stop);
          this.stats.tasks[outcome] += 1;
          return;
        }
      }
    } catch (thrown) {
      if (thrown instanceof ConfigurationError) throw thrown;
      // The message returns when its visibility runs out, and is tried again.
      log.error('message-failed', { message: toError(thrown).message });
    }
  }
}

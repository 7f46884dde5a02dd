/**
 * The control side of a task's life, apart from running it: lease a task from the run's queue (after
 * settling messages that are not tasks, tasks already done, and tasks with no attempts left), keep it
 * leased, and end each attempt — commit its staged results exactly once, record a failure and retry
 * it after a backoff or move it to the dead-letter queue, or hand it back without using an attempt.
 *
 * In direct mode the runner holds this object itself; in sealed mode the broker does, and the runner
 * reaches it through the broker protocol (broker-service.ts). Either way the same code writes the
 * same records, so both modes keep the same guarantees.
 */
import { ConfigurationError, InfrastructureError, toError } from '../errors.js';
import { inputFilter, type InputVerdict } from '../ids/input-selection.js';
import { messageTag, outputPrefixFor, taskLogKey } from '../ids/ledger-keys.js';
import { taskId as taskIdOf } from '../ids/task-id.js';
import type { JsonLog } from '../logging/json-log.js';
import { classifyAttempt } from '../execution/failure.js';
import { MessageNotHeldError } from '../queue/errors.js';
import { SQS_LIMITS, type ReceivedMessage, type TaskQueue } from '../queue/task-queue.js';
import { sameAttempt, type TaskAttempt } from '../schemas/records.js';
import { formatTaskMessage } from '../schemas/task-message.js';
import type { ObjectStore } from '../storage/object-store.js';
import type { ControlSettings } from './control-settings.js';
import { decideMessage, type TaskRef } from './message-decision.js';
import { TRANSFER_MARGIN_SECONDS, commitOutputs, removeLeftoverOutputs, type Commit } from './task-commit.js';
import type {
  AttemptReport,
  CompletionReport,
  CompletionResult,
  ControlStats,
  FailureReport,
  HeartbeatResult,
  Lease,
} from './control-types.js';
import { createdRecord, outputKeysProblem, verdictReport } from './control-reports.js';
import { MessageDeletes } from './message-deletes.js';
import { TaskLedger } from './task-ledger.js';

/** How long a lease goes on settling messages past its wait (a queue full of duplicates). */
const SETTLE_LIMIT_MS = 30_000;
/** SQS's longest message delay and the longest retry backoff. */
const MAX_BACKOFF_SECONDS = 900;

export interface TaskControlDeps {
  readonly settings: ControlSettings;
  readonly store: ObjectStore;
  readonly queue: TaskQueue;
  readonly deadLetter: TaskQueue;
  readonly log: JsonLog;
  /**
   * How long a finished task's message delete may wait to go in one DeleteMessageBatch with others
   * (ms; default 0: at once). Only for a control that lives on and calls {@link TaskControl.flush}
   * before it ends; the message stays invisible meanwhile, and a redelivery would find the marker.
   */
  readonly deleteDelayMs?: number;
}

export class TaskControl {
  readonly stats: ControlStats = {
    messages: 0,
    rejected: 0,
    dropped: 0,
    split: 0,
    alreadyDone: 0,
    duplicates: 0,
    exhausted: 0,
  };
  readonly ledger: TaskLedger;
  private readonly isInput: (bucket: string, key: string) => InputVerdict;
  private readonly deletes: MessageDeletes;

  constructor(private readonly deps: TaskControlDeps) {
    const { settings, store, log } = deps;
    this.ledger = new TaskLedger(
      store,
      settings.config.runId,
      settings.config.output.bucket,
      settings.algorithmDigest,
      log,
    );
    this.isInput = inputFilter(settings.config);
    this.deletes = new MessageDeletes(deps.queue, deps.deleteDelayMs ?? 0, log);
  }

  /** Sends the message deletes still waiting for a batch; call before the control is dropped. */
  async flush(): Promise<void> {
    await this.deletes.flush();
  }

  /** The visibility window of a leased message: three heartbeat periods, so one missed beat does not lose it. */
  get leaseSeconds(): number {
    return Math.min(this.deps.settings.heartbeatSeconds * 3, SQS_LIMITS.maxVisibilityTimeoutSeconds);
  }

  /**
   * Leases the next task for `workerId`, waiting up to `waitSeconds` for one. Messages that are not
   * a task to run now are settled on the way (rejected, dropped, split, already done, out of
   * attempts), and the wait starts again after each. Undefined when no message came in time.
   *
   * @throws ConfigurationError when AWS says the configuration is wrong; other AWS errors once retries are spent.
   */
  async lease(
    workerId: string,
    options: { readonly waitSeconds: number; readonly signal?: AbortSignal },
  ): Promise<Lease | undefined> {
    const deadline = Date.now() + options.waitSeconds * 1000;
    for (;;) {
      const waitSeconds = Math.max(
        0,
        Math.min(SQS_LIMITS.maxWaitSeconds, Math.ceil((deadline - Date.now()) / 1000)),
      );
      const next = await this.nextMessage(waitSeconds, options.signal);
      if (options.signal?.aborted === true) return undefined;
      if (next === undefined) {
        if (Date.now() >= deadline) return undefined;
        continue;
      }
      const { message } = next;
      this.stats.messages += 1;
      const lease = await this.settle(message, workerId, next.at).catch((thrown: unknown) => {
        if (thrown instanceof ConfigurationError) throw thrown;
        // The message returns when its visibility runs out, and is tried again.
        this.deps.log.error('message-failed', {
          messageId: message.messageId,
          message: toError(thrown).message,
        });
        return undefined;
      });
      if (lease !== undefined) return lease;
      // Settling messages is work: go on while they come, but answer a long-poll in bounded time.
      if (Date.now() >= deadline + SETTLE_LIMIT_MS) return undefined;
    }
  }

  /**
   * One message, waiting up to `waitSeconds`. One at a time: a message received and not run at once
   * would count a receive (an attempt) when it came back to another worker.
   */
  private async nextMessage(
    waitSeconds: number,
    signal: AbortSignal | undefined,
  ): Promise<{ message: ReceivedMessage; at: number } | undefined> {
    const [message] = await this.deps.queue.receive({
      maxMessages: 1,
      waitSeconds,
      visibilityTimeoutSeconds: this.leaseSeconds,
      ...(signal !== undefined && { signal }),
    });
    return message === undefined ? undefined : { message, at: Date.now() };
  }

  /** Decides what a received message is; a lease when it is a task to run now. */
  private async settle(
    message: ReceivedMessage,
    workerId: string,
    receivedAt: number,
  ): Promise<Lease | undefined> {
    const { settings, queue } = this.deps;
    const log = this.deps.log.with({ messageId: message.messageId, receiveCount: message.receiveCount });
    const decision = decideMessage(message.body, settings.config.runId, this.isInput);
    switch (decision.action) {
      case 'reject': {
        const key = await this.ledger.reject(message.messageId, decision.reason, message.body, new Date());
        log.warning('message-rejected', { reason: decision.reason, recordedAt: key });
        this.stats.rejected += 1;
        await this.deleteMessage(message.receiptHandle, log);
        return undefined;
      }
      case 'drop':
        log.info('message-dropped', { dropped: decision.dropped });
        this.stats.dropped += 1;
        await this.deleteMessage(message.receiptHandle, log);
        return undefined;
      case 'fan-out': {
        // Attempts and visibility belong to a message: one message per task keeps one task's
        // retries from re-running another's.
        const sent = await queue.sendBatch(
          decision.tasks.map((task) => ({
            body: formatTaskMessage({ ...task, attemptsUsed: message.receiveCount - 1 }),
          })),
        );
        if (sent.failed.length > 0) {
          throw new InfrastructureError(
            `could not split an S3 event into task messages: ${sent.failed.length} failed`,
          );
        }
        log.info('message-split', { tasks: decision.tasks.length, dropped: decision.dropped });
        this.stats.split += 1;
        if (decision.rejected !== undefined) {
          // Its good records are tasks now; the bad ones are set aside as a malformed message is.
          const { reason, records } = decision.rejected;
          const key = await this.ledger.reject(message.messageId, reason, message.body, new Date());
          log.warning('records-rejected', { records, reason, recordedAt: key });
          this.stats.rejected += 1;
        }
        await this.deleteMessage(message.receiptHandle, log);
        return undefined;
      }
      case 'run':
        return this.leaseTask(message, decision.task, workerId, receivedAt, log);
    }
  }

  private async leaseTask(
    message: ReceivedMessage,
    task: TaskRef,
    workerId: string,
    receivedAt: number,
    messageLog: JsonLog,
  ): Promise<Lease | undefined> {
    const { settings } = this.deps;
    // Attempt numbers run on across re-drives (they name log keys and record entries); the retry
    // budget counts from the last re-drive (`retryFrom`).
    const attempt = (task.attemptsUsed ?? 0) + message.receiveCount;
    const taskId = taskIdOf(task);
    const problem = outputKeysProblem(settings.config, task.key);
    const lease: Lease = {
      task,
      taskId,
      attempt,
      roundAttempt: attempt - (task.retryFrom ?? 0),
      workerId,
      messageId: message.messageId,
      holder: messageTag(message.messageId),
      outputPrefix: problem === undefined ? outputPrefixFor(settings.config, task.key) : '',
      cleanup: false,
      logKey: taskLogKey(task.runId, taskId, attempt),
      receiptHandle: message.receiptHandle,
      receivedAt,
      startedAt: new Date().toISOString(),
      visibleAt: receivedAt + this.leaseSeconds * 1000,
    };
    const log = messageLog.with({ taskId, attempt, key: task.key });
    const entry = this.entry(lease, { phases: {}, logStaged: false });
    const holder = { message: lease.holder, attempt, workerId };
    if (attempt === 1 && task.retryFrom === undefined && problem === undefined) {
      // The first receive of a first attempt: no record means no marker and no earlier failure, so
      // creating the record (conditionally) is the whole check. A record found means it was leased
      // before: the checks below read what it says.
      const recordEtag = await this.ledger.createRecord(task, taskId, entry, holder);
      if (recordEtag !== undefined) {
        log.info('task-leased', { workerId, bucket: task.bucket, size: task.size });
        return { ...lease, recordEtag };
      }
    }
    if ((await this.ledger.marker(taskId)) !== undefined) {
      log.info('task-already-done');
      this.stats.alreadyDone += 1;
      await this.deleteMessage(message.receiptHandle, log);
      return undefined;
    }
    if (problem !== undefined) {
      // A key that cannot become output keys (`a//b`, `x/../y`, too long) never will.
      await this.fail(lease, {
        ...verdictReport(classifyAttempt({ kind: 'input', gone: true, message: problem }, settings.manifest)),
        phases: {},
        logStaged: false,
      });
      return undefined;
    }
    const leased = await this.ledger.leaseRecord(task, taskId, entry, holder, {
      redrive: task.retryFrom !== undefined,
      exhausted: lease.roundAttempt > settings.config.maxAttempts,
    });
    switch (leased.kind) {
      case 'leased':
        log.info('task-leased', { workerId, bucket: task.bucket, size: task.size });
        return { ...lease, cleanup: leased.earlier };
      case 'succeeded':
      case 'failed':
        log.info(leased.kind === 'succeeded' ? 'task-already-done' : 'task-already-failed', {
          hint: 'collect-results with retry-failed runs a failed task again',
        });
        this.stats.alreadyDone += 1;
        await this.deleteMessage(message.receiptHandle, log);
        return undefined;
      case 'held':
        // Another message holds the task (a duplicate delivery, a second dispatch): it carries the
        // task to its end, so this one goes without running it or counting an attempt.
        log.info('task-held-elsewhere', { by: leased.by.workerId, attempt: leased.by.attempt });
        this.stats.duplicates += 1;
        await this.deleteMessage(message.receiptHandle, log);
        return undefined;
      case 'exhausted':
        // The last attempt's worker was lost (the message came back with no attempts left).
        this.stats.exhausted += 1;
        await this.fail(lease, {
          failureClass: 'infrastructure',
          retryable: false,
          message: `not run: the worker of an earlier attempt was lost and all ${settings.config.maxAttempts} attempts are used`,
          phases: {},
          logStaged: false,
        });
        return undefined;
    }
  }

  /**
   * Extends a lease by one window, never past the task's time limit plus a margin for transfers (a
   * stuck worker must not hold a task for ever) nor past SQS's 12 hours from the receive. The input's
   * download, once the worker reports it (`downloadMs`), is not counted: a long download must not
   * eat the algorithm's time and let the message show to a second worker while the first still runs.
   *
   * @throws AWS errors other than "message not held" (the caller logs them and beats again).
   */
  async heartbeat(lease: Lease, progress: { readonly downloadMs?: number } = {}): Promise<HeartbeatResult> {
    const { settings, queue } = this.deps;
    const elapsed = (Date.now() - lease.receivedAt - (progress.downloadMs ?? 0)) / 1000;
    const untilLimit = settings.timeoutSeconds + TRANSFER_MARGIN_SECONDS - elapsed;
    // Keep a few seconds between us and SQS's hard cap, which it enforces with an error.
    const untilCap = SQS_LIMITS.maxVisibilityTimeoutSeconds - elapsed - 5;
    const seconds = Math.floor(Math.min(this.leaseSeconds, untilLimit, untilCap));
    if (seconds <= 0) return { kind: 'capped' };
    try {
      await queue.changeVisibility(lease.receiptHandle, seconds);
    } catch (thrown) {
      if (thrown instanceof MessageNotHeldError) return { kind: 'lost', message: thrown.message };
      throw thrown;
    }
    return { kind: 'extended', lease: { ...lease, visibleAt: Date.now() + seconds * 1000 } };
  }

  /**
   * Commits a finished attempt's outputs (already at their final keys) exactly once, records it and
   * deletes its message. A commit that fails is recorded as an `upload-failed` attempt (retried).
   *
   * @throws AWS errors only when even recording failed (the message then returns by itself).
   */
  async complete(lease: Lease, report: CompletionReport): Promise<CompletionResult> {
    const { settings, store, log: baseLog } = this.deps;
    const log = baseLog.with({ taskId: lease.taskId, attempt: lease.attempt, key: lease.task.key });
    const entry: TaskAttempt = { ...this.entry(lease, report), endedAt: new Date().toISOString() };
    this.publishLog(lease, report, entry);
    let committed: Commit;
    try {
      committed = await commitOutputs(
        { settings, store, ledger: this.ledger },
        {
          task: lease.task,
          taskId: lease.taskId,
          outputPrefix: lease.outputPrefix,
          cleanup: lease.cleanup,
          log,
        },
        report.outputs,
        await this.attemptsEndingWith(lease, entry),
      );
    } catch (thrown) {
      const message = `the results could not be committed: ${toError(thrown).message}`;
      const evidence =
        thrown instanceof ConfigurationError
          ? ({ kind: 'outputs', count: report.outputs.length, unsafe: message } as const)
          : ({ kind: 'upload', message } as const);
      const outcome = await this.fail(lease, {
        ...report,
        ...verdictReport(classifyAttempt(evidence, settings.manifest)),
      });
      return { outcome, message };
    }
    // Committed here: the marker is the task's final word (the record stays as the lease wrote it).
    // Beaten by another attempt's marker: this attempt's end is noted in the record.
    if (committed.kind === 'done') {
      await this.ledger.recordAttempt(
        lease.task,
        lease.taskId,
        { ...entry, message: 'another attempt committed this task first; these results were discarded' },
        'succeeded',
        { outputs: committed.outputs, ...createdRecord(lease), holder: 'clear' },
      );
    }
    await this.deleteMessage(lease.receiptHandle, log);
    return {
      outcome: 'succeeded',
      committedHere: committed.kind === 'committed',
      outputs: committed.outputs.map(({ key, size }) => ({ key, size })),
    };
  }

  /**
   * Every attempt of the task with this one last, for the marker. Known without a read when this
   * lease created the record (it holds only this attempt); otherwise the record is read once.
   */
  private async attemptsEndingWith(lease: Lease, entry: TaskAttempt): Promise<TaskAttempt[]> {
    if (lease.recordEtag !== undefined) return [entry];
    const record = await this.ledger.record(lease.taskId);
    const earlier = (record?.attempts ?? []).filter((a) => !sameAttempt(a, entry));
    return [...earlier, entry];
  }

  /**
   * Records a failed attempt; retries it after a backoff, or ends the task and moves it to the
   * dead-letter queue when it is not retryable or its attempts are used.
   *
   * @throws AWS errors only when even recording failed.
   */
  async fail(lease: Lease, report: FailureReport): Promise<'retry' | 'failed'> {
    const { settings, log: baseLog } = this.deps;
    const log = baseLog.with({ taskId: lease.taskId, attempt: lease.attempt, key: lease.task.key });
    const entry: TaskAttempt = {
      ...this.entry(lease, report),
      endedAt: new Date().toISOString(),
      failureClass: report.failureClass,
      message: report.message,
    };
    const final = !report.retryable || lease.roundAttempt >= settings.config.maxAttempts;
    this.publishLog(lease, report, entry);
    await this.ledger.recordAttempt(lease.task, lease.taskId, entry, final ? 'failed' : 'running', {
      ...createdRecord(lease),
      // A retry comes back as the same message, which keeps the task; a final failure frees it.
      holder: final ? 'clear' : { message: lease.holder, attempt: lease.attempt, workerId: lease.workerId },
    });
    if (final && report.failureClass === 'upload-failed' && lease.outputPrefix !== '') {
      // Outputs written before the upload failed are no results: nothing will commit them now.
      const { settings, store } = this.deps;
      await removeLeftoverOutputs(
        { settings, store, ledger: this.ledger },
        { task: lease.task, taskId: lease.taskId, outputPrefix: lease.outputPrefix, cleanup: true, log },
        new Set(),
      );
    }
    if (final) {
      const sent = await this.deps.deadLetter.sendBatch([
        { body: formatTaskMessage({ ...lease.task, attemptsUsed: lease.attempt }) },
      ]);
      const failed = sent.failed[0];
      if (failed !== undefined) {
        throw new InfrastructureError(
          `could not move the task to the dead-letter queue: ${failed.code} ${failed.message}`,
        );
      }
      await this.deleteMessage(lease.receiptHandle, log);
      return 'failed';
    }
    const delay = Math.min(MAX_BACKOFF_SECONDS, settings.retryDelaySeconds * 2 ** (lease.roundAttempt - 1));
    try {
      await this.deps.queue.changeVisibility(lease.receiptHandle, delay);
    } catch (thrown) {
      if (!(thrown instanceof MessageNotHeldError)) throw thrown;
    }
    return 'retry';
  }

  /**
   * Hands the task back without using up an attempt: a fresh task message carrying the attempts
   * used before this receive (so the next receive gets this attempt's number again), then the old
   * message deleted. Used when a worker stops mid-task and when another worker holds the commit.
   *
   * @throws Error when the task could not be handed back (the message then returns by itself).
   */
  async release(lease: Lease, reason: string, delaySeconds = 0): Promise<'released'> {
    const log = this.deps.log.with({ taskId: lease.taskId, attempt: lease.attempt, key: lease.task.key });
    const entry: TaskAttempt = {
      ...this.entry(lease, { phases: {}, logStaged: false }),
      endedAt: new Date().toISOString(),
      message: `released: ${reason}; this attempt does not count`,
    };
    // Freed: the fresh message takes the task again (the old one is deleted next).
    await this.ledger.recordAttempt(lease.task, lease.taskId, entry, 'running', {
      ...createdRecord(lease),
      holder: 'clear',
    });
    const sent = await this.deps.queue.sendBatch([
      { body: formatTaskMessage({ ...lease.task, attemptsUsed: lease.attempt - 1 }), delaySeconds },
    ]);
    const failed = sent.failed[0];
    if (failed !== undefined) {
      throw new InfrastructureError(
        `could not hand the task back to the queue: ${failed.code} ${failed.message}`,
      );
    }
    await this.deleteMessage(lease.receiptHandle, log);
    return 'released';
  }

  /** The record entry of an attempt, from the lease and the worker's report. */
  private entry(lease: Lease, report: AttemptReport): TaskAttempt {
    return {
      attempt: lease.attempt,
      workerId: lease.workerId,
      startedAt: lease.startedAt,
      phases: { ...report.phases },
      ...(report.exitCode !== undefined && { exitCode: report.exitCode }),
    };
  }

  /** Keeps a small log in the entry, or names the one the worker wrote (straight to its final key). */
  private publishLog(lease: Lease, report: AttemptReport, entry: TaskAttempt): void {
    if (report.log !== undefined) entry.log = report.log;
    else if (report.logStaged) entry.logKey = lease.logKey;
  }

  private async deleteMessage(receiptHandle: string, log: JsonLog): Promise<void> {
    await this.deletes.delete(receiptHandle, log);
  }
}

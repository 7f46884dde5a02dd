/**
 * One task, end to end, as the runner does it: skip it when done; heartbeat; download the input;
 * run the algorithm (core's task execution); upload the results to staging and commit them exactly
 * once; record the attempt and upload its log; then delete the message, hand it back for another
 * attempt after a backoff, move it to the dead-letter queue after the last attempt, or release it
 * without using an attempt when the runner is stopping.
 */
import { rm } from 'node:fs/promises';
import { join } from 'node:path';

import {
  ConfigurationError,
  MessageNotHeldError,
  ObjectNotFoundError,
  PortAlgorithm,
  PreconditionFailedError,
  TaskLog,
  algorithmCommand,
  classifyAttempt,
  executeTask,
  formatTaskMessage,
  outputPrefixFor,
  taskId as taskIdOf,
  taskLogKey,
  toError,
  type AttemptVerdict,
  type ObjectStore,
  type ReceivedMessage,
  type TaskAttempt,
  type TaskQueue,
  type TaskWorkspace,
} from '@sluice/core';
import { withRetries } from '@sluice/core/aws';

import type { RunnerSettings } from '../config/settings.js';
import { MessageMoveError } from '../errors.js';
import type { JsonLog } from '../logging/json-log.js';
import type { TaskRef } from '../messages/decide.js';
import { Heartbeat } from './heartbeat.js';
import type { TaskLedger } from './ledger.js';
import { commitResults, type Commit } from './task-commit.js';

/** Delay before a task whose commit another live worker holds is offered again. */
const HELD_RETRY_SECONDS = 60;
/** SQS's longest message delay and the longest retry backoff. */
const MAX_BACKOFF_SECONDS = 900;

/** What the processor works with. */
export interface TaskProcessorDeps {
  readonly settings: RunnerSettings;
  readonly store: ObjectStore;
  readonly queue: TaskQueue;
  readonly deadLetter: TaskQueue;
  readonly ledger: TaskLedger;
  readonly log: JsonLog;
  readonly workspace: TaskWorkspace;
  /** A private directory for task logs while they are written. */
  readonly workDir: string;
  /** The algorithm's complete environment. */
  readonly env: Readonly<Record<string, string>>;
}

/** How a task's handling ended, for the loop and tests. */
export type TaskOutcome = 'succeeded' | 'already-done' | 'retry' | 'failed' | 'released';

/** The state of one attempt while it runs. */
interface AttemptState {
  readonly message: ReceivedMessage;
  readonly task: TaskRef;
  readonly taskId: string;
  readonly attempt: number;
  /** Attempts of this round (since the last re-drive): what the retry budget counts. */
  readonly roundAttempt: number;
  readonly entry: TaskAttempt;
  readonly log: JsonLog;
  readonly taskLog: TaskLog;
  readonly logFile: string;
}

export class TaskProcessor {
  private server: PortAlgorithm | undefined;

  constructor(private readonly deps: TaskProcessorDeps) {}

  /** Stops the port algorithm's server, if one was started. */
  async shutdown(): Promise<void> {
    await this.server?.stop();
  }

  /** How many times the port server was started again after dying. */
  get serverRestarts(): number {
    return this.server?.restartCount ?? 0;
  }

  /**
   * Handles one task from a received message. Never throws for the task's own failures (they are
   * recorded); throws only when even recording failed, leaving the message to return by itself.
   */
  async process(message: ReceivedMessage, task: TaskRef, stop: AbortSignal): Promise<TaskOutcome> {
    const { settings, ledger, workDir } = this.deps;
    const begun = Date.now();
    // Attempt numbers run on across re-drives (they name log keys and record entries); the retry
    // budget counts from the last re-drive (`retryFrom`).
    const attempt = (task.attemptsUsed ?? 0) + message.receiveCount;
    const roundAttempt = attempt - (task.retryFrom ?? 0);
    const taskId = taskIdOf(task);
    const log = this.deps.log.with({ taskId, attempt, key: task.key });
    if ((await ledger.marker(taskId)) !== undefined) {
      log.info('task-already-done');
      await this.deleteMessage(message, log);
      return 'already-done';
    }
    if (task.retryFrom === undefined && (await ledger.failedForGood(taskId))) {
      log.info('task-already-failed', { hint: 'collect-results with retry-failed runs it again' });
      await this.deleteMessage(message, log);
      return 'already-done';
    }
    const logFile = join(workDir, `${taskId}-${attempt}.log`);
    const state: AttemptState = {
      message,
      task,
      taskId,
      attempt,
      roundAttempt,
      entry: { attempt, workerId: settings.workerId, startedAt: new Date(begun).toISOString(), phases: {} },
      log,
      taskLog: new TaskLog(logFile, { secrets: log.secrets }),
      logFile,
    };
    if (roundAttempt > settings.config.maxAttempts) {
      // The last attempt's worker was lost (the message came back with no attempts left).
      state.taskLog.note(
        `no attempts left: attempt ${roundAttempt} of at most ${settings.config.maxAttempts} in this round`,
      );
      const outcome = await this.failed(state, {
        ok: false,
        failureClass: 'infrastructure',
        retryable: false,
        message: `not run: the worker of an earlier attempt was lost and all ${settings.config.maxAttempts} attempts are used`,
      });
      await rm(logFile, { force: true });
      return outcome;
    }
    const heartbeat = new Heartbeat(
      this.deps.queue,
      message.receiptHandle,
      settings.heartbeatSeconds,
      settings.timeoutSeconds,
      log,
    );
    heartbeat.start();
    try {
      return await this.attempt(state, stop);
    } catch (thrown) {
      const error = toError(thrown);
      log.error('task-error', { message: error.message });
      state.taskLog.note(`the runner failed: ${error.message}`);
      const verdict = classifyAttempt(
        {
          kind: 'infrastructure',
          message: error.message,
          retryable: !(thrown instanceof ConfigurationError),
        },
        settings.manifest,
      );
      return await this.failed(state, verdict);
    } finally {
      heartbeat.stop();
      await this.deps.workspace.prepare().catch((thrown: unknown) => {
        log.warning('workspace-clear-failed', { message: toError(thrown).message });
      });
      await rm(logFile, { force: true });
    }
  }

  private async attempt(state: AttemptState, stop: AbortSignal): Promise<TaskOutcome> {
    const { settings, store, ledger, workspace } = this.deps;
    const { task, taskId, entry, log, taskLog } = state;
    await ledger.recordAttempt(task, taskId, entry, 'running');
    log.info('task-started', { bucket: task.bucket, size: task.size });
    try {
      // A key that cannot become output keys (`a//b`, `x/../y`, too long) never will.
      outputPrefixFor(settings.config, task.key);
    } catch (thrown) {
      return this.failed(
        state,
        classifyAttempt({ kind: 'input', gone: true, message: toError(thrown).message }, settings.manifest),
      );
    }
    await workspace.prepare();

    let started = Date.now();
    try {
      await withRetries(() =>
        store.download({ bucket: task.bucket, key: task.key }, workspace.inputFileFor(task.key), {
          ifMatch: task.etag,
          ...(task.versionId !== undefined && { versionId: task.versionId }),
        }),
      );
    } catch (thrown) {
      const gone = thrown instanceof ObjectNotFoundError || thrown instanceof PreconditionFailedError;
      const message = `the input could not be downloaded: ${toError(thrown).message}`;
      taskLog.note(message);
      return this.failed(state, classifyAttempt({ kind: 'input', gone, message }, settings.manifest));
    }
    entry.phases.downloadMs = Date.now() - started;
    if (stop.aborted) return this.release(state);

    if (settings.manifest.port !== undefined && this.server === undefined) {
      this.server = new PortAlgorithm({
        command: algorithmCommand(settings.manifest, {
          input: workspace.inputPath,
          output: workspace.outputPath,
        }),
        env: this.deps.env,
        port: settings.manifest.port,
        ...(settings.workingDir !== undefined && { cwd: settings.workingDir }),
      });
      await this.server.start(taskLog);
    }
    const result = await executeTask({
      manifest: settings.manifest,
      workspace,
      taskId,
      key: task.key,
      env: this.deps.env,
      timeoutMs: settings.timeoutSeconds * 1000,
      log: taskLog,
      signal: stop,
      ...(this.server !== undefined && { server: this.server }),
      ...(settings.workingDir !== undefined && { cwd: settings.workingDir }),
    });
    entry.phases.runMs = result.runMs;
    if (result.aborted) return this.release(state);
    if (!result.verdict.ok) return this.failed(state, result.verdict);
    if (result.verdict.exitCode !== undefined) entry.exitCode = result.verdict.exitCode;

    // From here on the task is finished even when the runner is asked to stop: committing is short.
    started = Date.now();
    let committed: Commit;
    try {
      committed = await commitResults(this.deps, state, result.outputs);
    } catch (thrown) {
      const message = `the results could not be committed: ${toError(thrown).message}`;
      taskLog.note(message);
      const evidence =
        thrown instanceof ConfigurationError
          ? ({ kind: 'outputs', count: result.outputs.length, unsafe: message } as const)
          : ({ kind: 'upload', message } as const);
      return this.failed(state, classifyAttempt(evidence, settings.manifest));
    }
    entry.phases.uploadMs = Date.now() - started;
    if (committed.kind === 'held') {
      log.info('commit-held-elsewhere', { by: committed.by });
      return this.release(
        state,
        `another worker (${committed.by}) is committing this task`,
        HELD_RETRY_SECONDS,
      );
    }
    entry.endedAt = new Date().toISOString();
    if (committed.kind === 'done') {
      entry.message = 'another attempt committed this task first; these results were discarded';
    }
    taskLog.note(`committed ${committed.outputs.length} result(s)`);
    await this.uploadLog(state);
    await ledger.recordAttempt(task, taskId, entry, 'succeeded', committed.outputs);
    await this.deleteMessage(state.message, log);
    log.info('task-succeeded', {
      outputs: committed.outputs.length,
      committedHere: committed.kind === 'committed',
      ...entry.phases,
      totalMs: Date.now() - Date.parse(entry.startedAt),
    });
    return 'succeeded';
  }

  /** Records a failed attempt; retries it later, or ends the task and moves it to the dead-letter queue. */
  private async failed(state: AttemptState, verdict: AttemptVerdict): Promise<TaskOutcome> {
    if (verdict.ok) throw new Error('failed() called with a success');
    const { settings, ledger } = this.deps;
    const { entry, log, attempt, roundAttempt } = state;
    entry.endedAt = new Date().toISOString();
    entry.failureClass = verdict.failureClass;
    entry.message = verdict.message;
    if (verdict.exitCode !== undefined) entry.exitCode = verdict.exitCode;
    const final = !verdict.retryable || roundAttempt >= settings.config.maxAttempts;
    state.taskLog.note(`attempt ${attempt} failed (${verdict.failureClass}): ${verdict.message}`);
    await this.uploadLog(state);
    await ledger.recordAttempt(state.task, state.taskId, entry, final ? 'failed' : 'running');
    const fields = {
      failureClass: verdict.failureClass,
      exitCode: verdict.exitCode,
      reason: verdict.message,
    };
    if (final) {
      await this.moveToDeadLetter(state);
      log.error('task-failed', { ...fields, final: true, retryable: verdict.retryable, ...entry.phases });
      return 'failed';
    }
    const delay = Math.min(MAX_BACKOFF_SECONDS, settings.retryDelaySeconds * 2 ** (roundAttempt - 1));
    try {
      await this.deps.queue.changeVisibility(state.message.receiptHandle, delay);
    } catch (thrown) {
      if (!(thrown instanceof MessageNotHeldError)) throw thrown;
    }
    log.warning('task-attempt-failed', { ...fields, retryInSeconds: delay, ...entry.phases });
    return 'retry';
  }

  /**
   * Hands the task back without using up an attempt: a fresh task message carrying the attempts
   * used before this receive (so the next receive gets this attempt's number again), then the old
   * message deleted. Used when the runner stops mid-task and when another worker holds the commit.
   */
  private async release(
    state: AttemptState,
    reason = 'the runner is stopping',
    delaySeconds = 0,
  ): Promise<TaskOutcome> {
    const { entry, log, attempt } = state;
    entry.endedAt = new Date().toISOString();
    entry.message = `released: ${reason}; this attempt does not count`;
    await this.deps.ledger.recordAttempt(state.task, state.taskId, entry, 'running');
    const sent = await this.deps.queue.sendBatch([
      { body: formatTaskMessage({ ...state.task, attemptsUsed: attempt - 1 }), delaySeconds },
    ]);
    const failed = sent.failed[0];
    if (failed !== undefined) {
      throw new MessageMoveError(
        `could not hand the task back to the queue: ${failed.code} ${failed.message}`,
      );
    }
    await this.deleteMessage(state.message, log);
    log.info('task-released', { reason, attemptsUsed: attempt - 1 });
    return 'released';
  }

  /** Sends the task to the dead-letter queue with every attempt counted, then deletes the message. */
  private async moveToDeadLetter(state: AttemptState): Promise<void> {
    const sent = await this.deps.deadLetter.sendBatch([
      { body: formatTaskMessage({ ...state.task, attemptsUsed: state.attempt }) },
    ]);
    const failed = sent.failed[0];
    if (failed !== undefined) {
      throw new MessageMoveError(
        `could not move the task to the dead-letter queue: ${failed.code} ${failed.message}`,
      );
    }
    await this.deleteMessage(state.message, state.log);
  }

  private async uploadLog(state: AttemptState): Promise<void> {
    const { settings, store } = this.deps;
    const key = taskLogKey(settings.config.runId, state.taskId, state.attempt);
    const closed = await state.taskLog.close();
    try {
      await withRetries(() =>
        store.upload({ bucket: settings.config.output.bucket, key }, state.logFile, {
          contentType: 'text/plain; charset=utf-8',
        }),
      );
      state.entry.logKey = key;
      if (closed.truncated) state.log.info('task-log-truncated', { bytes: closed.bytes });
    } catch (thrown) {
      state.log.warning('task-log-upload-failed', { message: toError(thrown).message });
    }
  }

  private async deleteMessage(message: ReceivedMessage, log: JsonLog): Promise<void> {
    try {
      await withRetries(() => this.deps.queue.delete(message.receiptHandle));
    } catch (thrown) {
      // Lost the message meanwhile: whoever has it now finds the marker (or the record) and stops.
      if (!(thrown instanceof MessageNotHeldError)) throw thrown;
      log.warning('message-delete-not-held', { message: thrown.message });
    }
  }
}

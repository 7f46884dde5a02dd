/**
 * One leased attempt, as the worker side does it in either mode: download the input, run the
 * algorithm (core's task execution), stage the outputs and the log, and end the attempt through the
 * task source — which commits exactly once, records a failure and retries or ends the task, or
 * takes the task back when the runner is stopping. The heartbeat keeps the lease meanwhile.
 */
import { readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';

import {
  ConfigurationError,
  INLINE_LOG_MAX_BYTES,
  ObjectNotFoundError,
  PortAlgorithm,
  PreconditionFailedError,
  PresignedScopeError,
  TaskLog,
  algorithmCommand,
  classifyAttempt,
  executeTask,
  mapBounded,
  toError,
  type AttemptVerdict,
  type CollectedOutput,
  type JsonLog,
  type TaskAttempt,
  type TaskWorkspace,
} from '@sluice/core';

import type { RunnerSettings } from '../config/settings.js';
import type { TaskSource, WorkerLease } from '../sources/task-source.js';
import { Heartbeat } from './heartbeat.js';

/** Output uploads of one task in flight at once. */
const UPLOADS_IN_FLIGHT = 8;

/** What the processor works with. */
export interface TaskProcessorDeps {
  readonly settings: RunnerSettings;
  readonly source: TaskSource;
  readonly log: JsonLog;
  readonly workspace: TaskWorkspace;
  /** A private directory for task logs while they are written. */
  readonly workDir: string;
  /** The algorithm's complete environment. */
  readonly env: Readonly<Record<string, string>>;
}

/**
 * How a task's handling ended, for the loop and tests. `lost`: the lease was lost while the attempt
 * ran (another worker has the message now), so the attempt stopped and reported nothing.
 */
export type TaskOutcome = 'succeeded' | 'retry' | 'failed' | 'released' | 'lost';

/** The state of one attempt while it runs. */
interface AttemptState {
  readonly lease: WorkerLease;
  readonly phases: TaskAttempt['phases'];
  readonly log: JsonLog;
  readonly taskLog: TaskLog;
  readonly logFile: string;
  readonly begun: number;
  readonly heartbeat: Heartbeat;
  /** Set once the log is closed: kept inline, written to its key, or neither (could not be). */
  logReport?: LogReport;
}

/** What the attempt's report says of its log. */
interface LogReport {
  /** True when the log was written to the lease's `logKey`. */
  readonly logStaged: boolean;
  /** The whole log, when small enough to go in the record (nothing is written to `logKey` then). */
  readonly log?: string;
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
   * Runs one leased attempt to its end. Never throws for the task's own failures (they are
   * recorded); throws only when even reporting failed, leaving the lease to run out by itself.
   */
  async process(lease: WorkerLease, stop: AbortSignal): Promise<TaskOutcome> {
    const { settings, workDir, source } = this.deps;
    const log = this.deps.log.with({ taskId: lease.taskId, attempt: lease.attempt, key: lease.task.key });
    const logFile = join(workDir, `${lease.taskId}-${lease.attempt}.log`);
    const phases: TaskAttempt['phases'] = {};
    const heartbeat = new Heartbeat(source, lease, settings.heartbeatSeconds, log, () => phases.downloadMs);
    const state: AttemptState = {
      lease,
      phases,
      log,
      taskLog: new TaskLog(logFile, { secrets: log.secrets }),
      logFile,
      begun: Date.now(),
      heartbeat,
    };
    heartbeat.start();
    try {
      // A lost lease stops the attempt as a stop request does; `abandon` then reports nothing.
      return await this.attempt(state, AbortSignal.any([stop, heartbeat.lostSignal]));
    } catch (thrown) {
      const error = toError(thrown);
      log.error('task-error', { message: error.message });
      if (state.logReport === undefined) state.taskLog.note(`the runner failed: ${error.message}`);
      return await this.failed(
        state,
        classifyAttempt(
          {
            kind: 'infrastructure',
            message: error.message,
            retryable: !(thrown instanceof ConfigurationError),
          },
          settings.manifest,
        ),
      );
    } finally {
      heartbeat.stop();
      await this.deps.workspace.prepare().catch((thrown: unknown) => {
        log.warning('workspace-clear-failed', { message: toError(thrown).message });
      });
      await rm(logFile, { force: true });
    }
  }

  private async attempt(state: AttemptState, stop: AbortSignal): Promise<TaskOutcome> {
    const { settings, source, workspace } = this.deps;
    const { lease, phases, log, taskLog } = state;
    log.info('task-started', { bucket: lease.task.bucket, size: lease.task.size });
    await workspace.prepare();

    let started = Date.now();
    try {
      await source.download(lease, workspace.inputFileFor(lease.task.key));
    } catch (thrown) {
      const gone = thrown instanceof ObjectNotFoundError || thrown instanceof PreconditionFailedError;
      const message = `the input could not be downloaded: ${toError(thrown).message}`;
      taskLog.note(message);
      return this.failed(state, classifyAttempt({ kind: 'input', gone, message }, settings.manifest));
    }
    phases.downloadMs = Date.now() - started;
    if (stop.aborted) return this.releaseOrAbandon(state);

    if (settings.manifest.port !== undefined && this.server === undefined) {
      this.server = new PortAlgorithm({
        command: algorithmCommand(settings.manifest, {
          input: workspace.inputPath,
          output: workspace.outputPath,
        }),
        env: this.deps.env,
        port: settings.manifest.port,
        ...(settings.workingDir !== undefined && { cwd: settings.workingDir }),
        ...(settings.runAs !== undefined && { runAs: settings.runAs }),
      });
      await this.server.start(taskLog);
    }
    const result = await executeTask({
      manifest: settings.manifest,
      workspace,
      taskId: lease.taskId,
      key: lease.task.key,
      env: this.deps.env,
      timeoutMs: settings.timeoutSeconds * 1000,
      log: taskLog,
      signal: stop,
      ...(this.server !== undefined && { server: this.server }),
      ...(settings.workingDir !== undefined && { cwd: settings.workingDir }),
      ...(settings.runAs !== undefined && { runAs: settings.runAs }),
    });
    phases.runMs = result.runMs;
    if (result.aborted) return this.releaseOrAbandon(state);
    if (!result.verdict.ok) return this.failed(state, result.verdict);
    const exitCode = result.verdict.exitCode;

    // From here on the task is finished even when the runner is asked to stop: committing is short.
    started = Date.now();
    let etags: (string | undefined)[];
    try {
      etags = await this.uploadOutputs(lease, result.outputs);
    } catch (thrown) {
      const message = `the results could not be uploaded: ${toError(thrown).message}`;
      taskLog.note(message);
      // A result the upload policy can never take (over 5 GiB in sealed mode) is not worth a retry.
      const evidence =
        thrown instanceof ConfigurationError || thrown instanceof PresignedScopeError
          ? ({ kind: 'outputs', count: result.outputs.length, unsafe: message } as const)
          : ({ kind: 'upload', message } as const);
      return this.failed(state, classifyAttempt(evidence, settings.manifest));
    }
    phases.uploadMs = Date.now() - started;
    taskLog.note(`uploaded ${result.outputs.length} result(s) for the commit`);
    // The new holder's commit removes what this attempt uploaded (tagged with the task, not in its marker).
    if (state.heartbeat.lost) return this.abandon(state);
    const completed = await source.complete(lease, {
      phases,
      ...(exitCode !== undefined && { exitCode }),
      ...(await this.finishLog(state)),
      outputs: result.outputs.map(({ relativePath, size }, index) => {
        const etag = etags[index];
        return etag === undefined ? { relativePath, size } : { relativePath, size, etag };
      }),
    });
    const fields = {
      outputs: completed.outputs?.length,
      committedHere: completed.committedHere,
      ...phases,
      totalMs: Date.now() - state.begun,
    };
    if (completed.outcome === 'succeeded') log.info('task-succeeded', fields);
    else
      log.warning('task-not-committed', { outcome: completed.outcome, reason: completed.message, ...phases });
    return completed.outcome;
  }

  /** Uploads every output, a few at a time: each is its own request, so they need not wait in line. */
  private async uploadOutputs(
    lease: WorkerLease,
    outputs: readonly CollectedOutput[],
  ): Promise<(string | undefined)[]> {
    return mapBounded(outputs, UPLOADS_IN_FLIGHT, (output) =>
      this.deps.source.uploadOutput(lease, output.relativePath, output.file),
    );
  }

  /** Reports a failed attempt; the control retries it later or ends the task. */
  private async failed(state: AttemptState, verdict: AttemptVerdict): Promise<TaskOutcome> {
    if (verdict.ok) throw new Error('failed() called with a success');
    // The task is another worker's now: recording this attempt would write over its record.
    if (state.heartbeat.lost) return this.abandon(state);
    if (state.logReport === undefined)
      state.taskLog.note(
        `attempt ${state.lease.attempt} failed (${verdict.failureClass}): ${verdict.message}`,
      );
    const logReport = await this.finishLog(state);
    const outcome = await this.deps.source.fail(state.lease, {
      failureClass: verdict.failureClass,
      retryable: verdict.retryable,
      message: verdict.message,
      phases: state.phases,
      ...(verdict.exitCode !== undefined && { exitCode: verdict.exitCode }),
      ...logReport,
    });
    const fields = {
      failureClass: verdict.failureClass,
      exitCode: verdict.exitCode,
      reason: verdict.message,
    };
    if (outcome === 'failed') state.log.error('task-failed', { ...fields, final: true, ...state.phases });
    else state.log.warning('task-attempt-failed', { ...fields, ...state.phases });
    return outcome;
  }

  /** Stopped by a lost lease (nothing to report) or by the runner stopping (handed back). */
  private releaseOrAbandon(state: AttemptState): Promise<TaskOutcome> {
    return state.heartbeat.lost ? this.abandon(state) : this.release(state);
  }

  /** Leaves a task whose lease was lost: its new holder runs it; nothing is recorded from here. */
  private abandon(state: AttemptState): Promise<TaskOutcome> {
    state.log.warning('task-abandoned', {
      reason: 'the lease was lost: another worker holds the task, so this attempt reports nothing',
      ...state.phases,
    });
    return Promise.resolve('lost');
  }

  /** Hands the task back without using up an attempt (the runner is stopping). */
  private async release(state: AttemptState): Promise<TaskOutcome> {
    await this.deps.source.release(state.lease, 'the runner is stopping');
    state.log.info('task-released', {
      reason: 'the runner is stopping',
      attemptsUsed: state.lease.attempt - 1,
    });
    return 'released';
  }

  /**
   * Closes the task log and hands it on: a small one goes in the report (kept in the record, no
   * request of its own), a larger one is written to the lease's log key. A log that could not be
   * written is reported missing (with a warning): the attempt's outcome matters more than its log.
   */
  private async finishLog(state: AttemptState): Promise<LogReport> {
    if (state.logReport !== undefined) return state.logReport;
    const closed = await state.taskLog.close();
    if (closed.bytes <= INLINE_LOG_MAX_BYTES) {
      state.logReport = { logStaged: false, log: await readFile(state.logFile, 'utf8') };
      return state.logReport;
    }
    try {
      await this.deps.source.stageLog(state.lease, state.logFile);
      if (closed.truncated) state.log.info('task-log-truncated', { bytes: closed.bytes });
      state.logReport = { logStaged: true };
    } catch (thrown) {
      state.log.warning('task-log-upload-failed', { message: toError(thrown).message });
      state.logReport = { logStaged: false };
    }
    return state.logReport;
  }
}

// The watcher's logic, pure over three ports: read the run's queue backlog, count its running
// workers, start more while the backlog grows, up to maxWorkers. Runners exit when idle, so with no
// backlog the run falls to minWorkers (zero by default) on its own; the watcher never stops tasks.
//
// It is driven only by its schedule: EventBridge invokes it every minute with the run's WatcherEvent
// as the target's Input. An S3 or SQS event fan-out is not accepted: the backlog it reads already
// counts every notification, and a minute's lag is well within a worker's start time.
import {
  ConfigurationError,
  isConfigurationError,
  parseWatcherEvent,
  toError,
  type WatcherEvent,
  type WatcherLaunch,
} from '@sluice/core';
import { taskBacklog, workersToStart, type BacklogCounts } from '@sluice/core/compute';

/** The task queue's approximate counts: visible, in flight, and delayed (retries in backoff). */
export type QueueBacklog = BacklogCounts;

/** Why one task (or a whole RunTask call) did not start, as ECS put it. */
export interface StartFailure {
  readonly reason: string;
  readonly detail?: string;
}

/** What the watcher needs from AWS: SQS counts, ECS task counts and ECS RunTask. */
export interface WatcherPorts {
  backlog(queueUrl: string): Promise<QueueBacklog>;
  /** Tasks of the run not yet stopped (pending ones too): ECS ListTasks by the run's task definition family. */
  running(run: { readonly cluster: string; readonly runId: string }): Promise<number>;
  /** Starts `count` tasks; capacity and throttling failures are returned, not thrown. */
  start(launch: WatcherLaunch, count: number): Promise<{ started: number; failures: StartFailure[] }>;
}

/** One structured log line, written per invocation. */
export type WatcherLogLine = Record<string, unknown> & { readonly level: 'info' | 'warning' | 'error' };

/** What one invocation did. */
export type WatcherOutcome =
  | { readonly outcome: 'ignored'; readonly reason: string }
  | {
      readonly outcome: 'checked';
      readonly runId: string;
      readonly backlog: QueueBacklog;
      readonly running: number;
      readonly toStart: number;
      readonly started: number;
      readonly failures: readonly StartFailure[];
    };

/** Writes one JSON object per line on stdout, which Lambda sends to CloudWatch Logs. */
export function jsonLineLog(line: WatcherLogLine): void {
  process.stdout.write(`${JSON.stringify({ time: new Date().toISOString(), ...line })}\n`);
}

/** What a known event that is not a watcher event is, and what to do; `undefined` for anything else. */
function foreignEvent(event: unknown): string | undefined {
  if (typeof event !== 'object' || event === null || 'sluice' in event) return undefined;
  if ('Records' in event) {
    return (
      'an S3 or SQS event (it has "Records"), not a watcher event: the watcher is driven by its EventBridge ' +
      'schedule only, whose target Input is the watcher event. Remove the trigger that sends these.'
    );
  }
  if ('detail-type' in event) {
    return (
      'an EventBridge event, not the watcher event its schedule target should pass as Input: ' +
      'provision the run again to restore the target.'
    );
  }
  return undefined;
}

/**
 * Handles one invocation: checks the event, reads the backlog and the running count, starts what
 * core's `workersToStart` says (the rule the ECS worker pool follows too), and logs one JSON line
 * (run, backlog, running, started, failures).
 * A bad event is logged and ignored (returns `ignored`): retrying it would fail the same way. A
 * fault reading the counts is logged and thrown, so Lambda records the error; the next minute's
 * invocation tries again.
 *
 * @example
 * const outcome = await handleWatcherEvent(event, ports); // { outcome: 'checked', started: 3, ... }
 * @throws whatever a port throws while reading the backlog or the running count (after logging it).
 */
export async function handleWatcherEvent(
  received: unknown,
  ports: WatcherPorts,
  log: (line: WatcherLogLine) => void = jsonLineLog,
): Promise<WatcherOutcome> {
  let event: WatcherEvent;
  try {
    event = parseWatcherEvent(received, 'watcher event');
  } catch (thrown: unknown) {
    if (!isConfigurationError(thrown)) throw thrown;
    const reason = foreignEvent(received) ?? toError(thrown).message;
    log({ level: 'error', message: 'watcher: event ignored', reason });
    return { outcome: 'ignored', reason };
  }

  const { runId, queueUrl, minWorkers, maxWorkers, launch } = event;
  const tasksPerWorker = event.tasksPerWorker ?? 1;
  let backlog: QueueBacklog;
  let running: number;
  try {
    [backlog, running] = await Promise.all([
      ports.backlog(queueUrl),
      ports.running({ cluster: launch.cluster, runId }),
    ]);
  } catch (thrown: unknown) {
    const error = toError(thrown);
    log({ level: 'error', message: 'watcher: could not read the run', run: runId, error: error.message });
    throw error;
  }

  const toStart = workersToStart({
    backlog: taskBacklog(backlog),
    running,
    minWorkers,
    maxWorkers,
    tasksPerWorker,
  });
  const { started, failures } =
    toStart > 0 ? await startSafely(ports, launch, toStart) : { started: 0, failures: [] };
  log({
    level: failures.length > 0 ? 'warning' : 'info',
    message: 'watcher: checked',
    run: runId,
    backlog: { visible: backlog.visible, inFlight: backlog.inFlight, delayed: backlog.delayed },
    running,
    minWorkers,
    maxWorkers,
    ...(event.tasksPerWorker !== undefined && { tasksPerWorker }),
    toStart,
    started,
    failures,
  });
  return { outcome: 'checked', runId, backlog, running, toStart, started, failures };
}

/** A start that throws is reported as a failure: the next minute's invocation tries again. */
async function startSafely(
  ports: WatcherPorts,
  launch: WatcherLaunch,
  count: number,
): Promise<{ started: number; failures: StartFailure[] }> {
  try {
    return await ports.start(launch, count);
  } catch (thrown: unknown) {
    const error = toError(thrown);
    return {
      started: 0,
      failures: [
        { reason: error instanceof ConfigurationError ? 'configuration' : error.name, detail: error.message },
      ],
    };
  }
}

// The one scaling rule of a run's workers, shared by the ECS worker pool (dispatch and collect top
// workers up) and the watcher Lambda (every minute): pure, so the Lambda imports it without any client.

/** A run queue's approximate counts, as SQS gives them. */
export interface BacklogCounts {
  /** Messages waiting to be received. */
  readonly visible: number;
  /** Messages received and being worked on. */
  readonly inFlight: number;
  /** Messages not yet visible: retries waiting out their backoff, sends with a delay. */
  readonly delayed: number;
}

/** What {@link workersToStart} weighs. */
export interface WorkerDemand {
  /** Tasks not yet done: messages visible, in flight and delayed on the run's queue ({@link taskBacklog}). */
  readonly backlog: number;
  /** Workers running or pending now. */
  readonly running: number;
  /** The job's `compute.maxWorkers`. */
  readonly maxWorkers: number;
  /** The job's `compute.minWorkers`. */
  readonly minWorkers: number;
  /** Tasks one worker runs side by side (the run's `tasksPerWorker`); default 1. */
  readonly tasksPerWorker?: number;
}

const whole = (n: number): number => (Number.isFinite(n) && n > 0 ? Math.floor(n) : 0);

/**
 * The tasks not yet done on a run's queue: visible, in flight and delayed messages. Delayed ones
 * count: they are retries waiting out their backoff, and a worker must be there when they show.
 *
 * @example
 * taskBacklog({ visible: 3, inFlight: 2, delayed: 1 }); // 6
 * @throws never; negative or non-finite counts count as 0.
 */
export function taskBacklog(counts: BacklogCounts): number {
  return whole(counts.visible) + whole(counts.inFlight) + whole(counts.delayed);
}

/**
 * How many workers to start now: enough for the tasks not yet done at `tasksPerWorker` each
 * (ceil(backlog / tasksPerWorker)), up to `maxWorkers`, and at least `minWorkers` running; never
 * negative (runners exit by themselves when idle, so nothing is stopped here). Each runner of a worker
 * works on one task at a time, so in-flight messages count: their runners are busy. The watcher Lambda
 * and the ECS worker pool (dispatch, collect) both use it.
 *
 * @example
 * workersToStart({ backlog: 25, running: 3, maxWorkers: 10, minWorkers: 0 }); // 7
 * workersToStart({ backlog: 0, running: 0, maxWorkers: 10, minWorkers: 2 });  // 2
 * workersToStart({ backlog: 25, running: 3, maxWorkers: 10, minWorkers: 0, tasksPerWorker: 4 }); // 4
 * @throws never; negative or non-finite inputs count as 0, a tasksPerWorker below 1 as 1.
 */
export function workersToStart(demand: WorkerDemand): number {
  const max = whole(demand.maxWorkers);
  const perWorker = Math.max(1, whole(demand.tasksPerWorker ?? 1));
  const needed = Math.ceil(whole(demand.backlog) / perWorker);
  const target = Math.min(max, Math.max(whole(demand.minWorkers), needed));
  return Math.max(0, target - whole(demand.running));
}

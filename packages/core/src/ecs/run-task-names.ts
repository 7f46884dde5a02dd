// The names of a run's ECS things: the default cluster, the tasks' `startedBy` and group, and the run's
// task definition family. ListTasks finds a run's tasks by them, from any process (the watcher too).
// And the names of a worker's runner containers.
import { ALGORITHM_CONTAINER } from './task-definition.js';

/** The cluster sluice runs its tasks in when the job names none; shared by runs, never deleted by teardown. */
export const DEFAULT_ECS_CLUSTER = 'sluice';

/**
 * `startedBy` of a run's tasks: `sluice-<run-id>` (at most 46 characters of the 128 allowed). ListTasks
 * filters on it, so a run's tasks are counted and stopped from any process.
 *
 * @example
 * runStartedBy('thumbs-3f9a0c12'); // 'sluice-thumbs-3f9a0c12'
 * @throws never.
 */
export function runStartedBy(runId: string): string {
  return `sluice-${runId}`;
}

/**
 * The task group of a run's tasks, `sluice:<run-id>`: what the ECS console groups tasks by.
 *
 * @example
 * runTaskGroup('thumbs-3f9a0c12'); // 'sluice:thumbs-3f9a0c12'
 * @throws never.
 */
export function runTaskGroup(runId: string): string {
  return `sluice:${runId}`;
}

/**
 * The family of a run's own task definition: `sluice-run-<run-id>` (a run id is at most 39
 * characters, far below ECS's 255).
 *
 * @example
 * runTaskDefinitionFamily('thumbs-3f9a0c12'); // 'sluice-run-thumbs-3f9a0c12'
 * @throws never.
 */
export function runTaskDefinitionFamily(runId: string): string {
  return `sluice-run-${runId}`.replace(/[^A-Za-z0-9_-]/g, '-').slice(0, 255);
}

/**
 * The runner containers of a worker running `tasksPerWorker` tasks side by side: `algorithm` (as in a
 * one-task worker, so the catalogue and one-task runs are unchanged), then `algorithm-2`, …
 *
 * @example
 * runnerContainerNames(3); // ['algorithm', 'algorithm-2', 'algorithm-3']
 * @throws never; fewer than 1 counts as 1.
 */
export function runnerContainerNames(tasksPerWorker: number): string[] {
  const names = [ALGORITHM_CONTAINER];
  for (let n = 2; n <= tasksPerWorker; n += 1) names.push(`${ALGORITHM_CONTAINER}-${n}`);
  return names;
}

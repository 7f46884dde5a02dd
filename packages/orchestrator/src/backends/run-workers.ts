// Which workers a step tops up: the run's backend (or the caller's override) picks the implementation.
import { runJob, type Job, type RunState } from '@sluice/core';

import { regionOf, type AwsContext } from '../aws-context.js';
import type { StepContext } from '../context.js';
import { ecsWorkerPool } from './ecs-pool.js';
import type { EcsResourceSettings } from './ecs-resources.js';
import { localWorkerBackend } from './local.js';
import { backendOf, type WorkerBackend } from './worker-backend.js';

/** The region and endpoint ECS resources are made in, the logger, and the watcher's zip. */
export async function ecsSettingsOf(aws: AwsContext, context: StepContext): Promise<EcsResourceSettings> {
  return {
    region: await regionOf(aws),
    endpoint: aws.endpoint,
    logger: context.logger,
    ...(context.watcherZip !== undefined && { watcherZip: context.watcherZip }),
  };
}

/**
 * The run's workers: local runner containers, or ECS tasks. Everything they need is checked here,
 * before a step enqueues or waits for anything.
 *
 * @example
 * const workers = await runWorkers(state, job, aws, context); await workers.ensure();
 * @throws {ConfigurationError} when the workers cannot be started as the run asks (see each backend).
 */
export async function runWorkers(
  state: RunState,
  job: Job | undefined,
  aws: AwsContext,
  context: StepContext,
): Promise<WorkerBackend> {
  if (backendOf(state, context.backend) === 'local') return localWorkerBackend(state, job, aws, context);
  const pool = ecsWorkerPool(state, job ?? runJob(state), aws.ecs(), await ecsSettingsOf(aws, context));
  const url = state.queue.url;
  return {
    ensure: async () =>
      pool.ensure(url === undefined ? undefined : await aws.deps.queues.taskQueue(url).counts()),
    // ECS resolves secrets itself: their values never reach sluice.
    secrets: [],
  };
}

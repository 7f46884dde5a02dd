// The run's ECS workers as dispatch and collect see them: counted, and started with RunTask as the
// backlog calls for. Only the ECS client is needed here, so the steps that top workers up (dispatch,
// collect) carry no IAM, EC2, Logs, Lambda or EventBridge client (see ecs-resources.ts for those).
import type { ECSClient } from '@aws-sdk/client-ecs';

import {
  ConfigurationError,
  type Job,
  type Logger,
  type QueueCounts,
  type RunEcsState,
  type RunState,
} from '@sluice/core';
import { ecsLaunchTemplate, ecsRunnerVariables, EcsWorkers, type EcsLaunchTemplate } from '@sluice/core/ecs';
import { taskBacklog, workersToStart } from '@sluice/core/compute';

import { runnerConfigFor } from './runner-config.js';

/** Where the run's AWS calls go: the region, and a custom endpoint (moto, LocalStack) if any. */
export interface EcsSettings {
  readonly region: string;
  readonly endpoint: string | undefined;
  readonly logger: Logger;
}

/**
 * The RunTask request (without count) that starts one of the run's workers: the run's task
 * definition, network and roles, and `SLUICE_RUN` in the environment overrides.
 *
 * @example
 * await new EcsWorkers(ecs).start(ecsLaunch(state, job, state.ecs, settings), 3);
 * @throws {ConfigurationError} when the overrides are over ECS's limit, or for `fromEnv` values.
 */
export function ecsLaunch(
  state: RunState,
  job: Job,
  ecs: RunEcsState,
  settings: Pick<EcsSettings, 'region' | 'endpoint'>,
): EcsLaunchTemplate {
  const variables = ecsRunnerVariables(job.env);
  const config = runnerConfigFor(state, job, { literals: variables.env, secretEnv: variables.secretEnv });
  return ecsLaunchTemplate({
    runId: state.runId,
    cluster: ecs.cluster,
    taskDefinition: ecs.taskDefinitionArn,
    // Sealed mode: the runner asks the broker's function URL, signing with its task role.
    config: ecs.broker === undefined ? config : { ...config, broker: { url: ecs.broker.url, auth: 'iam' } },
    compute: {
      launchType: job.compute.launchType,
      spot: job.compute.spot,
      assignPublicIp: ecs.assignPublicIp,
    },
    subnets: ecs.subnets,
    securityGroups: ecs.securityGroups,
    ...(ecs.tasksPerWorker !== undefined && { tasksPerWorker: ecs.tasksPerWorker }),
    taskRoleArn: ecs.roles.task,
    executionRoleArn: ecs.roles.execution,
    environment: {
      AWS_REGION: settings.region,
      // Only a custom endpoint (moto, LocalStack) is passed on; on AWS the SDK finds its own. A sealed
      // runner calls no AWS service but its broker: the presigned transfers name their endpoint.
      ...(settings.endpoint !== undefined &&
        ecs.broker === undefined && { AWS_ENDPOINT_URL: settings.endpoint }),
    },
  });
}

/** Starts the run's ECS workers the backlog calls for (as the watcher does every minute). */
export interface EcsWorkerPool {
  /** Starts workers for the backlog, up to maxWorkers; returns how many are running or starting. */
  ensure(counts: QueueCounts | undefined): Promise<number>;
  count(): Promise<number>;
}

/**
 * The run's ECS workers as dispatch and collect see them: counted by `startedBy`, started in
 * batches of 10 when the queue's backlog exceeds what they hold (`tasksPerWorker` tasks each), never
 * beyond `compute.maxWorkers`.
 *
 * @example
 * const pool = ecsWorkerPool(state, job, new ECSClient(config), settings); await pool.ensure(await queue.counts());
 * @throws {ConfigurationError} when the run has no ECS resources (provision it with backend ecs).
 */
export function ecsWorkerPool(
  state: RunState,
  job: Job,
  ecs: ECSClient,
  settings: EcsSettings,
): EcsWorkerPool {
  const resources = state.ecs;
  if (resources === undefined) {
    throw new ConfigurationError(
      `run ${state.runId} was provisioned for the ${state.backend} backend, without ECS resources: provision it again with backend ecs.`,
    );
  }
  const workers = new EcsWorkers(ecs, { logger: settings.logger });
  const launch = ecsLaunch(state, job, resources, settings);
  return {
    count: () => workers.count(state.runId, resources.cluster),
    async ensure(counts) {
      const running = await workers.count(state.runId, resources.cluster);
      const backlog = counts === undefined ? 0 : taskBacklog(counts);
      const wanted = workersToStart({
        backlog,
        running,
        maxWorkers: job.compute.maxWorkers,
        minWorkers: job.compute.minWorkers,
        // Fixed at provision, with the task definition's containers.
        tasksPerWorker: resources.tasksPerWorker ?? 1,
      });
      if (wanted === 0) return running;
      const report = await workers.start(launch, wanted);
      if (report.started.length > 0)
        settings.logger.info(`run ${state.runId}: started ${report.started.length} ECS worker(s)`);
      for (const failure of report.failures) {
        settings.logger.warning(
          `run ${state.runId}: ECS could not start a worker: ${failure.reason}${failure.detail === '' ? '' : ` (${failure.detail})`}`,
        );
      }
      return running + report.started.length;
    },
  };
}

// A run's RunTask request (without `count`): everything per run beside the task definition — SLUICE_RUN,
// roles, cpu/memory — travels in its overrides, and `startedBy`/group name the run's tasks.
import type { KeyValuePair, RunTaskCommandInput, Tag, TaskOverride } from '@aws-sdk/client-ecs';

import { ConfigurationError, jobProblem } from '../errors.js';
import { runTags } from '../ids/run-names.js';
import type { Job } from '../schemas/job.js';
import { RUNNER_CONFIG_VARIABLE, type RunnerConfig } from '../schemas/runner-config.js';
import { runnerContainerNames, runStartedBy, runTaskGroup } from './run-task-names.js';

/** RunTask's `overrides`, as JSON, may hold at most this many characters (an AWS limit). */
export const MAX_OVERRIDES_CHARS = 8192;

/** awsvpc limits: subnets and security groups per task. */
const MAX_SUBNETS = 16;
const MAX_SECURITY_GROUPS = 5;

/** A run's RunTask request without `count`: what {@link EcsWorkers.start} sends, batch after batch. */
export type EcsLaunchTemplate = Omit<RunTaskCommandInput, 'count' | 'clientToken'> & {
  readonly cluster: string;
  readonly taskDefinition: string;
  readonly startedBy: string;
};

/** What a run's RunTask request is made of. */
export interface EcsLaunchOptions {
  readonly runId: string;
  readonly cluster: string;
  /** The run's task definition (ARN, or `family:revision`). */
  readonly taskDefinition: string;
  /** SLUICE_RUN; `workerId` is left out (the runner names itself), so all tasks share one request. */
  readonly config: RunnerConfig;
  /** The job's `compute` settings, normalised. */
  readonly compute: Pick<Job['compute'], 'launchType' | 'spot' | 'assignPublicIp'>;
  /** Subnets the tasks run in (the job's, or the default VPC's: see ecs-network.ts). */
  readonly subnets: readonly string[];
  /** Security groups of the tasks (the job's, or the run's own). */
  readonly securityGroups: readonly string[];
  /** Overrides the task role of the task definition (the run's task role). */
  readonly taskRoleArn?: string;
  /** Overrides the execution role of the task definition. */
  readonly executionRoleArn?: string;
  /** Task cpu units (1024 = 1 vCPU); the task definition's when absent. */
  readonly cpuUnits?: number;
  /** Task and container memory in MiB; the task definition's when absent. */
  readonly memoryMiB?: number;
  /** Further plain (non-secret) container variables, e.g. `AWS_ENDPOINT_URL` for a test bed. */
  readonly environment?: Readonly<Record<string, string>>;
  /** Runner containers per task (the run's `tasksPerWorker`, {@link runnerContainerNames}); default 1. */
  readonly tasksPerWorker?: number;
}

function sortedEnvironment(env: Readonly<Record<string, string>>): KeyValuePair[] {
  return Object.keys(env)
    .sort()
    .map((name) => ({ name, value: env[name] ?? '' }));
}

/**
 * The RunTask request of a run, without `count`: the run's task definition on its cluster;
 * `startedBy` `sluice-<run-id>` and group `sluice:<run-id>` (ListTasks finds a run's tasks by them);
 * FARGATE or EC2, or the FARGATE_SPOT capacity provider when `spot` (Fargate only); awsvpc networking in
 * the given subnets and security groups, with a public IP when `assignPublicIp` (Fargate only: awsvpc
 * tasks on EC2 never get one); the environment of the `algorithm` container (and of its siblings
 * `algorithm-2`, … with `tasksPerWorker`) overridden with SLUICE_RUN (the job's literal values travel
 * inside it, `config.env`) and `environment`; the roles and cpu/memory
 * overrides when given; tags `sluice:run-id` and `sluice:managed` plus the task definition's
 * (`propagateTags`); execute-command off. `workerId` is dropped from the config: one request starts up
 * to ten tasks with the same overrides, and each runner names itself.
 *
 * @example
 * const template = ecsLaunchTemplate({ runId, cluster: 'sluice', taskDefinition: arn, config, compute: job.compute, subnets, securityGroups });
 * const { started, failures } = await workers.start(template, 25);
 * @throws {ConfigurationError} with no subnets, too many subnets or security groups, Spot on EC2, or
 *   overrides above ECS's 8,192 characters (the message says what makes them large).
 */
export function ecsLaunchTemplate(options: EcsLaunchOptions): EcsLaunchTemplate {
  const { compute } = options;
  if (options.subnets.length === 0) {
    throw new ConfigurationError(
      `run ${options.runId}: ECS tasks need subnets; set "compute": {"subnets": [...]} in job.json, or keep a default VPC in the region.`,
    );
  }
  if (options.subnets.length > MAX_SUBNETS) {
    throw jobProblem(
      '$.compute.subnets',
      `ECS takes at most ${MAX_SUBNETS} subnets per task; found ${options.subnets.length}`,
      `List at most ${MAX_SUBNETS}.`,
    );
  }
  if (options.securityGroups.length > MAX_SECURITY_GROUPS) {
    throw jobProblem(
      '$.compute.securityGroups',
      `ECS takes at most ${MAX_SECURITY_GROUPS} security groups per task; found ${options.securityGroups.length}`,
      `List at most ${MAX_SECURITY_GROUPS}.`,
    );
  }
  const fargate = compute.launchType === 'FARGATE';
  if (compute.spot && !fargate) {
    throw jobProblem(
      '$.compute.spot',
      'Spot is supported on Fargate only (capacity provider FARGATE_SPOT); EC2 Spot needs a capacity provider backed by a Spot Auto Scaling group, which sluice does not manage',
      'Set "launchType": "FARGATE" or "spot": false.',
    );
  }
  const { workerId: _dropped, ...config } = options.config;
  const environment = sortedEnvironment({
    ...options.environment,
    [RUNNER_CONFIG_VARIABLE]: JSON.stringify(config),
  });
  const names = runnerContainerNames(options.tasksPerWorker ?? 1);
  // Every runner container gets the run's environment; a memory override is the one container's only
  // when it is alone in the task.
  const overrides: TaskOverride = {
    containerOverrides: names.map((name) => ({
      name,
      environment,
      ...(options.memoryMiB !== undefined && names.length === 1 && { memory: options.memoryMiB }),
    })),
    ...(options.taskRoleArn !== undefined && { taskRoleArn: options.taskRoleArn }),
    ...(options.executionRoleArn !== undefined && { executionRoleArn: options.executionRoleArn }),
    ...(options.cpuUnits !== undefined && { cpu: String(options.cpuUnits) }),
    ...(options.memoryMiB !== undefined && { memory: String(options.memoryMiB) }),
  };
  const size = JSON.stringify(overrides).length;
  if (size > MAX_OVERRIDES_CHARS) {
    throw new ConfigurationError(
      `run ${options.runId}: the RunTask overrides would be ${size} characters; ECS allows ${MAX_OVERRIDES_CHARS}. ` +
        `They carry SLUICE_RUN${names.length > 1 ? ` once for each of the ${names.length} runner containers` : ''}: shorten the job's literal env values and include globs, or move long values into Secrets Manager ({"fromSecret": …})${names.length > 1 ? ', or lower "compute.tasksPerWorker"' : ''}.`,
    );
  }
  return {
    cluster: options.cluster,
    taskDefinition: options.taskDefinition,
    startedBy: runStartedBy(options.runId),
    group: runTaskGroup(options.runId),
    ...(compute.spot
      ? { capacityProviderStrategy: [{ capacityProvider: 'FARGATE_SPOT', weight: 1 }] }
      : { launchType: compute.launchType }),
    networkConfiguration: {
      awsvpcConfiguration: {
        subnets: [...options.subnets],
        securityGroups: [...options.securityGroups],
        assignPublicIp: fargate && compute.assignPublicIp ? 'ENABLED' : 'DISABLED',
      },
    },
    overrides,
    propagateTags: 'TASK_DEFINITION',
    tags: runTaskTags(options.runId),
    enableExecuteCommand: false,
  };
}

/**
 * The tags every task of a run carries: `sluice:run-id` and `sluice:managed`.
 *
 * @example
 * runTaskTags('thumbs-3f9a0c12'); // [{ key: 'sluice:run-id', value: 'thumbs-3f9a0c12' }, { key: 'sluice:managed', value: 'true' }]
 * @throws never.
 */
export function runTaskTags(runId: string): Tag[] {
  return Object.entries(runTags(runId)).map(([key, value]) => ({ key, value }));
}

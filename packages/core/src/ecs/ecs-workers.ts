// The ECS backend's workers: a run's runner tasks, started with RunTask from a per-run task definition,
// counted and stopped by `startedBy`. The per-run task definition exists because RunTask overrides
// cannot add `secrets`: the job's `{"fromSecret": …}` values must reach the container through ECS's
// secret references, never as plain environment that DescribeTasks would show. Everything else per
// run (SLUICE_RUN, roles, cpu/memory) travels in the RunTask overrides.
import { randomUUID } from 'node:crypto';

import {
  CreateClusterCommand,
  DeregisterTaskDefinitionCommand,
  DescribeClustersCommand,
  RunTaskCommand,
  StopTaskCommand,
  paginateListTasks,
  type ContainerDefinition,
  type ECSClient,
  type KeyValuePair,
  type RegisterTaskDefinitionCommandInput,
  type RunTaskCommandInput,
  type Secret,
  type Tag,
  type TaskOverride,
} from '@aws-sdk/client-ecs';

import { ConfigurationError, toError } from '../errors.js';
import { silentLogger, type Logger } from '../logging/logger.js';
import { MANAGED_TAG, runTags } from '../ids/run-names.js';
import type { Job } from '../schemas/job.js';
import { RUNNER_CONFIG_VARIABLE, type RunnerConfig } from '../schemas/runner-config.js';
import { classifyAwsError, describeAwsError, isTransientAwsError } from '../aws/errors.js';
import { runLogConfiguration } from './run-log-group.js';
import {
  ALGORITHM_CONTAINER,
  EcsTaskDefinitions,
  registerTaskDefinition,
  type RegisteredTaskDefinition,
  type TaskDefinitionRegistration,
} from './task-definition.js';

/** The cluster sluice runs its tasks in when the job names none; shared by runs, never deleted by teardown. */
export const DEFAULT_ECS_CLUSTER = 'sluice';

/** RunTask starts at most this many tasks per call (an AWS limit). */
export const RUN_TASK_BATCH_SIZE = 10;

/** RunTask's `overrides`, as JSON, may hold at most this many characters (an AWS limit). */
export const MAX_OVERRIDES_CHARS = 8192;

/** awsvpc limits: subnets and security groups per task. */
const MAX_SUBNETS = 16;
const MAX_SECURITY_GROUPS = 5;

/** StopTask's `reason` holds at most 255 characters. */
const MAX_STOP_REASON = 255;

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

// ---------------------------------------------------------------------------------------------
// Secrets: job values `{"fromSecret": …}` become the container's `secrets`.

/** Where an ARN is: its partition, region and account (`arn:<partition>:<service>:<region>:<account>:…`). */
export interface ArnContext {
  readonly partition: string;
  readonly region: string;
  readonly account: string;
}

/**
 * The partition, region and account of an ARN; an IAM role's ARN has no region, so `region` is
 * taken from the argument.
 *
 * @example
 * arnContext('arn:aws:iam::123456789012:role/sluice-x-execution', 'eu-west-1'); // { partition: 'aws', region: 'eu-west-1', account: '123456789012' }
 * @throws {ConfigurationError} when it is not an ARN with an account.
 */
export function arnContext(arn: string, region: string): ArnContext {
  const match = /^arn:([a-z-]+):[a-z0-9-]+:([a-z0-9-]*):([0-9]{12}):/.exec(arn);
  if (match === null) {
    throw new ConfigurationError(
      `"${arn}" is not an ARN with an account id (arn:aws:iam::123456789012:role/…)`,
    );
  }
  return { partition: match[1] ?? 'aws', region: match[2] || region, account: match[3] ?? '' };
}

const SECRET_NAME = /^[A-Za-z0-9/_+=.@-]{1,512}$/;
const SECRET_ARN = /^arn:[a-z-]+:(secretsmanager|ssm):[a-z0-9-]+:[0-9]{12}:(secret:|parameter\/)/;

/**
 * The `valueFrom` of a container secret for a job's `{"fromSecret": reference}`: a Secrets Manager
 * or SSM Parameter Store ARN is used as it is (with a Secrets Manager JSON key or version suffix, if
 * any); a name is a Secrets Manager secret in the run's account and region, written as the partial
 * ARN `arn:<partition>:secretsmanager:<region>:<account>:secret:<name>` — Secrets Manager resolves an
 * ARN without its random 6-character suffix, and ECS wants an ARN for Secrets Manager (a bare name only
 * works for SSM parameters). An SSM parameter is therefore always given by its ARN.
 *
 * @example
 * secretValueFrom('watermark/token', { partition: 'aws', region: 'eu-west-1', account: '123456789012' });
 * // 'arn:aws:secretsmanager:eu-west-1:123456789012:secret:watermark/token'
 * @throws {ConfigurationError} when the reference is neither such an ARN nor a valid secret name.
 */
export function secretValueFrom(reference: string, context: ArnContext): string {
  if (reference.startsWith('arn:')) {
    if (!SECRET_ARN.test(reference)) {
      throw new ConfigurationError(
        `job.json: {"fromSecret": "${reference}"} is an ARN of neither a Secrets Manager secret (arn:aws:secretsmanager:…:secret:NAME) nor an SSM parameter (arn:aws:ssm:…:parameter/NAME)`,
      );
    }
    return reference;
  }
  if (!SECRET_NAME.test(reference)) {
    throw new ConfigurationError(
      `job.json: {"fromSecret": "${reference}"} is not a Secrets Manager secret name (letters, digits and /_+=.@-, at most 512): write the name or the secret's ARN`,
    );
  }
  return `arn:${context.partition}:secretsmanager:${context.region}:${context.account}:secret:${reference}`;
}

/** A job's variables as the ECS backend hands them over. */
export interface EcsRunnerVariables {
  /** Literal values: `RunnerConfig.env`. */
  readonly env: Record<string, string>;
  /** Names of the `fromSecret` variables: `RunnerConfig.secretEnv`, so the runner masks them. */
  readonly secretEnv: string[];
  /** Variable name → the job's `fromSecret` reference (name or ARN): the run task definition's secrets. */
  readonly secrets: Record<string, string>;
}

/**
 * Splits a job's `env` for ECS: literals go into SLUICE_RUN, `fromSecret` references into the run task
 * definition's `secrets` (ECS reads them with the execution role when the task starts).
 *
 * @example
 * ecsRunnerVariables({ SIZE: '256', TOKEN: { fromSecret: 'watermark/token' } });
 * // { env: { SIZE: '256' }, secretEnv: ['TOKEN'], secrets: { TOKEN: 'watermark/token' } }
 * @throws {ConfigurationError} for a `{"fromEnv": …}` value: on ECS the value would have to travel as
 *   plain environment in the RunTask request (visible to anyone who may DescribeTasks); the message
 *   says to store it in Secrets Manager and use `fromSecret`.
 */
export function ecsRunnerVariables(env: Job['env']): EcsRunnerVariables {
  const literals: Record<string, string> = {};
  const secretEnv: string[] = [];
  const secrets: Record<string, string> = {};
  for (const [name, value] of Object.entries(env)) {
    if (typeof value === 'string') literals[name] = value;
    else if ('fromSecret' in value) {
      secretEnv.push(name);
      secrets[name] = value.fromSecret;
    } else {
      throw new ConfigurationError(
        `job.json $.env.${name}: {"fromEnv": "${value.fromEnv}"} cannot be handed to ECS workers without putting the value in plain task environment. ` +
          `Store it in AWS Secrets Manager (aws secretsmanager create-secret --name NAME --secret-string …) and write {"fromSecret": "NAME"}.`,
      );
    }
  }
  return { env: literals, secretEnv: secretEnv.sort(), secrets };
}

// ---------------------------------------------------------------------------------------------
// The run's task definition: the algorithm's, with the run's secrets, logs, roles and tags.

/** What makes a run's task definition out of the algorithm's. */
export interface RunTaskDefinitionOptions {
  readonly runId: string;
  /** The region of the run (awslogs, and Secrets Manager ARNs built from names). */
  readonly region: string;
  /** Role ECS uses to pull the image, write logs and read the secrets; its ARN gives the account. */
  readonly executionRoleArn: string;
  /** Role the runner's AWS calls use. */
  readonly taskRoleArn: string;
  /** Variable name → `fromSecret` reference ({@link ecsRunnerVariables}). */
  readonly secrets?: Readonly<Record<string, string>>;
}

/**
 * The RegisterTaskDefinition input of a run's own task definition: a copy of the algorithm's registered
 * revision (DescribeTaskDefinition with its tags; the read-only fields — ARN, revision, status,
 * compatibilities, requiresAttributes, registeredAt/By — are left out) in family
 * `sluice-run-<run-id>`, with the job's secrets as the `algorithm` container's `secrets` (a variable
 * with a default in the algorithm's `environment` loses it there), awslogs to the run's log group
 * (`/sluice/runs/<run-id>`, stream prefix = the run id), the run's roles, and the algorithm's tags plus
 * the run's. Registering it with {@link registerTaskDefinition} reuses an identical revision, so
 * provisioning twice adds nothing.
 *
 * @example
 * const algorithm = await new EcsTaskDefinitions(ecs).describe(entry.taskDefinitionArn);
 * const input = runTaskDefinitionInput(algorithm, { runId, region, executionRoleArn, taskRoleArn, secrets });
 * @throws {ConfigurationError} when the definition has no `algorithm` container, or a secret reference
 *   or the execution role's ARN is malformed.
 */
export function runTaskDefinitionInput(
  algorithm: Pick<RegisteredTaskDefinition, 'taskDefinition' | 'tags'>,
  run: RunTaskDefinitionOptions,
): RegisterTaskDefinitionCommandInput {
  const definition = algorithm.taskDefinition;
  const containers = definition.containerDefinitions ?? [];
  if (!containers.some((container) => container.name === ALGORITHM_CONTAINER)) {
    throw new ConfigurationError(
      `task definition ${definition.taskDefinitionArn ?? definition.family ?? ''} has no "${ALGORITHM_CONTAINER}" container: it was not registered by sluice wrap. Wrap the algorithm again.`,
    );
  }
  const context = arnContext(run.executionRoleArn, run.region);
  const secrets: Secret[] = Object.entries(run.secrets ?? {})
    .map(([name, reference]) => ({ name, valueFrom: secretValueFrom(reference, context) }))
    .sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  const secretNames = new Set(secrets.map((secret) => secret.name));
  const copy = (container: ContainerDefinition): ContainerDefinition => {
    if (container.name !== ALGORITHM_CONTAINER) return container;
    const environment = (container.environment ?? []).filter((entry) => !secretNames.has(entry.name ?? ''));
    const kept = (container.secrets ?? []).filter((entry) => !secretNames.has(entry.name ?? ''));
    const allSecrets = [...kept, ...secrets];
    return {
      ...container,
      environment,
      ...(allSecrets.length > 0 ? { secrets: allSecrets } : {}),
      logConfiguration: runLogConfiguration(run.runId, run.region),
    };
  };
  const tags = new Map<string, string>();
  for (const tag of algorithm.tags) if (tag.key !== undefined) tags.set(tag.key, tag.value ?? '');
  for (const [key, value] of Object.entries(runTags(run.runId))) tags.set(key, value);
  return {
    family: runTaskDefinitionFamily(run.runId),
    containerDefinitions: containers.map(copy),
    executionRoleArn: run.executionRoleArn,
    taskRoleArn: run.taskRoleArn,
    ...(definition.networkMode !== undefined && { networkMode: definition.networkMode }),
    ...(definition.volumes !== undefined && { volumes: definition.volumes }),
    ...(definition.placementConstraints !== undefined && {
      placementConstraints: definition.placementConstraints,
    }),
    ...(definition.requiresCompatibilities !== undefined && {
      requiresCompatibilities: definition.requiresCompatibilities,
    }),
    ...(definition.cpu !== undefined && { cpu: definition.cpu }),
    ...(definition.memory !== undefined && { memory: definition.memory }),
    ...(definition.pidMode !== undefined && { pidMode: definition.pidMode }),
    ...(definition.ipcMode !== undefined && { ipcMode: definition.ipcMode }),
    ...(definition.proxyConfiguration !== undefined && { proxyConfiguration: definition.proxyConfiguration }),
    ...(definition.ephemeralStorage !== undefined && { ephemeralStorage: definition.ephemeralStorage }),
    ...(definition.runtimePlatform !== undefined && { runtimePlatform: definition.runtimePlatform }),
    tags: [...tags].map(([key, value]) => ({ key, value })).sort((a, b) => (a.key < b.key ? -1 : 1)),
  };
}

// ---------------------------------------------------------------------------------------------
// The RunTask request.

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
 * tasks on EC2 never get one); the `algorithm` container's environment overridden with SLUICE_RUN (the
 * job's literal values travel inside it, `config.env`) and `environment`; the roles and cpu/memory
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
    throw new ConfigurationError(
      `job.json $.compute.subnets: ECS takes at most ${MAX_SUBNETS} subnets per task; found ${options.subnets.length}.`,
    );
  }
  if (options.securityGroups.length > MAX_SECURITY_GROUPS) {
    throw new ConfigurationError(
      `job.json $.compute.securityGroups: ECS takes at most ${MAX_SECURITY_GROUPS} security groups per task; found ${options.securityGroups.length}.`,
    );
  }
  const fargate = compute.launchType === 'FARGATE';
  if (compute.spot && !fargate) {
    throw new ConfigurationError(
      'job.json $.compute.spot: Spot is supported on Fargate only (capacity provider FARGATE_SPOT); EC2 Spot needs a capacity provider backed by a Spot Auto Scaling group, which sluice does not manage. Set "launchType": "FARGATE" or "spot": false.',
    );
  }
  const { workerId: _dropped, ...config } = options.config;
  const environment = sortedEnvironment({
    ...options.environment,
    [RUNNER_CONFIG_VARIABLE]: JSON.stringify(config),
  });
  const overrides: TaskOverride = {
    containerOverrides: [
      {
        name: ALGORITHM_CONTAINER,
        environment,
        ...(options.memoryMiB !== undefined && { memory: options.memoryMiB }),
      },
    ],
    ...(options.taskRoleArn !== undefined && { taskRoleArn: options.taskRoleArn }),
    ...(options.executionRoleArn !== undefined && { executionRoleArn: options.executionRoleArn }),
    ...(options.cpuUnits !== undefined && { cpu: String(options.cpuUnits) }),
    ...(options.memoryMiB !== undefined && { memory: String(options.memoryMiB) }),
  };
  const size = JSON.stringify(overrides).length;
  if (size > MAX_OVERRIDES_CHARS) {
    throw new ConfigurationError(
      `run ${options.runId}: the RunTask overrides would be ${size} characters; ECS allows ${MAX_OVERRIDES_CHARS}. ` +
        `They carry SLUICE_RUN: shorten the job's literal env values and include globs, or move long values into Secrets Manager ({"fromSecret": …}).`,
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

// ---------------------------------------------------------------------------------------------
// Scaling policy.

/** What {@link workersToStart} weighs. */
export interface WorkerDemand {
  /** Tasks not yet done: messages visible, in flight and delayed on the run's queue. */
  readonly backlog: number;
  /** Workers running or pending now. */
  readonly running: number;
  /** The job's `compute.maxWorkers`. */
  readonly maxWorkers: number;
  /** The job's `compute.minWorkers`. */
  readonly minWorkers: number;
}

const whole = (n: number): number => (Number.isFinite(n) && n > 0 ? Math.floor(n) : 0);

/**
 * How many workers to start now: enough for one per task not yet done, up to `maxWorkers`, and at least
 * `minWorkers` running; never negative (runners exit by themselves when idle, so nothing is stopped
 * here). A runner works on one task at a time, so in-flight messages count: their runners are busy.
 * The watcher Lambda and dispatch-tasks both use it.
 *
 * @example
 * workersToStart({ backlog: 25, running: 3, maxWorkers: 10, minWorkers: 0 }); // 7
 * workersToStart({ backlog: 0, running: 0, maxWorkers: 10, minWorkers: 2 });  // 2
 * @throws never; negative or non-finite inputs count as 0.
 */
export function workersToStart(demand: WorkerDemand): number {
  const max = whole(demand.maxWorkers);
  const target = Math.min(max, Math.max(whole(demand.minWorkers), whole(demand.backlog)));
  return Math.max(0, target - whole(demand.running));
}

/**
 * The wait before retry `attempt` (1 for the first retry): exponential from `baseMs`, capped at `maxMs`,
 * with "equal jitter" (half fixed, half random) so many callers throttled together spread out.
 *
 * @example
 * backoffDelayMs(3, { baseMs: 1000, maxMs: 20000, random: () => 0.5 }); // 3000
 * @throws never.
 */
export function backoffDelayMs(
  attempt: number,
  options: { readonly baseMs: number; readonly maxMs: number; readonly random: () => number },
): number {
  const ceiling = Math.min(options.maxMs, options.baseMs * 2 ** Math.max(0, attempt - 1));
  return Math.round(ceiling / 2 + (ceiling / 2) * options.random());
}

// ---------------------------------------------------------------------------------------------
// The adapter.

/** A task RunTask did not start, as ECS said. */
export interface WorkerStartFailure {
  /** ECS's reason (`RESOURCE:MEMORY`, `Capacity is unavailable at this time…`) or the error code. */
  readonly reason: string;
  readonly detail: string;
  /** The resource ECS names with the failure (a container instance, a capacity provider). */
  readonly arn?: string;
}

/** What {@link EcsWorkers.start} did. */
export interface WorkerStartReport {
  /** ARNs of the tasks started. */
  readonly started: string[];
  /** Tasks asked for and not started. */
  readonly notStarted: number;
  /** Why, as ECS said, after the retries. */
  readonly failures: WorkerStartFailure[];
}

/** How {@link EcsWorkers} retries and waits. */
export interface EcsWorkersOptions {
  readonly logger?: Logger;
  /** The wait between retries; tests pass a fake. */
  readonly sleep?: (ms: number) => Promise<void>;
  /** Jitter's source, in [0, 1). */
  readonly random?: () => number;
  /** RunTask attempts per batch, the first included (default 5). */
  readonly maxAttempts?: number;
  /** First retry's wait (default 1 s), doubled per retry up to {@link maxDelayMs}. */
  readonly baseDelayMs?: number;
  /** Longest wait between retries (default 20 s). */
  readonly maxDelayMs?: number;
}

const defaultSleep = (ms: number): Promise<void> =>
  new Promise((resolve) => {
    setTimeout(resolve, ms);
  });

/** ECS's failure reasons that go away by themselves: Fargate (Spot) capacity. */
function capacityUnavailable(reason: string | undefined): boolean {
  return /capacity is unavailable|capacity unavailable|insufficient capacity/i.test(reason ?? '');
}

/**
 * ECS cannot yet assume a role IAM created seconds ago (IAM is eventually consistent): RunTask says
 * so as an InvalidParameterException, which a little patience cures.
 */
function roleNotYetAssumable(thrown: unknown): boolean {
  return (
    describeAwsError(thrown).code === 'InvalidParameterException' &&
    /unable to assume the role/i.test(toError(thrown).message)
  );
}

/** RunTask attempts while a new role propagates: about a minute with the default waits. */
const ROLE_PROPAGATION_ATTEMPTS = 8;

/** Errors of ECS that the user fixes: the request named something wrong. */
const ECS_CONFIGURATION_CODES: Readonly<Record<string, string>> = {
  ClusterNotFoundException: 'The cluster does not exist: provision the run again.',
  InvalidParameterException:
    'ECS refused a parameter: check job.json compute (subnets, securityGroups, launchType) and the task definition.',
  ClientException: 'ECS refused the request: check job.json compute and the task definition.',
  PlatformUnknownException: 'The Fargate platform version is unknown.',
  PlatformTaskDefinitionIncompatibilityException:
    'The task definition does not fit the launch type: check job.json compute.launchType.',
  UnsupportedFeatureException: 'The feature asked for is not available in this region.',
  BlockedException: 'The account is blocked from running ECS tasks: contact AWS support.',
};

function classifyEcsError(thrown: unknown, operation: string, target: string): Error {
  const { code } = describeAwsError(thrown);
  const hint = ECS_CONFIGURATION_CODES[code];
  if (hint !== undefined) {
    return new ConfigurationError(
      `${operation} on ${target} failed: ${code}: ${toError(thrown).message}. ${hint}`,
      {
        cause: thrown,
      },
    );
  }
  return classifyAwsError(thrown, operation, target);
}

/** A cluster ensured by {@link EcsWorkers.ensureCluster}. */
export interface EnsuredCluster {
  readonly name: string;
  readonly arn: string;
  readonly created: boolean;
}

/**
 * A run's runner tasks on Amazon ECS (or anything speaking its API): start (RunTask, batched and
 * retried), count and stop them by `startedBy`, and the cluster and run task definition they need.
 *
 * @example
 * const workers = new EcsWorkers(new ECSClient({ region }), { logger });
 * await workers.ensureCluster(DEFAULT_ECS_CLUSTER, { spot: job.compute.spot });
 * const running = await workers.count(runId, DEFAULT_ECS_CLUSTER);
 * const wanted = workersToStart({ backlog, running, maxWorkers, minWorkers });
 * const { started, failures } = await workers.start(template, wanted);
 * @throws {ConfigurationError} for requests ECS refuses (bad subnets, missing cluster, denied);
 *   AwsRequestError for faults that outlast the retries.
 */
export class EcsWorkers {
  private readonly logger: Logger;
  private readonly sleep: (ms: number) => Promise<void>;
  private readonly random: () => number;
  private readonly maxAttempts: number;
  private readonly baseDelayMs: number;
  private readonly maxDelayMs: number;

  constructor(
    private readonly client: ECSClient,
    options: EcsWorkersOptions = {},
  ) {
    this.logger = options.logger ?? silentLogger;
    this.sleep = options.sleep ?? defaultSleep;
    this.random = options.random ?? Math.random;
    this.maxAttempts = Math.max(1, options.maxAttempts ?? 5);
    this.baseDelayMs = options.baseDelayMs ?? 1000;
    this.maxDelayMs = options.maxDelayMs ?? 20_000;
  }

  /**
   * Starts `count` tasks from the template, at most {@link RUN_TASK_BATCH_SIZE} per RunTask call.
   * Throttling and failures saying capacity is unavailable are retried with backoff and jitter, up to
   * `maxAttempts` calls per batch; other failures (e.g. `RESOURCE:MEMORY` on EC2) are reported at
   * once. Each batch carries a client token, so a retried call ECS did receive starts nothing twice.
   *
   * @example
   * const { started, notStarted, failures } = await workers.start(template, 25); // 10 + 10 + 5
   * @throws {ConfigurationError} when ECS refuses the request itself; AwsRequestError for other faults.
   */
  async start(template: EcsLaunchTemplate, count: number): Promise<WorkerStartReport> {
    const started: string[] = [];
    const failures: WorkerStartFailure[] = [];
    let notStarted = 0;
    for (let remaining = whole(count); remaining > 0;) {
      const batch = Math.min(RUN_TASK_BATCH_SIZE, remaining);
      remaining -= batch;
      const result = await this.startBatch(template, batch);
      started.push(...result.started);
      failures.push(...result.failures);
      notStarted += batch - result.started.length;
    }
    if (started.length > 0) {
      this.logger.info(`run tasks: started ${started.length} on ${template.cluster} (${template.startedBy})`);
    }
    if (notStarted > 0) {
      this.logger.warning(
        `run tasks: ${notStarted} not started on ${template.cluster}: ${failures
          .map((failure) => `${failure.reason}${failure.detail !== '' ? ` (${failure.detail})` : ''}`)
          .join('; ')}`,
      );
    }
    return { started, notStarted, failures };
  }

  private async startBatch(
    template: EcsLaunchTemplate,
    size: number,
  ): Promise<{ started: string[]; failures: WorkerStartFailure[] }> {
    const started: string[] = [];
    let wanted = size;
    let token = randomUUID();
    let lastFailures: WorkerStartFailure[] = [];
    let attempts = this.maxAttempts;
    for (let attempt = 1; ; attempt += 1) {
      let retryable: WorkerStartFailure[] = [];
      try {
        const output = await this.client.send(
          new RunTaskCommand({ ...template, count: wanted, clientToken: token }),
        );
        const arns = (output.tasks ?? []).flatMap((task) =>
          task.taskArn !== undefined ? [task.taskArn] : [],
        );
        started.push(...arns);
        const failures: WorkerStartFailure[] = (output.failures ?? []).map((failure) => ({
          reason: failure.reason ?? 'unknown',
          detail: failure.detail ?? '',
          ...(failure.arn !== undefined && { arn: failure.arn }),
        }));
        const missing = wanted - arns.length;
        if (missing <= 0) return { started, failures: [] };
        if (failures.length === 0) {
          failures.push({
            reason: 'unknown',
            detail: `ECS started ${arns.length} of ${wanted} and named no failure`,
          });
        }
        if (!failures.every((failure) => capacityUnavailable(failure.reason))) return { started, failures };
        retryable = failures;
        wanted = missing;
        // Another count is another request: a token is tied to its parameters.
        token = randomUUID();
      } catch (thrown: unknown) {
        const propagating = roleNotYetAssumable(thrown);
        if (!isTransientAwsError(thrown) && !propagating) {
          throw classifyEcsError(thrown, 'ECS.RunTask', template.cluster);
        }
        if (propagating) attempts = Math.max(attempts, ROLE_PROPAGATION_ATTEMPTS);
        const { code } = describeAwsError(thrown);
        retryable = [{ reason: code, detail: toError(thrown).message }];
      }
      lastFailures = retryable;
      if (attempt >= attempts) return { started, failures: lastFailures };
      const delay = backoffDelayMs(attempt, {
        baseMs: this.baseDelayMs,
        maxMs: this.maxDelayMs,
        random: this.random,
      });
      this.logger.debug(
        `ECS.RunTask: ${wanted} task(s) not started (${retryable[0]?.reason ?? ''}); retrying in ${delay} ms`,
      );
      await this.sleep(delay);
    }
  }

  /**
   * ARNs of the run's tasks that are wanted running (ECS's desired status RUNNING: pending and
   * running ones), by the run's task definition family. (Not by `startedBy`: ECS allows no other
   * filter beside it, and moto lists stopped tasks unless the desired status is given.) A missing
   * cluster has none.
   *
   * @example
   * const arns = await workers.list('thumbs-3f9a0c12', 'sluice');
   * @throws {ConfigurationError} when denied; AwsRequestError for faults.
   */
  async list(runId: string, cluster: string): Promise<string[]> {
    const arns: string[] = [];
    try {
      for await (const page of paginateListTasks(
        { client: this.client },
        { cluster, family: runTaskDefinitionFamily(runId), desiredStatus: 'RUNNING' },
      )) {
        arns.push(...(page.taskArns ?? []));
      }
    } catch (thrown: unknown) {
      if (describeAwsError(thrown).code === 'ClusterNotFoundException') return [];
      throw classifyEcsError(thrown, 'ECS.ListTasks', cluster);
    }
    return arns;
  }

  /**
   * How many of the run's tasks are pending or running.
   *
   * @example
   * const running = await workers.count('thumbs-3f9a0c12', 'sluice');
   * @throws {ConfigurationError} when denied; AwsRequestError for faults.
   */
  async count(runId: string, cluster: string): Promise<number> {
    return (await this.list(runId, cluster)).length;
  }

  /**
   * Stops every pending or running task of the run (ECS sends SIGTERM, then SIGKILL after the
   * container's stopTimeout, so runners hand their tasks back). Idempotent: returns how many were
   * asked to stop.
   *
   * @example
   * await workers.stopAll('thumbs-3f9a0c12', 'sluice', 'sluice teardown');
   * @throws {ConfigurationError} when denied; AwsRequestError for faults.
   */
  async stopAll(runId: string, cluster: string, reason: string): Promise<number> {
    const arns = await this.list(runId, cluster);
    let stopped = 0;
    for (const task of arns) {
      try {
        await this.client.send(
          new StopTaskCommand({ cluster, task, reason: reason.slice(0, MAX_STOP_REASON) }),
        );
        stopped += 1;
      } catch (thrown: unknown) {
        // Gone between the listing and the stop: what was wanted.
        const { code } = describeAwsError(thrown);
        if (code === 'ClusterNotFoundException' || /not found|stopped/i.test(toError(thrown).message))
          continue;
        throw classifyEcsError(thrown, 'ECS.StopTask', task);
      }
    }
    if (stopped > 0) this.logger.info(`run ${runId}: stopped ${stopped} ECS task(s) on ${cluster}`);
    return stopped;
  }

  /**
   * The cluster, created when missing (or INACTIVE) with the FARGATE and FARGATE_SPOT capacity
   * providers and the `sluice:managed` tag. The default, {@link DEFAULT_ECS_CLUSTER}, is shared by
   * runs: clusters cost nothing, and teardown leaves it.
   *
   * @example
   * const { arn, created } = await workers.ensureCluster('sluice', { spot: true });
   * @throws {ConfigurationError} when `spot` is asked of an existing cluster without FARGATE_SPOT (the
   *   message gives the command that adds it), or when denied; AwsRequestError for faults.
   */
  async ensureCluster(
    name: string = DEFAULT_ECS_CLUSTER,
    options: { readonly spot?: boolean } = {},
  ): Promise<EnsuredCluster> {
    try {
      const described = await this.client.send(new DescribeClustersCommand({ clusters: [name] }));
      const existing = (described.clusters ?? []).find((cluster) => cluster.status === 'ACTIVE');
      if (existing?.clusterArn !== undefined) {
        if (options.spot === true && !(existing.capacityProviders ?? []).includes('FARGATE_SPOT')) {
          throw new ConfigurationError(
            `ECS cluster ${name} has no FARGATE_SPOT capacity provider, which "spot": true needs. Add it: aws ecs put-cluster-capacity-providers --cluster ${name} --capacity-providers FARGATE FARGATE_SPOT --default-capacity-provider-strategy capacityProvider=FARGATE,weight=1`,
          );
        }
        return { name, arn: existing.clusterArn, created: false };
      }
      const created = await this.client.send(
        new CreateClusterCommand({
          clusterName: name,
          capacityProviders: ['FARGATE', 'FARGATE_SPOT'],
          tags: [{ key: MANAGED_TAG, value: 'true' }],
        }),
      );
      const arn = created.cluster?.clusterArn;
      if (arn === undefined)
        throw new ConfigurationError(`ECS.CreateCluster ${name} returned no cluster ARN`);
      this.logger.info(`created ECS cluster ${name}`);
      return { name, arn, created: true };
    } catch (thrown: unknown) {
      throw classifyEcsError(thrown, 'ECS.CreateCluster', name);
    }
  }

  /**
   * Registers the run's task definition ({@link runTaskDefinitionInput}), or reuses the newest ACTIVE
   * revision of `sluice-run-<run-id>` that is exactly the same.
   *
   * @example
   * const { arn } = await workers.registerRunTaskDefinition(runTaskDefinitionInput(algorithm, run));
   * @throws {ConfigurationError} when denied; AwsRequestError for faults.
   */
  async registerRunTaskDefinition(
    input: RegisterTaskDefinitionCommandInput,
  ): Promise<TaskDefinitionRegistration> {
    return registerTaskDefinition(new EcsTaskDefinitions(this.client), input, this.logger);
  }

  /**
   * Deregisters every ACTIVE revision of the run's task definition family (at teardown). Idempotent:
   * returns how many were deregistered. Deregistered revisions stay readable (ECS keeps INACTIVE ones).
   *
   * @example
   * await workers.deregisterRunTaskDefinitions('thumbs-3f9a0c12');
   * @throws {ConfigurationError} when denied; AwsRequestError for faults.
   */
  async deregisterRunTaskDefinitions(runId: string): Promise<number> {
    const family = runTaskDefinitionFamily(runId);
    let count = 0;
    for await (const arn of new EcsTaskDefinitions(this.client).listActive(family)) {
      try {
        await this.client.send(new DeregisterTaskDefinitionCommand({ taskDefinition: arn }));
        count += 1;
      } catch (thrown: unknown) {
        if (/not found|inactive|unable to describe/i.test(toError(thrown).message)) continue;
        throw classifyEcsError(thrown, 'ECS.DeregisterTaskDefinition', arn);
      }
    }
    if (count > 0)
      this.logger.info(`run ${runId}: deregistered ${count} task definition revision(s) of ${family}`);
    return count;
  }
}

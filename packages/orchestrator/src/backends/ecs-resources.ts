// The ECS side of a run: what provision-run adds for `compute.backend: ecs` (the run's roles, log
// group, network, task definition, the watcher Lambda and, in sealed mode, the broker Lambda) and what
// teardown removes. Every resource is
// named after the run id and tagged with it, so teardown finds it even after a provision that stopped
// half-way. Only provision and teardown need these clients.
import { CloudWatchLogsClient } from '@aws-sdk/client-cloudwatch-logs';
import { EC2Client } from '@aws-sdk/client-ec2';
import { ECSClient } from '@aws-sdk/client-ecs';
import { EventBridgeClient } from '@aws-sdk/client-eventbridge';
import { IAMClient } from '@aws-sdk/client-iam';
import { LambdaClient } from '@aws-sdk/client-lambda';

import {
  ConfigurationError,
  jobProblem,
  SluiceError,
  toError,
  WATCHER_EVENT_VERSION,
  type Job,
  type Logger,
  type Manifest,
  type RunEcsState,
  type RunState,
  type WatcherEvent,
  type WatcherLaunch,
} from '@sluice/core';
import { workerSize } from '@sluice/core/compute';
import { brokerControlSettings } from '@sluice/core/broker';
import {
  arnContext,
  brokerFunctionName,
  DEFAULT_ECS_CLUSTER,
  EcsCatalogue,
  EcsNetwork,
  ecsRunnerVariables,
  EcsTaskDefinitions,
  EcsWorkers,
  ensureBroker,
  ensureWatcher,
  IamRunRoles,
  removeBroker,
  removeWatcher,
  runLogGroupName,
  RunLogGroups,
  runTaskDefinitionFamily,
  runTaskDefinitionInput,
  type RunTaskDefinitionOptions,
} from '@sluice/core/ecs';
import { runRoleArns, secretArn, type RunAccess } from '@sluice/core/iam';

import { ecsLaunch, type EcsSettings } from './ecs-pool.js';
import { runnerConfigFor } from './runner-config.js';

/** The AWS clients of the ECS backend, made from the same settings as the run's S3 and SQS clients. */
export interface EcsClients {
  readonly ecs: ECSClient;
  readonly iam: IAMClient;
  readonly ec2: EC2Client;
  readonly logs: CloudWatchLogsClient;
  readonly lambda: LambdaClient;
  readonly events: EventBridgeClient;
}

/**
 * The ECS backend's clients for one step.
 *
 * @example
 * const clients = ecsClients(runClientConfig(env, job).base); try { … } finally { destroyEcsClients(clients); }
 * @throws never.
 */
export function ecsClients(config: EcsClientSettings): EcsClients {
  const settings = {
    ...optional('region', config.region),
    ...optional('endpoint', config.endpoint),
    ...optional('profile', config.profile),
    ...optional('credentials', config.credentials),
  };
  return {
    ecs: new ECSClient(settings),
    iam: new IAMClient(settings),
    ec2: new EC2Client(settings),
    logs: new CloudWatchLogsClient(settings),
    lambda: new LambdaClient(settings),
    events: new EventBridgeClient(settings),
  };
}

/** The settings every client of a run shares (see runClientConfig). */
export interface EcsClientSettings {
  readonly region?: string | undefined;
  readonly endpoint?: string | undefined;
  readonly profile?: string | undefined;
  readonly credentials?:
    | { readonly accessKeyId: string; readonly secretAccessKey: string; readonly sessionToken?: string }
    | undefined;
}

export function destroyEcsClients(clients: EcsClients): void {
  for (const client of Object.values(clients) as { destroy: () => void }[]) client.destroy();
}

/** What provisioning the ECS side needs beyond the pool's settings. */
export interface EcsResourceSettings extends EcsSettings {
  /** The watcher Lambda's deployment package, from the entry point (`StepContext.watcherZip`). */
  readonly watcherZip?: () => Promise<Uint8Array>;
}

/** The job's ECS algorithm: the catalogue's task definition and manifest (an image cannot run on ECS). */
export async function ecsAlgorithm(
  job: Job,
  clients: EcsClients,
  settings: EcsResourceSettings,
): Promise<{ taskDefinitionArn: string; image: string; manifest: Manifest }> {
  if (job.algorithm.kind !== 'catalogue') {
    throw jobProblem(
      '$.algorithm',
      `the ECS backend runs a wrapped algorithm registered by wrap-algorithm (name@version), not an image reference (${job.algorithm.reference})`,
      'Wrap it with push and task definition registration, then name it as name@version.',
    );
  }
  const entry = await new EcsCatalogue({
    taskDefinitions: new EcsTaskDefinitions(clients.ecs),
    region: settings.region,
    logger: settings.logger,
  }).resolve(job.algorithm);
  if (entry.taskDefinitionArn === undefined) {
    throw new ConfigurationError(
      `${job.algorithm.name}@${job.algorithm.version} has no ECS task definition.`,
    );
  }
  return { taskDefinitionArn: entry.taskDefinitionArn, image: entry.image, manifest: entry.manifest };
}

/** The ECR repository ARN of an ECR image reference (for the execution role's pull permission). */
function ecrRepositoryArn(image: string, partition: string): string | undefined {
  const match = /^([0-9]{12})\.dkr\.ecr\.([a-z0-9-]+)\.amazonaws\.com[^/]*\/([^:@]+)/.exec(image);
  if (match === null) return undefined;
  const [, account = '', region = '', repository = ''] = match;
  return `arn:${partition}:ecr:${region}:${account}:repository/${repository}`;
}

/**
 * Creates or reuses the ECS side of a run: cluster, log group, network, the three roles, the run's
 * task definition (the algorithm's, with the run's roles, `fromSecret` values as container secrets
 * and awslogs to the run's group) and the watcher Lambda on a one-minute schedule. Returns what the
 * run state keeps and what this call created.
 *
 * @example
 * const { ecs, created } = await provisionEcs(state, job, clients, { region, endpoint, logger });
 * @throws {ConfigurationError} for an unknown algorithm, an image reference, `fromEnv` values (they
 *   would be plain task environment), bad networking; AwsRequestError for faults (provision again).
 */
export async function provisionEcs(
  state: RunState,
  job: Job,
  clients: EcsClients,
  settings: EcsResourceSettings,
): Promise<{ ecs: RunEcsState; created: string[] }> {
  const { runId } = state;
  const { logger, region } = settings;
  const variables = ecsRunnerVariables(job.env);
  const algorithm = await ecsAlgorithm(job, clients, settings);
  // Before anything is made: a worker size the job cannot have is the user's to fix.
  const worker = workerSize(algorithm.manifest, { ...job.compute, backend: 'ecs' });
  if (state.queue.arn === undefined || state.deadLetterQueue.arn === undefined) {
    throw new ConfigurationError(`run ${runId}: its queues are not provisioned; provision it again.`);
  }
  const where = arnContext(state.queue.arn, region);
  const created: string[] = [];
  const workers = new EcsWorkers(clients.ecs, { logger });
  const cluster = await workers.ensureCluster(DEFAULT_ECS_CLUSTER, { spot: job.compute.spot });
  if (cluster.created) created.push(`ECS cluster ${cluster.name}`);
  const logGroup = await new RunLogGroups(clients.logs, logger).ensure(runId);
  if (logGroup.created) created.push(`log group ${logGroup.name}`);
  const network = await new EcsNetwork(clients.ec2, { logger }).resolve(runId, job.compute);
  if (network.createdSecurityGroup !== undefined)
    created.push(`security group ${network.createdSecurityGroup}`);

  const secretReferences = Object.values(variables.secrets);
  const roleArns = runRoleArns(where.partition, where.account, runId);
  const access: RunAccess = {
    partition: where.partition,
    region,
    accountId: where.account,
    runId,
    input: { bucket: state.input.bucket, prefix: state.input.prefix },
    output: { bucket: state.output.bucket, prefix: state.output.prefix },
    taskQueueArn: state.queue.arn,
    deadLetterQueueArn: state.deadLetterQueue.arn,
    logGroupName: logGroup.name,
    watcherLogGroupName: `/aws/lambda/${watcherName(runId)}`,
    clusterArn: cluster.arn,
    taskDefinitionFamily: runTaskDefinitionFamily(runId),
    ...optional('imageRepositoryArn', ecrRepositoryArn(algorithm.image, where.partition)),
    secretArns: secretReferences
      .filter((reference) => !reference.includes(':ssm:'))
      .map((reference) => secretArn(reference, { ...where, accountId: where.account })),
    parameterArns: secretReferences.filter((reference) => reference.includes(':ssm:')),
    roleArns: { task: roleArns.task, execution: roleArns.execution },
    // Sealed mode: the runners' role may call the broker and nothing else; the broker's role does the rest.
    ...(job.mode === 'sealed' && { broker: brokerAccess(runId, region, where) }),
  };
  const roles = await new IamRunRoles(clients.iam).ensureRunRoles(access);
  created.push(...roles.created.map((kind) => `IAM role ${roles.arns[kind] ?? kind}`));

  const broker =
    roles.arns.broker === undefined
      ? undefined
      : await deployBroker(state, job, algorithm.manifest, roles.arns.broker, clients, settings, created);

  const taskDefinition = await registerRunTaskDefinition(algorithm.taskDefinitionArn, clients, workers, {
    runId,
    region,
    executionRoleArn: roles.arns.execution,
    taskRoleArn: roles.arns.task,
    secrets: variables.secrets,
    worker,
  });
  if (!taskDefinition.reused) created.push(`task definition ${taskDefinition.arn}`);

  const ecs: RunEcsState = {
    cluster: cluster.name,
    taskDefinitionArn: taskDefinition.arn,
    ...(worker.tasksPerWorker > 1 && { tasksPerWorker: worker.tasksPerWorker }),
    roles: {
      task: roles.arns.task,
      execution: roles.arns.execution,
      watcher: roles.arns.watcher,
      ...optional('broker', roles.arns.broker),
    },
    subnets: network.subnets,
    securityGroups: network.securityGroups,
    assignPublicIp: network.assignPublicIp,
    logGroup: logGroup.name,
    watcher: { functionName: watcherName(runId), ruleName: watcherName(runId) },
    ...optional('broker', broker),
  };
  const watcher = await ensureWatcher(
    { lambda: clients.lambda, events: clients.events },
    {
      event: watcherEvent(state, job, ecs, settings),
      roleArn: roles.arns.watcher,
      zip: await watcherZipOf(settings),
      logger,
      ...optional('endpoint', settings.endpoint),
    },
  );
  created.push(...watcher.changed.map((what) => `watcher ${what}`));
  return {
    ecs: { ...ecs, watcher: { functionName: watcher.functionName, ruleName: watcher.ruleName } },
    created,
  };
}

/** The run's own task definition, made from the algorithm's registered one (run-task-definition.ts). */
async function registerRunTaskDefinition(
  algorithmTaskDefinition: string,
  clients: EcsClients,
  workers: EcsWorkers,
  run: RunTaskDefinitionOptions,
): Promise<{ arn: string; reused: boolean }> {
  const described = await new EcsTaskDefinitions(clients.ecs).describe(algorithmTaskDefinition);
  if (described === undefined) {
    throw new ConfigurationError(
      `task definition ${algorithmTaskDefinition} is gone: wrap the algorithm again.`,
    );
  }
  return workers.registerRunTaskDefinition(runTaskDefinitionInput(described, run));
}

/** The broker function's ARN and log group, as the run's roles name them. */
function brokerAccess(
  runId: string,
  region: string,
  where: { readonly partition: string; readonly account: string },
): NonNullable<RunAccess['broker']> {
  const name = brokerFunctionName(runId);
  return {
    functionArn: `arn:${where.partition}:lambda:${region}:${where.account}:function:${name}`,
    logGroupName: `/aws/lambda/${name}`,
  };
}

/** Sealed mode: the run's broker function and its IAM-auth URL, which the runners are given. */
async function deployBroker(
  state: RunState,
  job: Job,
  manifest: Manifest,
  roleArn: string,
  clients: EcsClients,
  settings: EcsResourceSettings,
  created: string[],
): Promise<NonNullable<RunEcsState['broker']>> {
  const deployed = await ensureBroker(clients.lambda, {
    runId: state.runId,
    settings: brokerControlSettings(runnerConfigFor(state, job, { literals: {}, secretEnv: [] }), manifest),
    roleArn,
    zip: await watcherZipOf(settings),
    logger: settings.logger,
    ...optional('endpoint', settings.endpoint),
  });
  created.push(...deployed.changed.map((what) => `broker ${what}`));
  return { functionName: deployed.functionName, url: deployed.url };
}

function watcherName(runId: string): string {
  return `sluice-${runId}-watch`;
}

function optional<K extends string, V>(key: K, value: V | undefined): { [P in K]?: V } {
  return (value === undefined ? {} : { [key]: value }) as { [P in K]?: V };
}

function watcherEvent(
  state: RunState,
  job: Job,
  ecs: RunEcsState,
  settings: Pick<EcsSettings, 'region' | 'endpoint'>,
): WatcherEvent {
  // The watcher event's launch is the RunTask request minus what RunTask defaults anyway.
  const { enableExecuteCommand: _default, ...launch } = ecsLaunch(state, job, ecs, settings);
  return {
    sluice: WATCHER_EVENT_VERSION,
    runId: state.runId,
    queueUrl: state.queue.url ?? '',
    maxWorkers: job.compute.maxWorkers,
    minWorkers: job.compute.minWorkers,
    ...(ecs.tasksPerWorker !== undefined && { tasksPerWorker: ecs.tasksPerWorker }),
    launch: launch as WatcherLaunch,
  };
}

/**
 * Removes a run's ECS side: stops its tasks, removes the watcher and its schedule and the broker, deregisters the
 * run's task definition, deletes its roles and security group; the log group goes only with
 * `deleteData` (it holds the runners' logs). Idempotent; each part is found by the run's names and
 * tags, so it works after a provision that stopped half-way.
 *
 * @example
 * const { deleted, kept } = await teardownEcs('thumbs-3f9a0c12', state.ecs?.cluster, clients, { deleteData: false, logger });
 * @throws AwsRequestError for faults (tear down again).
 */
export async function teardownEcs(
  runId: string,
  cluster: string | undefined,
  clients: EcsClients,
  options: { readonly deleteData: boolean; readonly logger: Logger },
): Promise<{ deleted: string[]; kept: string[] }> {
  const deleted: string[] = [];
  const kept: string[] = [];
  // The watcher first, so it starts nothing while the rest goes.
  const watcher = await removeWatcher({ lambda: clients.lambda, events: clients.events }, runId);
  deleted.push(...watcher.deleted);
  kept.push(...watcher.kept);
  // Sealed mode's broker: a runner still working loses it and hands its task back to the queue.
  const broker = await removeBroker(clients.lambda, runId);
  deleted.push(...broker.deleted);
  kept.push(...broker.kept);
  const workers = new EcsWorkers(clients.ecs, { logger: options.logger });
  const stopped = await workers.stopAll(
    runId,
    cluster ?? DEFAULT_ECS_CLUSTER,
    `sluice teardown of run ${runId}`,
  );
  if (stopped > 0) deleted.push(`${stopped} ECS task(s) stopped`);
  const deregistered = await workers.deregisterRunTaskDefinitions(runId);
  if (deregistered > 0)
    deleted.push(`${deregistered} revision(s) of task definition ${runTaskDefinitionFamily(runId)}`);
  deleted.push(
    ...(await new IamRunRoles(clients.iam).deleteRunRoles(runId)).map((name) => `IAM role ${name}`),
  );
  try {
    const groups = await new EcsNetwork(clients.ec2, { logger: options.logger }).deleteRunSecurityGroups(
      runId,
    );
    deleted.push(...groups.map((group) => `security group ${group}`));
  } catch (thrown: unknown) {
    // A group still held by a stopping task's network interface: the next teardown removes it.
    kept.push(`the run's security group (${toError(thrown).message}); tear down again in a few minutes`);
  }
  const logGroup = runLogGroupName(runId);
  if (options.deleteData) {
    if (await new RunLogGroups(clients.logs, options.logger).delete(runId))
      deleted.push(`log group ${logGroup}`);
  } else {
    kept.push(`log group ${logGroup} (the runners' logs; removed with delete-data)`);
  }
  return { deleted, kept };
}

/** The watcher's zip, which only an entry point that carries the Lambda bundle can give. */
async function watcherZipOf(settings: EcsResourceSettings): Promise<Uint8Array> {
  if (settings.watcherZip === undefined) {
    throw new SluiceError(
      'provisioning an ECS run deploys the watcher Lambda, but this caller gave no watcher bundle (StepContext.watcherZip): run it from the sluice CLI or the provision-run action, which carry it.',
    );
  }
  return settings.watcherZip();
}

// The ECS player: plays Amazon ECS for end-to-end tests against moto. moto records RunTask requests
// but runs nothing; the player watches a cluster's tasks on moto and runs each new one's container
// with the local container engine — the task definition's image, environment, secrets, command and
// memory, with the RunTask overrides on top — and when the container exits it stops the task on moto,
// as ECS would, so ListTasks counts drop. The AWS path (RunTask and its overrides) is thereby
// exercised end to end with real runner containers.
//
// Where it differs from ECS:
// - credentials: a real task gets its task role's credentials from the ECS agent; the player hands
//   every container the test bed's endpoint, region and dummy credentials instead (`awsEnv`);
// - secrets: ECS reads `valueFrom` with the execution role when the task starts; the player looks the
//   reference up in a map it is given (no Secrets Manager or SSM client is installed here). A missing
//   one stops the task without running it, with ECS's ResourceInitializationError reason;
// - networking: containers share the host's network (to reach moto on loopback); subnets, security
//   groups and public IPs are not played. Mount points become tmpfs mounts;
// - only the runner containers are played: `algorithm` and its siblings `algorithm-2`, … of a worker
//   running several tasks (or a task definition's only container). As on ECS, the task ends when its
//   essential container (`algorithm`) exits, and the others are stopped (SIGTERM, then SIGKILL);
// - sealed mode (test-only `brokerStandIns`): moto cannot run the run's broker Lambda nor serve its
//   function URL, so the player serves a stand-in on loopback (ecs-broker-stand-in.ts: the bundle's
//   real handler, SigV4 verified) and points the runner's `SLUICE_RUN` at it; the task role's
//   credentials come from a credentials endpoint the player serves, as ECS's agent does.
import {
  DescribeTaskDefinitionCommand,
  DescribeTasksCommand,
  StopTaskCommand,
  paginateListTasks,
  type ContainerDefinition,
  type ECSClient,
  type Task,
  type TaskDefinition,
} from '@aws-sdk/client-ecs';
import { LambdaClient } from '@aws-sdk/client-lambda';
import { ALGORITHM_CONTAINER, brokerFunctionName, runnerContainerNames } from '@sluice/core/ecs';
import { LOCAL_WORKER_ULIMITS, type ContainerEngine } from '@sluice/core/compute';
import { RUNNER_CONFIG_VARIABLE, silentLogger, toError, type Logger } from '@sluice/core';

import { BrokerStandIn, TaskCredentialsEndpoint, type TaskRoleCredentials } from './ecs-broker-stand-in.js';
import { TESTBED_CREDENTIALS, testbedAwsClientConfig } from './testbed-aws.js';

/** The label naming the ECS task a played container stands for. */
const ECS_PLAYER_TASK_LABEL = 'org.sluice.ecs-player.task';

/** How an {@link EcsPlayer} plays. */
export interface EcsPlayerOptions {
  /** The ECS client of the moto server the code under test talks to. */
  readonly ecs: ECSClient;
  /** The cluster whose tasks are played. */
  readonly cluster: string;
  /** Runs the containers (podman with the test bed's settings, in tests). */
  readonly engine: ContainerEngine;
  /**
   * What stands in for the task role: variables every container gets, after the task's own. Default:
   * the test bed's endpoint (`AWS_ENDPOINT_URL`), region and dummy credentials.
   */
  readonly awsEnv?: Readonly<Record<string, string>>;
  /** Secret values by `valueFrom` (an ARN, or a name), as Secrets Manager or SSM would answer. */
  readonly secrets?: Readonly<Record<string, string>>;
  /** Wait between polls of ListTasks; default 500 ms. */
  readonly pollMs?: number;
  /** Container network; default `host`. */
  readonly network?: string;
  /** Keep exited containers (and their logs) after {@link EcsPlayer.stop}; default false. */
  readonly keepContainers?: boolean;
  /**
   * TEST-ONLY: play sealed mode's AWS side, which moto cannot. For a task whose runner config
   * (`SLUICE_RUN`) names a broker with `auth: "iam"` — the run's broker Lambda's function URL — the
   * player serves a stand-in for that function on 127.0.0.1 ({@link BrokerStandIn}: the Lambda
   * bundle's real `brokerHandler` with the environment moto stored for the function, behind a
   * listener that verifies each request's SigV4 signature and answers 403 otherwise) and rewrites
   * `broker.url` to it. Such a task gets no `awsEnv`: only `AWS_REGION` and its role's credentials
   * from a credentials endpoint the player serves (`AWS_CONTAINER_CREDENTIALS_FULL_URI`), as ECS's
   * agent gives them, so no key is in its environment. Needs the host network (the default). Other
   * tasks are played as without it. Default false.
   */
  readonly brokerStandIns?: boolean;
  /** moto's Lambda client, for {@link brokerStandIns}; default: one for the test bed. */
  readonly lambda?: LambdaClient;
  readonly logger?: Logger;
}

/** One container of a played task. */
export interface PlayedContainer {
  /** Its name in the task definition (`algorithm`, `algorithm-2`, …). */
  readonly name: string;
  readonly containerId: string;
  /** Its exit code, once it exited. */
  exitCode?: number;
}

/** One task the player has seen. */
export interface PlayedTask {
  readonly taskArn: string;
  readonly taskDefinitionArn: string;
  /** The local container of the essential (first) runner container, when one was started. */
  containerId?: string;
  /** That container's exit code, once it exited. */
  exitCode?: number;
  /** Every runner container started for the task, the essential one first. */
  readonly containers: PlayedContainer[];
  /** Why the player stopped the task on moto. */
  stoppedReason?: string;
  /** Names of the (first) container's variables (values are not kept: some are secrets). */
  readonly envNames: string[];
}

/**
 * The containers of a task definition the player runs: the runner containers (`algorithm`,
 * `algorithm-2`, … as a worker of several tasks has them), or its only container.
 */
function runnerContainers(definition: TaskDefinition): ContainerDefinition[] {
  const containers = definition.containerDefinitions ?? [];
  const names = new Set(runnerContainerNames(containers.length));
  const runners = containers.filter((c) => c.name !== undefined && names.has(c.name));
  const played = runners.some((c) => c.name === ALGORITHM_CONTAINER)
    ? runners
    : containers.length === 1
      ? containers
      : [];
  if (played.length === 0 || played.some((c) => c.image === undefined)) {
    throw new Error(
      `task definition ${definition.taskDefinitionArn ?? ''} has no "${ALGORITHM_CONTAINER}" container with an image`,
    );
  }
  return played;
}

function byName(entries: readonly { name?: string | undefined; value?: string | undefined }[] | undefined) {
  const env: Record<string, string> = {};
  for (const entry of entries ?? []) if (entry.name !== undefined) env[entry.name] = entry.value ?? '';
  return env;
}

const sleep = (ms: number): Promise<void> =>
  new Promise((resolve) => {
    setTimeout(resolve, ms);
  });

/**
 * Plays ECS for a cluster on moto: each new pending or running task becomes a local container of its
 * task definition's image (which must be present in the local engine's store), with the task
 * definition's environment, its secrets resolved from `secrets`, the overrides' environment and
 * command, and `awsEnv`; when the container exits, the task is stopped on moto.
 *
 * @example
 * const player = new EcsPlayer({ ecs, cluster, engine, secrets: { [tokenArn]: 'hunter2' } });
 * player.start();
 * await workers.start(template, 2);           // the code under test calls RunTask on moto
 * await player.waitForExits(2);
 * await player.stop();
 * @throws never from the polling itself: errors are logged and collected in {@link errors}.
 */
export class EcsPlayer {
  /** Errors met while polling or playing (a test should expect none). */
  readonly errors: Error[] = [];
  private readonly played = new Map<string, PlayedTask>();
  private readonly definitions = new Map<string, TaskDefinition>();
  private readonly watchers = new Set<Promise<void>>();
  /** Each played container's watcher, so a task ends only once all its containers did. */
  private readonly exits = new Map<PlayedContainer, Promise<void>>();
  private readonly logger: Logger;
  private readonly pollMs: number;
  private running = false;
  private loop: Promise<void> | undefined;
  private polling: Promise<number> = Promise.resolve(0);
  /** Sealed mode's stand-ins, by broker function name ({@link EcsPlayerOptions.brokerStandIns}). */
  private readonly standIns = new Map<string, Promise<BrokerStandIn>>();
  private credentialsEndpoint: Promise<TaskCredentialsEndpoint> | undefined;
  private lambda: LambdaClient | undefined;
  /** The played task role's credentials (the test bed's keys and a session token of this player). */
  private readonly taskRole: TaskRoleCredentials = {
    ...TESTBED_CREDENTIALS,
    sessionToken: `ecs-player-${Math.random().toString(36).slice(2)}`,
  };

  constructor(private readonly options: EcsPlayerOptions) {
    this.logger = options.logger ?? silentLogger;
    this.pollMs = options.pollMs ?? 500;
  }

  /** Every task seen so far. */
  tasks(): readonly PlayedTask[] {
    return [...this.played.values()];
  }

  /**
   * The stand-in serving a broker function ({@link EcsPlayerOptions.brokerStandIns}), once a task
   * of its run was played.
   */
  async brokerStandIn(functionName: string): Promise<BrokerStandIn | undefined> {
    return this.standIns.get(functionName);
  }

  /** Starts polling in the background until {@link stop}. */
  start(): void {
    if (this.running) return;
    this.running = true;
    this.loop = (async () => {
      while (this.running) {
        await this.poll();
        await sleep(this.pollMs);
      }
    })();
  }

  /**
   * One round: lists the cluster's tasks wanted RUNNING and plays the new ones. Rounds never overlap.
   *
   * @returns how many new tasks were found.
   */
  async poll(): Promise<number> {
    this.polling = this.polling.then(
      () => this.round(),
      () => this.round(),
    );
    return this.polling;
  }

  /**
   * Waits until `count` played tasks have ended (exited, or stopped without running).
   *
   * @throws Error after `timeoutMs` (default 120 s), naming the tasks still running.
   */
  async waitForExits(count: number, timeoutMs = 120_000): Promise<readonly PlayedTask[]> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const ended = this.tasks().filter((task) => task.stoppedReason !== undefined);
      if (ended.length >= count) return ended;
      if (Date.now() > deadline) {
        throw new Error(
          `ECS player: ${ended.length} of ${count} tasks ended within ${timeoutMs} ms; still running: ${this.tasks()
            .filter((task) => task.stoppedReason === undefined)
            .map((task) => task.taskArn)
            .join(', ')}; errors: ${this.errors.map((e) => e.message).join('; ')}`,
        );
      }
      await sleep(200);
    }
  }

  /**
   * Stops polling, stops the containers still running (and their tasks on moto), and removes the
   * containers unless `keepContainers`.
   */
  async stop(): Promise<void> {
    this.running = false;
    await this.loop;
    await this.polling.catch(() => undefined);
    for (const task of this.played.values()) await this.stopContainers(task);
    await Promise.allSettled([...this.watchers]);
    if (this.options.keepContainers !== true) {
      const ids = this.tasks().flatMap((task) => task.containers.map((container) => container.containerId));
      if (ids.length > 0) await this.options.engine.remove(ids);
    }
    const servers = [
      ...this.standIns.values(),
      ...(this.credentialsEndpoint ? [this.credentialsEndpoint] : []),
    ];
    await Promise.allSettled(servers.map(async (server) => (await server).close()));
    if (this.options.lambda === undefined) this.lambda?.destroy();
  }

  private async round(): Promise<number> {
    try {
      const arns: string[] = [];
      for await (const page of paginateListTasks(
        { client: this.options.ecs },
        { cluster: this.options.cluster, desiredStatus: 'RUNNING' },
      )) {
        arns.push(...(page.taskArns ?? []));
      }
      const fresh = arns.filter((arn) => !this.played.has(arn));
      for (let i = 0; i < fresh.length; i += 100) {
        const described = await this.options.ecs.send(
          new DescribeTasksCommand({ cluster: this.options.cluster, tasks: fresh.slice(i, i + 100) }),
        );
        for (const task of described.tasks ?? []) await this.play(task);
      }
      return fresh.length;
    } catch (thrown: unknown) {
      this.fail(thrown, 'polling');
      return 0;
    }
  }

  private fail(thrown: unknown, what: string): void {
    const error = toError(thrown);
    this.errors.push(error);
    this.logger.warning(`ECS player: ${what}: ${error.message}`);
  }

  private async definition(arn: string): Promise<TaskDefinition> {
    const known = this.definitions.get(arn);
    if (known !== undefined) return known;
    const described = await this.options.ecs.send(new DescribeTaskDefinitionCommand({ taskDefinition: arn }));
    if (described.taskDefinition === undefined) throw new Error(`no task definition ${arn}`);
    this.definitions.set(arn, described.taskDefinition);
    return described.taskDefinition;
  }

  private async play(task: Task): Promise<void> {
    const taskArn = task.taskArn ?? '';
    const taskDefinitionArn = task.taskDefinitionArn ?? '';
    const played: PlayedTask = { taskArn, taskDefinitionArn, containers: [], envNames: [] };
    this.played.set(taskArn, played);
    try {
      const definition = await this.definition(taskDefinitionArn);
      const containers = runnerContainers(definition);
      for (const secret of containers.flatMap((container) => container.secrets ?? [])) {
        if (this.options.secrets?.[secret.valueFrom ?? ''] === undefined) {
          await this.stopTask(
            played,
            `ResourceInitializationError: unable to pull secrets or registry auth: secret ${secret.valueFrom ?? ''} not found (ECS player)`,
          );
          return;
        }
      }
      for (const [index, container] of containers.entries()) {
        const id = await this.startContainer(task, definition, container, played, index === 0);
        const entry: PlayedContainer = { name: container.name ?? '', containerId: id };
        played.containers.push(entry);
        if (index === 0) played.containerId = id;
        const watcher = this.watch(played, entry, index === 0);
        this.exits.set(entry, watcher);
        this.watchers.add(watcher);
        void watcher.finally(() => this.watchers.delete(watcher));
      }
      const taskId = taskArn.slice(taskArn.lastIndexOf('/') + 1);
      this.logger.info(
        `ECS player: task ${taskId} runs as container(s) ${played.containers.map((c) => c.containerId.slice(0, 12)).join(', ')}`,
      );
    } catch (thrown: unknown) {
      this.fail(thrown, `playing ${taskArn}`);
      await this.stopContainers(played);
      await this.stopTask(played, `CannotStartContainerError: ${toError(thrown).message}`.slice(0, 255));
    }
  }

  /** Starts one container of a task, with the task definition's settings and its override on top. */
  private async startContainer(
    task: Task,
    definition: TaskDefinition,
    container: ContainerDefinition,
    played: PlayedTask,
    first: boolean,
  ): Promise<string> {
    const taskArn = task.taskArn ?? '';
    const override = task.overrides?.containerOverrides?.find((c) => c.name === container.name);
    const secrets: Record<string, string> = {};
    for (const secret of container.secrets ?? []) {
      secrets[secret.name ?? ''] = this.options.secrets?.[secret.valueFrom ?? ''] ?? '';
    }
    const taskEnv = { ...byName(container.environment), ...secrets, ...byName(override?.environment) };
    const sealed = this.options.brokerStandIns === true ? await this.sealedEnv(taskEnv) : undefined;
    const env = sealed ?? { ...taskEnv, ...(this.options.awsEnv ?? testbedTaskEnv()) };
    if (first) played.envNames.push(...Object.keys(env).sort());
    const memory =
      override?.memory ?? container.memory ?? Number(task.overrides?.memory ?? definition.memory);
    const extraArgs =
      container.workingDirectory !== undefined ? ['--workdir', container.workingDirectory] : [];
    // ECS's scratch volumes become what the local backend mounts: /tmp in memory, the rest on disk.
    const mounts = (container.mountPoints ?? []).flatMap((mount) => mount.containerPath ?? []);
    const capabilities = container.linuxParameters?.capabilities;
    const command = override?.command ?? container.command;
    const taskId = taskArn.slice(taskArn.lastIndexOf('/') + 1);
    const name = first
      ? `ecs-${this.options.cluster}-${taskId}`
      : `ecs-${this.options.cluster}-${taskId}-${container.name ?? ''}`;
    return this.options.engine.runDetached({
      image: container.image ?? '',
      name: name.replace(/[^A-Za-z0-9_.-]/g, '-').slice(0, 200),
      env,
      ...(Number.isFinite(memory) && memory > 0 ? { memoryMiB: memory } : {}),
      network: this.options.network ?? 'host',
      ulimits: LOCAL_WORKER_ULIMITS,
      labels: { [ECS_PLAYER_TASK_LABEL]: taskArn },
      ...(container.readonlyRootFilesystem === true ? { readOnlyRootFilesystem: true } : {}),
      tmpfs: mounts.filter((path) => path === '/tmp'),
      scratchVolumes: mounts.filter((path) => path !== '/tmp'),
      capDrop: capabilities?.drop ?? [],
      capAdd: capabilities?.add ?? [],
      ...(container.user !== undefined && container.user !== '' ? { user: container.user } : {}),
      ...(container.entryPoint !== undefined && container.entryPoint.length > 0
        ? { entrypoint: container.entryPoint }
        : {}),
      ...(command !== undefined && command.length > 0 ? { command } : {}),
      ...(extraArgs.length > 0 ? { extraArgs } : {}),
    });
  }

  /** Stops a task's containers still running, as ECS does when its essential container exits. */
  private async stopContainers(played: PlayedTask): Promise<void> {
    await Promise.all(
      played.containers
        .filter((container) => container.exitCode === undefined)
        .map(async ({ containerId }) => {
          try {
            await this.options.engine.stop(containerId, { timeoutSeconds: 5 });
          } catch (thrown: unknown) {
            this.logger.debug(`ECS player: stopping ${containerId}: ${toError(thrown).message}`);
          }
        }),
    );
  }

  /**
   * A sealed task's environment ({@link EcsPlayerOptions.brokerStandIns}): its runner config pointed
   * at its broker's stand-in, `AWS_REGION`, and the task role's credentials endpoint instead of
   * `awsEnv`. Undefined for a task whose runner has no IAM-auth broker.
   */
  private async sealedEnv(taskEnv: Record<string, string>): Promise<Record<string, string> | undefined> {
    const text = taskEnv[RUNNER_CONFIG_VARIABLE];
    if (text === undefined) return undefined;
    const config = JSON.parse(text) as { runId?: string; broker?: { url?: string; auth?: string } };
    if (config.broker?.auth !== 'iam' || config.broker.url === undefined) return undefined;
    if ((this.options.network ?? 'host') !== 'host') {
      throw new Error(
        'brokerStandIns needs the host network: the stand-ins and the credentials endpoint listen on 127.0.0.1',
      );
    }
    const functionName = brokerFunctionName(config.runId ?? '');
    const functionUrl = config.broker.url;
    let standIn = this.standIns.get(functionName);
    if (standIn === undefined) {
      standIn = BrokerStandIn.start({
        lambda: (this.lambda ??= this.options.lambda ?? new LambdaClient(testbedAwsClientConfig())),
        functionName,
        functionUrl,
        caller: this.taskRole,
        functionCredentials: TESTBED_CREDENTIALS,
        logger: this.logger,
      });
      this.standIns.set(functionName, standIn);
    }
    this.credentialsEndpoint ??= TaskCredentialsEndpoint.start(this.taskRole);
    const [{ url }, credentials] = await Promise.all([standIn, this.credentialsEndpoint]);
    return {
      ...taskEnv,
      [RUNNER_CONFIG_VARIABLE]: JSON.stringify({ ...config, broker: { ...config.broker, url } }),
      AWS_REGION: this.options.awsEnv?.AWS_REGION ?? testbedAwsClientConfig().region,
      AWS_CONTAINER_CREDENTIALS_FULL_URI: credentials.url,
    };
  }

  private async watch(played: PlayedTask, container: PlayedContainer, essential: boolean): Promise<void> {
    try {
      container.exitCode = await this.options.engine.wait(container.containerId);
    } catch (thrown: unknown) {
      this.fail(thrown, `waiting for ${container.containerId}`);
    }
    // A sibling runner that exits leaves the task running; the essential one ends it.
    if (!essential) return;
    if (container.exitCode !== undefined) played.exitCode = container.exitCode;
    await this.stopContainers(played);
    const siblings = played.containers.filter((other) => other !== container);
    await Promise.allSettled(siblings.map((other) => this.exits.get(other) ?? Promise.resolve()));
    await this.stopTask(
      played,
      played.exitCode !== undefined
        ? `Essential container in task exited (exit code ${played.exitCode})`
        : 'ECS player: container lost',
    );
  }

  private async stopTask(played: PlayedTask, reason: string): Promise<void> {
    played.stoppedReason = reason;
    try {
      await this.options.ecs.send(
        new StopTaskCommand({
          cluster: this.options.cluster,
          task: played.taskArn,
          reason: reason.slice(0, 255),
        }),
      );
    } catch (thrown: unknown) {
      this.fail(thrown, `stopping ${played.taskArn}`);
    }
  }
}

/**
 * What a played task gets instead of a task role: the test bed's endpoint, region and dummy
 * credentials.
 *
 * @example
 * new EcsPlayer({ ecs, cluster, engine, awsEnv: { ...testbedTaskEnv(), AWS_SESSION_TOKEN: 'canary' } });
 * @throws TestbedNotRunningError when the test bed is not running.
 */
export function testbedTaskEnv(): Record<string, string> {
  const config = testbedAwsClientConfig();
  return {
    AWS_ENDPOINT_URL: config.endpoint,
    AWS_REGION: config.region,
    AWS_ACCESS_KEY_ID: TESTBED_CREDENTIALS.accessKeyId,
    AWS_SECRET_ACCESS_KEY: TESTBED_CREDENTIALS.secretAccessKey,
  };
}

// The ECS backend's workers: a run's runner tasks, started with RunTask from the run's own task
// definition (run-task-definition.ts) and request (run-task-request.ts), counted and stopped by the
// run's task definition family.
import { randomUUID } from 'node:crypto';

import {
  CreateClusterCommand,
  DeregisterTaskDefinitionCommand,
  DescribeClustersCommand,
  RunTaskCommand,
  StopTaskCommand,
  paginateListTasks,
  type ECSClient,
  type RegisterTaskDefinitionCommandInput,
} from '@aws-sdk/client-ecs';

import { ConfigurationError, toError } from '../errors.js';
import { silentLogger, type Logger } from '../logging/logger.js';
import { MANAGED_TAG } from '../ids/run-names.js';
import { classifyAwsError, describeAwsError, isTransientAwsError } from '../aws/errors.js';
import { retryRounds } from '../aws/retry.js';
import type { EcsLaunchTemplate } from './run-task-request.js';
import { DEFAULT_ECS_CLUSTER, runTaskDefinitionFamily } from './run-task-names.js';
import {
  EcsTaskDefinitions,
  registerTaskDefinition,
  type TaskDefinitionRegistration,
} from './task-definition.js';

/** RunTask starts at most this many tasks per call (an AWS limit). */
export const RUN_TASK_BATCH_SIZE = 10;

/** StopTask's `reason` holds at most 255 characters. */
const MAX_STOP_REASON = 255;

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
  private readonly sleep: ((ms: number) => Promise<void>) | undefined;
  private readonly random: () => number;
  private readonly maxAttempts: number;
  private readonly baseDelayMs: number;
  private readonly maxDelayMs: number;

  constructor(
    private readonly client: ECSClient,
    options: EcsWorkersOptions = {},
  ) {
    this.logger = options.logger ?? silentLogger;
    this.sleep = options.sleep;
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
    for (let remaining = Number.isFinite(count) && count > 0 ? Math.floor(count) : 0; remaining > 0;) {
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
    // Only the tasks that did not start are asked for again; a round that must stop here answers
    // with what failed so far.
    return retryRounds(
      async () => {
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
          if (missing <= 0) return { done: { started, failures: [] } };
          if (failures.length === 0) {
            failures.push({
              reason: 'unknown',
              detail: `ECS started ${arns.length} of ${wanted} and named no failure`,
            });
          }
          if (!failures.every((failure) => capacityUnavailable(failure.reason))) {
            return { done: { started, failures } };
          }
          wanted = missing;
          // Another count is another request: a token is tied to its parameters.
          token = randomUUID();
          return { retry: { started, failures }, reason: failures[0]?.reason ?? '' };
        } catch (thrown: unknown) {
          // Throttled: the same request again, with the same token, so ECS starts nothing twice.
          const propagating = roleNotYetAssumable(thrown);
          if (!isTransientAwsError(thrown) && !propagating) {
            throw classifyEcsError(thrown, 'ECS.RunTask', template.cluster);
          }
          const { code } = describeAwsError(thrown);
          return {
            retry: { started, failures: [{ reason: code, detail: toError(thrown).message }] },
            reason: code,
            ...(propagating && { atLeastAttempts: ROLE_PROPAGATION_ATTEMPTS }),
          };
        }
      },
      {
        maxAttempts: this.maxAttempts,
        baseDelayMs: this.baseDelayMs,
        maxDelayMs: this.maxDelayMs,
        jitter: 'equal',
        random: this.random,
        ...(this.sleep !== undefined && { sleep: this.sleep }),
        onRetry: ({ delayMs, reason }) => {
          this.logger.debug(
            `ECS.RunTask: ${wanted} task(s) not started (${reason}); retrying in ${delayMs} ms`,
          );
        },
      },
    );
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

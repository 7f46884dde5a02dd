// The run's own task definition: the algorithm's, with the run's secrets, logs, roles and tags. It
// exists because RunTask overrides cannot add `secrets`: the job's `{"fromSecret": …}` values must reach
// the container through ECS's secret references, never as plain environment that DescribeTasks would show.
//
// A worker running several tasks side by side (`tasksPerWorker`) is one ECS task with that many runner
// containers: the algorithm's input and output are fixed container paths, so two tasks never share a
// container. Each container is a whole runner (workspace, lease, heartbeat, release on SIGTERM).
import type {
  Compatibility,
  ContainerDefinition,
  RegisterTaskDefinitionCommandInput,
  Secret,
  Volume,
} from '@aws-sdk/client-ecs';

import { ConfigurationError } from '../errors.js';
import { runTags } from '../ids/run-names.js';
import { isFargateSize } from '../schemas/memory.js';
import type { WorkerSize } from '../schemas/worker-size.js';
import { runLogConfiguration } from './run-log-group.js';
import { arnContext, secretValueFrom } from './run-secrets.js';
import { runnerContainerNames, runTaskDefinitionFamily } from './run-task-names.js';
import { ALGORITHM_CONTAINER, type RegisteredTaskDefinition } from './task-definition.js';

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
  /** Tasks per worker and the worker's size ({@link workerSize}); default one task, the algorithm's size. */
  readonly worker?: WorkerSize;
}

/**
 * The n-th runner container (n ≥ 2) of a worker: the first one's copy under its own name, with scratch
 * volumes of its own (`<volume>-<n>`, so workspaces are apart), not essential (a sibling that exits
 * idle leaves the others working; the first one's exit would end the task, so its runner waits for
 * them: Runner `siblingsBusy`), and without the catalogue's labels
 * (the manifest there would count against the task definition's 64 KiB once per container).
 */
function siblingContainer(first: ContainerDefinition, name: string, n: number): ContainerDefinition {
  const { dockerLabels: _labels, portMappings: _ports, ...rest } = first;
  return {
    ...rest,
    name,
    essential: false,
    ...(first.mountPoints !== undefined && {
      mountPoints: first.mountPoints.map((mount) => ({
        ...mount,
        sourceVolume: `${mount.sourceVolume ?? ''}-${n}`,
      })),
    }),
  };
}

/**
 * The RegisterTaskDefinition input of a run's own task definition: a copy of the algorithm's registered
 * revision (DescribeTaskDefinition with its tags; the read-only fields — ARN, revision, status,
 * compatibilities, requiresAttributes, registeredAt/By — are left out) in family
 * `sluice-run-<run-id>`, with the job's secrets as the `algorithm` container's `secrets` (a variable
 * with a default in the algorithm's `environment` loses it there), awslogs to the run's log group
 * (`/sluice/runs/<run-id>`, stream prefix = the run id), the run's roles, and the algorithm's tags plus
 * the run's. With `worker.tasksPerWorker` N > 1 it holds N runner containers (`algorithm`,
 * `algorithm-2`, … {@link runnerContainerNames}; each with the same image, variables, secrets and log
 * group, its own scratch volumes, and its own log streams `<run-id>/<container>/<task id>`), and the
 * task-level cpu and memory are `worker.size`. Registering it with {@link registerTaskDefinition}
 * reuses an identical revision, so provisioning twice adds nothing.
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
  const names = runnerContainerNames(run.worker?.tasksPerWorker ?? 1);
  const copied = containers.map(copy);
  const first = copied.find((container) => container.name === ALGORITHM_CONTAINER);
  const siblings =
    first === undefined ? [] : names.slice(1).map((name, index) => siblingContainer(first, name, index + 2));
  const firstVolumes = new Set((first?.mountPoints ?? []).map((mount) => mount.sourceVolume));
  const volumes: Volume[] | undefined =
    definition.volumes === undefined
      ? undefined
      : [
          ...definition.volumes,
          ...names
            .slice(1)
            .flatMap((_, index) =>
              (definition.volumes ?? [])
                .filter((volume) => firstVolumes.has(volume.name))
                .map((volume) => ({ ...volume, name: `${volume.name ?? ''}-${index + 2}` })),
            ),
        ];
  const size = run.worker?.size;
  // A size off Fargate's table (an EC2 worker) cannot be registered as Fargate-compatible.
  const requiresCompatibilities: Compatibility[] | undefined =
    size !== undefined && !isFargateSize(size.cpuUnits / 1024, size.memoryMiB)
      ? ['EC2']
      : definition.requiresCompatibilities;
  const tags = new Map<string, string>();
  for (const tag of algorithm.tags) if (tag.key !== undefined) tags.set(tag.key, tag.value ?? '');
  for (const [key, value] of Object.entries(runTags(run.runId))) tags.set(key, value);
  return {
    family: runTaskDefinitionFamily(run.runId),
    containerDefinitions: [...copied, ...siblings],
    executionRoleArn: run.executionRoleArn,
    taskRoleArn: run.taskRoleArn,
    ...(definition.networkMode !== undefined && { networkMode: definition.networkMode }),
    ...(volumes !== undefined && { volumes }),
    ...(definition.placementConstraints !== undefined && {
      placementConstraints: definition.placementConstraints,
    }),
    ...(requiresCompatibilities !== undefined && { requiresCompatibilities }),
    ...(size !== undefined
      ? { cpu: String(size.cpuUnits), memory: String(size.memoryMiB) }
      : {
          ...(definition.cpu !== undefined && { cpu: definition.cpu }),
          ...(definition.memory !== undefined && { memory: definition.memory }),
        }),
    ...(definition.pidMode !== undefined && { pidMode: definition.pidMode }),
    ...(definition.ipcMode !== undefined && { ipcMode: definition.ipcMode }),
    ...(definition.proxyConfiguration !== undefined && { proxyConfiguration: definition.proxyConfiguration }),
    ...(definition.ephemeralStorage !== undefined && { ephemeralStorage: definition.ephemeralStorage }),
    ...(definition.runtimePlatform !== undefined && { runtimePlatform: definition.runtimePlatform }),
    tags: [...tags].map(([key, value]) => ({ key, value })).sort((a, b) => (a.key < b.key ? -1 : 1)),
  };
}

// The run's own task definition: the algorithm's, with the run's secrets, logs, roles and tags. It
// exists because RunTask overrides cannot add `secrets`: the job's `{"fromSecret": …}` values must reach
// the container through ECS's secret references, never as plain environment that DescribeTasks would show.
import type { ContainerDefinition, RegisterTaskDefinitionCommandInput, Secret } from '@aws-sdk/client-ecs';

import { ConfigurationError } from '../errors.js';
import { runTags } from '../ids/run-names.js';
import { runLogConfiguration } from './run-log-group.js';
import { arnContext, secretValueFrom } from './run-secrets.js';
import { runTaskDefinitionFamily } from './run-task-names.js';
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

// The ECS task definition of a wrapped image: one container, `algorithm`, running the image by digest
// with the manifest's resources plus the runner's overhead. Task definitions are immutable and every
// RegisterTaskDefinition call adds a revision, so registering compares with what is there first: a
// re-run with the same digest and settings reuses the revision instead of piling up copies.
import {
  DescribeTaskDefinitionCommand,
  RegisterTaskDefinitionCommand,
  paginateListTaskDefinitions,
  type ContainerDefinition,
  type ECSClient,
  type RegisterTaskDefinitionCommandInput,
  type Tag,
  type TaskDefinition,
} from '@aws-sdk/client-ecs';

import { ConfigurationError, InfrastructureError, toError } from '../errors.js';
import { silentLogger, type Logger } from '../logging/logger.js';
import { canonicalJson } from '../ids/canonical-json.js';
import type { Manifest } from '../schemas/manifest.js';
import { RUNNER_OVERHEAD_MIB, taskSize } from '../schemas/memory.js';
import { classifyAwsError, describeAwsError } from '../aws/errors.js';
import { runtimePlatform } from '../compute/node-runtime.js';
import { ecsRunnerCapabilities, runnerWritableDirectories } from '../compute/runner-hardening.js';
import { WRAPPED_LABELS, wrappedImageLabels } from '../compute/wrapped-image.js';

/** The name of the one container in every sluice task definition. */
export const ALGORITHM_CONTAINER = 'algorithm';

/** Tags on every task definition sluice registers; the ECS catalogue finds algorithms by them. */
export const ALGORITHM_TAGS = {
  /** The algorithm's name. */
  name: 'sluice:algorithm',
  /** The algorithm's version. */
  version: 'sluice:version',
  /** The wrapped image's digest (`sha256:…`). */
  digest: 'sluice:digest',
} as const;

/**
 * Seconds ECS waits between SIGTERM and SIGKILL: Fargate's maximum, so the runner can stop the
 * algorithm, record the attempt and hand the message back before the container is killed.
 */
export const STOP_TIMEOUT_SECONDS = 120;

/**
 * The size the manifest's JSON may have in the container's `dockerLabels`. A whole task definition
 * may be 64 KiB; half of it leaves room for everything else.
 */
export const MAX_MANIFEST_LABEL_BYTES = 32 * 1024;

/** The volume that stays writable when the root filesystem is read-only. */
const SCRATCH_VOLUME = 'sluice-scratch';

/**
 * The task definition family of an algorithm: `sluice-<name>`, with the characters ECS does not
 * allow in a family (`.`) turned into `-`. Two names that differ only there share a family; the
 * `sluice:algorithm` tag tells their revisions apart.
 *
 * @example
 * taskDefinitionFamily('thumbs.v2'); // 'sluice-thumbs-v2'
 * @throws never.
 */
export function taskDefinitionFamily(name: string): string {
  return `sluice-${name.replace(/[^A-Za-z0-9_-]/g, '-')}`.slice(0, 255);
}

/**
 * The CloudWatch Logs group of an algorithm's runners: `/sluice/<name>`.
 *
 * @example
 * algorithmLogGroup('thumbs'); // '/sluice/thumbs'
 * @throws never.
 */
export function algorithmLogGroup(name: string): string {
  return `/sluice/${name}`;
}

/** `X86_64` or `ARM64`, as ECS's runtimePlatform names the manifest's `platform`. */
function cpuArchitecture(platform: string): 'X86_64' | 'ARM64' {
  return runtimePlatform(platform) === 'linux/arm64' ? 'ARM64' : 'X86_64';
}

/** What a task definition is made of. */
export interface TaskDefinitionOptions {
  readonly manifest: Manifest;
  /** The manifest file's text: its compact JSON goes into the container's labels (the catalogue reads it). */
  readonly manifestText: string;
  /** The wrapped image pinned to its digest: `registry/repo:tag@sha256:…`. */
  readonly image: string;
  /** The region the awslogs driver writes to. */
  readonly region: string;
  /** Role ECS uses to pull the image and write logs; provisioning creates one. */
  readonly executionRoleArn?: string;
  /** Role the runner's AWS calls use (direct mode). */
  readonly taskRoleArn?: string;
}

function digestOf(image: string): string {
  const digest = /@(sha256:[a-f0-9]{64})$/.exec(image)?.[1];
  if (digest === undefined) {
    throw new ConfigurationError(
      `the task definition needs the image by digest (registry/repo:tag@sha256:…); found ${image}. Push the wrapped image first.`,
    );
  }
  return digest;
}

/**
 * The RegisterTaskDefinition input for a wrapped image: family `sluice-<name>`, one container
 * `algorithm` running the image by digest with the manifest's memory plus the runner's overhead as its
 * hard limit, the smallest Fargate size that fits at task level (EC2 only when the algorithm needs a
 * GPU, which Fargate has not, or more than Fargate's largest size), `runtimePlatform` from `platform`, the non-secret variables' defaults,
 * the port, awslogs to `/sluice/<name>`, no privileged mode, every capability dropped but the
 * runner's few (ecsRunnerCapabilities: by dropping the others, as Fargate allows) and an init process, writable scratch mounts for the input,
 * the output and /tmp, a read-only root filesystem when the manifest allows it, the manifest
 * in the container's labels, and the `sluice:*` tags.
 *
 * @example
 * const input = taskDefinitionInput({ manifest, manifestText, image: `${repo}:1.0@sha256:…`, region: 'eu-west-1' });
 * await ecs.send(new RegisterTaskDefinitionCommand(input));
 * @throws {ConfigurationError} when the image is not pinned to a digest, the platform is not
 *   supported, or the manifest is too large for the labels.
 */
export function taskDefinitionInput(options: TaskDefinitionOptions): RegisterTaskDefinitionCommandInput {
  const { manifest } = options;
  const digest = digestOf(options.image);
  const labels = wrappedImageLabels({
    manifest,
    manifestText: options.manifestText,
    baseImageId: '',
    runnerDigest: '',
    runtime: { nodeVersion: '', platform: '' },
  });
  const catalogueLabels = {
    [WRAPPED_LABELS.algorithm]: labels[WRAPPED_LABELS.algorithm] ?? '',
    [WRAPPED_LABELS.manifestDigest]: labels[WRAPPED_LABELS.manifestDigest] ?? '',
    [WRAPPED_LABELS.manifestJson]: labels[WRAPPED_LABELS.manifestJson] ?? '',
  };
  const manifestBytes = Buffer.byteLength(catalogueLabels[WRAPPED_LABELS.manifestJson]);
  if (manifestBytes > MAX_MANIFEST_LABEL_BYTES) {
    throw new ConfigurationError(
      `algorithm.json is ${manifestBytes} bytes as compact JSON; the task definition can carry at most ${MAX_MANIFEST_LABEL_BYTES}. Shorten the descriptions in it.`,
    );
  }
  const containerMemory = manifest.memoryMiB + RUNNER_OVERHEAD_MIB;
  // Fargate has no GPUs and a largest size; beyond either the task is for EC2 only.
  const size = manifest.gpu === 0 ? taskSize(manifest) : undefined;
  const fargate = size !== undefined;
  const taskCpu = size?.cpuUnits ?? Math.ceil((manifest.cpu ?? 1) * 1024);
  const taskMemory = size?.memoryMiB ?? containerMemory;
  const environment = Object.entries(manifest.env)
    .filter(([, spec]) => !spec.secret && spec.default !== undefined)
    .map(([name, spec]) => ({ name, value: spec.default ?? '' }))
    .sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  const readOnly = manifest.readOnlyRootFilesystem;
  // Mounted read-only root or not: with every capability dropped, root cannot create /tmp or
  // /data/in in a FROM-scratch image's `/` (mode 0555).
  const mounts = runnerWritableDirectories(manifest);
  const container: ContainerDefinition = {
    name: ALGORITHM_CONTAINER,
    image: options.image,
    essential: true,
    memory: containerMemory,
    ...(manifest.cpu !== undefined ? { cpu: Math.ceil(manifest.cpu * 1024) } : {}),
    ...(manifest.gpu > 0 ? { resourceRequirements: [{ type: 'GPU', value: String(manifest.gpu) }] } : {}),
    ...(environment.length > 0 ? { environment } : {}),
    ...(manifest.port !== undefined
      ? { portMappings: [{ containerPort: manifest.port, hostPort: manifest.port, protocol: 'tcp' }] }
      : {}),
    logConfiguration: {
      logDriver: 'awslogs',
      options: {
        'awslogs-group': algorithmLogGroup(manifest.name),
        'awslogs-region': options.region,
        'awslogs-stream-prefix': 'sluice',
      },
    },
    privileged: false,
    // Node is PID 1 and reaps no zombies: ECS's init process does.
    linuxParameters: {
      capabilities: ecsRunnerCapabilities(),
      initProcessEnabled: true,
    },
    readonlyRootFilesystem: readOnly,
    ...(mounts.length > 0
      ? {
          mountPoints: mounts.map((containerPath, index) => ({
            sourceVolume: `${SCRATCH_VOLUME}-${index}`,
            containerPath,
            readOnly: false,
          })),
        }
      : {}),
    stopTimeout: STOP_TIMEOUT_SECONDS,
    dockerLabels: catalogueLabels,
  };
  return {
    family: taskDefinitionFamily(manifest.name),
    containerDefinitions: [container],
    networkMode: 'awsvpc',
    requiresCompatibilities: fargate ? ['FARGATE', 'EC2'] : ['EC2'],
    cpu: String(taskCpu),
    memory: String(taskMemory),
    runtimePlatform: { operatingSystemFamily: 'LINUX', cpuArchitecture: cpuArchitecture(manifest.platform) },
    ...(mounts.length > 0
      ? { volumes: mounts.map((_, index) => ({ name: `${SCRATCH_VOLUME}-${index}` })) }
      : {}),
    ...(options.executionRoleArn !== undefined ? { executionRoleArn: options.executionRoleArn } : {}),
    ...(options.taskRoleArn !== undefined ? { taskRoleArn: options.taskRoleArn } : {}),
    tags: [
      { key: ALGORITHM_TAGS.name, value: manifest.name },
      { key: ALGORITHM_TAGS.version, value: manifest.version },
      { key: ALGORITHM_TAGS.digest, value: digest },
    ],
  };
}

// ---------------------------------------------------------------------------------------------
// The comparison that decides whether a registered revision can be reused.

/** The fields of a task definition sluice sets or that change what runs; both shapes share them. */
type TaskDefinitionShape = Pick<
  TaskDefinition,
  | 'family'
  | 'containerDefinitions'
  | 'taskRoleArn'
  | 'executionRoleArn'
  | 'networkMode'
  | 'volumes'
  | 'requiresCompatibilities'
  | 'runtimePlatform'
  | 'cpu'
  | 'memory'
  | 'pidMode'
  | 'ipcMode'
  | 'ephemeralStorage'
>;

function byKey<T>(key: (item: T) => string): (a: T, b: T) => number {
  return (a, b) => {
    const ka = key(a);
    const kb = key(b);
    return ka < kb ? -1 : ka > kb ? 1 : 0;
  };
}

/** `[]`, `{}`, `''` and `undefined` all mean "not set" once ECS has filled in its defaults. */
function nonEmpty<T>(value: readonly T[] | undefined): readonly T[] | undefined {
  return value === undefined || value.length === 0 ? undefined : value;
}

/** ECS may return unset lists as `[]` and `initProcessEnabled: false` as missing: both mean unset. */
function normalizeLinuxParameters(parameters: ContainerDefinition['linuxParameters']): unknown {
  const sorted = (list: readonly string[] | undefined) => nonEmpty([...(list ?? [])].sort());
  const normalized = {
    add: sorted(parameters?.capabilities?.add),
    drop: sorted(parameters?.capabilities?.drop),
    init: parameters?.initProcessEnabled === true || undefined,
    devices: nonEmpty(parameters?.devices),
    tmpfs: nonEmpty(parameters?.tmpfs),
    sharedMemorySize: parameters?.sharedMemorySize || undefined,
  };
  return canonicalJson(normalized) === '{}' ? undefined : normalized;
}

function normalizeContainer(container: ContainerDefinition): unknown {
  return {
    name: container.name,
    image: container.image,
    // ECS reports an unset container cpu as 0 and an unset `essential` as true.
    cpu: container.cpu === 0 ? undefined : container.cpu,
    memory: container.memory,
    memoryReservation: container.memoryReservation,
    essential: container.essential ?? true,
    entryPoint: nonEmpty(container.entryPoint),
    command: nonEmpty(container.command),
    workingDirectory: container.workingDirectory || undefined,
    user: container.user || undefined,
    environment: nonEmpty(
      (container.environment ?? [])
        .map((entry) => ({ name: entry.name, value: entry.value ?? '' }))
        .sort(byKey((entry) => entry.name ?? '')),
    ),
    secrets: nonEmpty(
      (container.secrets ?? [])
        .map((entry) => ({ name: entry.name, valueFrom: entry.valueFrom }))
        .sort(byKey((entry) => entry.name ?? '')),
    ),
    portMappings: nonEmpty(
      (container.portMappings ?? [])
        .map((mapping) => ({
          containerPort: mapping.containerPort,
          // awsvpc: the host port is the container port, and ECS fills it in.
          hostPort: mapping.hostPort ?? mapping.containerPort,
          protocol: mapping.protocol ?? 'tcp',
        }))
        .sort(byKey((mapping) => `${mapping.containerPort ?? 0}/${mapping.protocol}`)),
    ),
    mountPoints: nonEmpty(
      (container.mountPoints ?? [])
        .map((mount) => ({
          sourceVolume: mount.sourceVolume,
          containerPath: mount.containerPath,
          readOnly: mount.readOnly ?? false,
        }))
        .sort(byKey((mount) => mount.containerPath ?? '')),
    ),
    resourceRequirements: nonEmpty(
      (container.resourceRequirements ?? [])
        .map((requirement) => ({ type: requirement.type, value: requirement.value }))
        .sort(byKey((requirement) => requirement.type ?? '')),
    ),
    logConfiguration:
      container.logConfiguration === undefined
        ? undefined
        : {
            logDriver: container.logConfiguration.logDriver,
            options: container.logConfiguration.options ?? {},
          },
    privileged: container.privileged === true,
    linuxParameters: normalizeLinuxParameters(container.linuxParameters),
    readonlyRootFilesystem: container.readonlyRootFilesystem === true,
    stopTimeout: container.stopTimeout,
    dockerLabels: container.dockerLabels ?? {},
  };
}

/**
 * A task definition (the RegisterTaskDefinition input, or a registered revision as
 * DescribeTaskDefinition returns it) with its tags, in one canonical form: ECS's defaults filled in
 * the same way on both sides (container `cpu: 0`, `essential: true`, empty lists, the awsvpc host
 * port, `tcp`), lists sorted, and the fields that only a registered revision has (ARN, revision,
 * status, compatibilities, registeredAt, …) left out. Two task definitions with the same form run
 * the same thing.
 *
 * @example
 * normalizedTaskDefinition(input, input.tags) === normalizedTaskDefinition(described.taskDefinition, described.tags); // reuse it
 * @throws never.
 */
export function normalizedTaskDefinition(
  definition: TaskDefinitionShape,
  tags: readonly Tag[] | undefined,
): string {
  return canonicalJson({
    family: definition.family,
    taskRoleArn: definition.taskRoleArn || undefined,
    executionRoleArn: definition.executionRoleArn || undefined,
    networkMode: definition.networkMode,
    cpu: definition.cpu,
    memory: definition.memory,
    requiresCompatibilities: [...(definition.requiresCompatibilities ?? [])].sort(),
    runtimePlatform:
      definition.runtimePlatform === undefined
        ? undefined
        : {
            cpuArchitecture: definition.runtimePlatform.cpuArchitecture,
            operatingSystemFamily: definition.runtimePlatform.operatingSystemFamily,
          },
    pidMode: definition.pidMode,
    ipcMode: definition.ipcMode,
    ephemeralStorage: definition.ephemeralStorage?.sizeInGiB,
    volumes: nonEmpty(
      (definition.volumes ?? [])
        .map((volume) => ({ name: volume.name, hostSourcePath: volume.host?.sourcePath || undefined }))
        .sort(byKey((volume) => volume.name ?? '')),
    ),
    containers: (definition.containerDefinitions ?? [])
      .map(normalizeContainer)
      .sort(byKey((container) => canonicalJson(container))),
    tags: (tags ?? [])
      .map((tag) => ({ key: tag.key, value: tag.value ?? '' }))
      .sort(byKey((tag) => tag.key ?? '')),
  });
}

/**
 * Whether a registered revision runs exactly what `input` describes (see {@link normalizedTaskDefinition}).
 *
 * @example
 * if (sameTaskDefinition(input, latest)) return latest.arn;
 * @throws never.
 */
export function sameTaskDefinition(
  input: RegisterTaskDefinitionCommandInput,
  registered: RegisteredTaskDefinition,
): boolean {
  return (
    normalizedTaskDefinition(input, input.tags) ===
    normalizedTaskDefinition(registered.taskDefinition, registered.tags)
  );
}

// ---------------------------------------------------------------------------------------------
// The adapter over ECS, and the register-or-reuse step.

/** A registered revision with its tags. */
export interface RegisteredTaskDefinition {
  readonly arn: string;
  readonly family: string;
  readonly revision: number;
  readonly taskDefinition: TaskDefinition;
  readonly tags: readonly Tag[];
}

/** What sluice needs of ECS task definitions; {@link EcsTaskDefinitions} is the real one. */
export interface TaskDefinitionRegistry {
  /** ARNs of the family's ACTIVE revisions, newest first. */
  listActive(family: string): AsyncIterable<string>;
  /** One revision with its tags; `undefined` when there is none. */
  describe(taskDefinition: string): Promise<RegisteredTaskDefinition | undefined>;
  register(input: RegisterTaskDefinitionCommandInput): Promise<RegisteredTaskDefinition>;
}

/**
 * The family and revision in a task definition ARN (`…:task-definition/<family>:<revision>`).
 *
 * @example
 * parseTaskDefinitionArn('arn:aws:ecs:eu-west-1:123456789012:task-definition/sluice-thumbs:3'); // { family: 'sluice-thumbs', revision: 3 }
 * @throws never; `undefined` when it is not a task definition ARN.
 */
export function parseTaskDefinitionArn(arn: string): { family: string; revision: number } | undefined {
  const match = /task-definition\/([A-Za-z0-9_-]+):([0-9]+)$/.exec(arn);
  if (match === null) return undefined;
  return { family: match[1] ?? '', revision: Number(match[2]) };
}

function registered(
  taskDefinition: TaskDefinition | undefined,
  tags: readonly Tag[] | undefined,
  what: string,
): RegisteredTaskDefinition {
  const arn = taskDefinition?.taskDefinitionArn;
  const parsed = arn === undefined ? undefined : parseTaskDefinitionArn(arn);
  if (taskDefinition === undefined || arn === undefined || parsed === undefined) {
    throw new InfrastructureError(`ECS returned no task definition ARN for ${what}`);
  }
  return { arn, ...parsed, taskDefinition, tags: tags ?? [] };
}

/**
 * {@link TaskDefinitionRegistry} on Amazon ECS (or any endpoint speaking its API).
 *
 * @example
 * const registry = new EcsTaskDefinitions(new ECSClient({ region: 'eu-west-1' }));
 * const { arn, reused } = await registerTaskDefinition(registry, taskDefinitionInput(options));
 * @throws {ConfigurationError} when access is denied; AwsRequestError for faults.
 */
export class EcsTaskDefinitions implements TaskDefinitionRegistry {
  constructor(private readonly client: ECSClient) {}

  async *listActive(family: string): AsyncIterable<string> {
    const arns: { arn: string; revision: number }[] = [];
    try {
      // familyPrefix is a prefix: `sluice-a` also lists `sluice-ab`, so the family is checked below.
      // Sorted here, not by the server (sort: DESC), so every page is in hand before the first is used.
      for await (const page of paginateListTaskDefinitions(
        { client: this.client },
        { familyPrefix: family, status: 'ACTIVE', sort: 'DESC' },
      )) {
        for (const arn of page.taskDefinitionArns ?? []) {
          const parsed = parseTaskDefinitionArn(arn);
          if (parsed?.family === family) arns.push({ arn, revision: parsed.revision });
        }
      }
    } catch (thrown: unknown) {
      throw classifyAwsError(thrown, 'ECS.ListTaskDefinitions', family);
    }
    arns.sort((a, b) => b.revision - a.revision);
    for (const { arn } of arns) yield arn;
  }

  async describe(taskDefinition: string): Promise<RegisteredTaskDefinition | undefined> {
    try {
      const output = await this.client.send(
        new DescribeTaskDefinitionCommand({ taskDefinition, include: ['TAGS'] }),
      );
      return registered(output.taskDefinition, output.tags, taskDefinition);
    } catch (thrown: unknown) {
      const { code } = describeAwsError(thrown);
      // ECS says "ClientException: Unable to describe task definition." for one that does not exist.
      if (code === 'ClientException' && /unable to describe|not found/i.test(toError(thrown).message)) {
        return undefined;
      }
      throw classifyAwsError(thrown, 'ECS.DescribeTaskDefinition', taskDefinition);
    }
  }

  async register(input: RegisterTaskDefinitionCommandInput): Promise<RegisteredTaskDefinition> {
    try {
      const output = await this.client.send(new RegisterTaskDefinitionCommand(input));
      return registered(output.taskDefinition, output.tags ?? input.tags, input.family ?? '');
    } catch (thrown: unknown) {
      throw classifyAwsError(thrown, 'ECS.RegisterTaskDefinition', input.family ?? '');
    }
  }
}

/**
 * The newest ACTIVE revision of the family carrying all the given tags, or `undefined`. Revisions are
 * described newest first until one matches, so the usual case costs one list and one describe.
 *
 * @example
 * await findTaskDefinition(registry, 'sluice-thumbs', { 'sluice:algorithm': 'thumbs', 'sluice:version': '1.0' });
 * @throws {ConfigurationError} when access is denied; AwsRequestError for faults.
 */
export async function findTaskDefinition(
  registry: TaskDefinitionRegistry,
  family: string,
  tags: Readonly<Record<string, string>>,
): Promise<RegisteredTaskDefinition | undefined> {
  for await (const arn of registry.listActive(family)) {
    const candidate = await registry.describe(arn);
    if (candidate === undefined) continue;
    const has = new Map(candidate.tags.map((tag) => [tag.key, tag.value]));
    if (Object.entries(tags).every(([key, value]) => has.get(key) === value)) return candidate;
  }
  return undefined;
}

/** A task definition registered or reused. */
export interface TaskDefinitionRegistration {
  readonly arn: string;
  readonly revision: number;
  /** True when an ACTIVE revision already ran exactly this, so none was added. */
  readonly reused: boolean;
}

/**
 * Registers a task definition unless the newest ACTIVE revision of its family for the same
 * algorithm (the `sluice:algorithm` and `sluice:version` tags) already runs exactly the same thing
 * ({@link sameTaskDefinition}); then that revision is reused. The newest revision of the family is
 * looked at first, so in the usual case this costs one list and one describe.
 *
 * @example
 * const { arn, reused } = await registerTaskDefinition(new EcsTaskDefinitions(ecs), taskDefinitionInput(options), logger);
 * @throws {ConfigurationError} when access is denied; AwsRequestError for faults.
 */
export async function registerTaskDefinition(
  registry: TaskDefinitionRegistry,
  input: RegisterTaskDefinitionCommandInput,
  logger: Logger = silentLogger,
): Promise<TaskDefinitionRegistration> {
  const family = input.family ?? '';
  const wanted: Record<string, string> = {};
  for (const tag of input.tags ?? []) {
    if (tag.key === ALGORITHM_TAGS.name || tag.key === ALGORITHM_TAGS.version)
      wanted[tag.key] = tag.value ?? '';
  }
  const latest = await findTaskDefinition(registry, family, wanted);
  if (latest !== undefined && sameTaskDefinition(input, latest)) {
    logger.info(
      `task definition ${family}:${latest.revision} already runs this image with these settings: reused`,
    );
    return { arn: latest.arn, revision: latest.revision, reused: true };
  }
  const made = await registry.register(input);
  logger.info(`registered task definition ${made.family}:${made.revision}`);
  return { arn: made.arn, revision: made.revision, reused: false };
}

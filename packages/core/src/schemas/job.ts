// The job (`job.json`): what a user commits or dispatches to run an algorithm over a bucket.
// `RawJob` is the file as written; `Job` is the normalised form (defaults applied, the algorithm
// reference parsed, credentials as a tagged union). Its JSON Schema is job-schema.ts.
import { ConfigurationError } from '../errors.js';
import { IMAGE_REFERENCE_PATTERN } from './manifest.js';
import { parseMemory } from './memory.js';

/**
 * A value for an algorithm variable: a literal string, the name of an environment variable of
 * whoever runs sluice (`fromEnv`, e.g. a GitHub secret exposed to the step), or a Secrets Manager
 * secret name or ARN (`fromSecret`, resolved on AWS, never written to a file or a record).
 */
export type EnvValue = string | { fromEnv: string } | { fromSecret: string };

/** Where AWS credentials come from; never the credentials themselves. */
export type CredentialsSourceName = 'environment' | 'profile' | 'roleArn' | 'oidc';

/** `job.json` exactly as written. */
export interface RawJob {
  $schema?: string;
  name: string;
  algorithm: string;
  input: { bucket: string; prefix?: string; include?: string[]; create?: boolean };
  output: { bucket: string; prefix?: string };
  env?: Record<string, EnvValue>;
  aws?: {
    region?: string;
    credentials?: CredentialsSourceName;
    profile?: string;
    roleArn?: string;
    roleSessionName?: string;
    audience?: string;
  };
  compute?: {
    backend?: 'local' | 'ecs';
    maxWorkers?: number;
    minWorkers?: number;
    launchType?: 'FARGATE' | 'EC2';
    spot?: boolean;
    subnets?: string[];
    securityGroups?: string[];
    assignPublicIp?: boolean;
    idleSeconds?: number;
    tasksPerWorker?: number;
    workerCpu?: number;
    workerMemory?: number | string;
  };
  retries?: number;
  timeoutSeconds?: number;
  keep?: boolean;
  mode?: 'direct' | 'sealed';
}

/** Defaults applied to a job; the reference (docs/reference.md) lists them too. */
export const JOB_DEFAULTS = {
  prefix: '',
  include: ['**'] as string[],
  create: false,
  credentials: 'environment' as CredentialsSourceName,
  roleSessionName: 'sluice',
  audience: 'sts.amazonaws.com',
  backend: 'local' as 'local' | 'ecs',
  maxWorkers: 4,
  minWorkers: 0,
  launchType: 'FARGATE' as 'FARGATE' | 'EC2',
  spot: false,
  idleSeconds: 60,
  retries: 2,
  keep: false,
  mode: 'sealed' as 'direct' | 'sealed',
} as const;

/** The name of the reserved prefix sluice keeps its ledger under, in the output bucket. */
export const RESERVED_PREFIX = '_sluice/';

/** The algorithm a job names: a catalogue entry (`name@version`) or an image reference. */
export type AlgorithmRef =
  | { readonly kind: 'catalogue'; readonly name: string; readonly version: string }
  | { readonly kind: 'image'; readonly reference: string };

/** Where AWS credentials come from, with what each source needs. */
export type CredentialsSource =
  | { readonly source: 'environment' }
  | { readonly source: 'profile'; readonly profile: string }
  | { readonly source: 'roleArn'; readonly roleArn: string; readonly roleSessionName: string }
  | {
      readonly source: 'oidc';
      readonly roleArn: string;
      readonly roleSessionName: string;
      readonly audience: string;
    };

/** A valid `job.json`, normalised: defaults applied, prefixes ending in `/` (or empty). */
export interface Job {
  readonly name: string;
  readonly algorithm: AlgorithmRef;
  readonly input: {
    readonly bucket: string;
    readonly prefix: string;
    readonly include: readonly string[];
    readonly create: boolean;
  };
  readonly output: { readonly bucket: string; readonly prefix: string };
  readonly env: Readonly<Record<string, EnvValue>>;
  readonly aws: { readonly region?: string; readonly credentials: CredentialsSource };
  readonly compute: {
    readonly backend: 'local' | 'ecs';
    readonly maxWorkers: number;
    readonly minWorkers: number;
    readonly launchType: 'FARGATE' | 'EC2';
    readonly spot: boolean;
    readonly subnets: readonly string[];
    readonly securityGroups: readonly string[];
    readonly assignPublicIp: boolean;
    readonly idleSeconds: number;
    /** Tasks a worker runs side by side, one runner container each; derived when absent (worker-size.ts). */
    readonly tasksPerWorker?: number;
    /** vCPUs of one worker (ecs backend); with {@link workerMemoryMiB}, else derived. */
    readonly workerCpu?: number;
    /** Memory of one worker in MiB (ecs backend); with {@link workerCpu}, else derived. */
    readonly workerMemoryMiB?: number;
  };
  readonly retries: number;
  readonly timeoutSeconds?: number;
  readonly keep: boolean;
  readonly mode: 'direct' | 'sealed';
}

const IMAGE_REFERENCE = new RegExp(IMAGE_REFERENCE_PATTERN);
const NAME_AT_VERSION = /^([a-z0-9]+(?:[._-][a-z0-9]+)*)@([A-Za-z0-9_][A-Za-z0-9_.-]{0,127})$/;

/**
 * Reads a job's `algorithm`: `name@version` names a catalogue entry; anything with a registry, a
 * path, a tag or a `@sha256:` digest is an image reference. Undefined when it is neither.
 *
 * @example
 * parseAlgorithmRef('thumbnails@1.0.0'); // { kind: 'catalogue', name: 'thumbnails', version: '1.0.0' }
 * parseAlgorithmRef('ghcr.io/acme/thumbs:1'); // { kind: 'image', reference: 'ghcr.io/acme/thumbs:1' }
 */
export function parseAlgorithmRef(text: string): AlgorithmRef | undefined {
  const catalogue = NAME_AT_VERSION.exec(text);
  if (catalogue && !text.includes('@sha256:')) {
    return { kind: 'catalogue', name: catalogue[1] ?? '', version: catalogue[2] ?? '' };
  }
  if (IMAGE_REFERENCE.test(text) && (text.includes('/') || text.includes(':'))) {
    return { kind: 'image', reference: text };
  }
  return undefined;
}

function folderPrefix(prefix: string): string {
  return prefix === '' || prefix.endsWith('/') ? prefix : `${prefix}/`;
}

/**
 * Applies defaults to a job that passed the schema and the job rules.
 *
 * @example
 * normalizeJob({ name: 'n', algorithm: 'a@1', input: { bucket: 'in-b' }, output: { bucket: 'out-b' } }).compute.backend; // 'local'
 * @throws {ConfigurationError} when `algorithm` is neither `name@version` nor an image reference (the job rules report this first).
 */
export function normalizeJob(raw: RawJob): Job {
  const algorithm = parseAlgorithmRef(raw.algorithm);
  if (algorithm === undefined) {
    throw new ConfigurationError(
      `algorithm "${raw.algorithm}" is neither name@version nor an image reference`,
    );
  }
  const aws = raw.aws ?? {};
  const source = aws.credentials ?? JOB_DEFAULTS.credentials;
  const roleSessionName = aws.roleSessionName ?? JOB_DEFAULTS.roleSessionName;
  const credentials: CredentialsSource =
    source === 'profile'
      ? { source, profile: aws.profile ?? '' }
      : source === 'roleArn'
        ? { source, roleArn: aws.roleArn ?? '', roleSessionName }
        : source === 'oidc'
          ? {
              source,
              roleArn: aws.roleArn ?? '',
              roleSessionName,
              audience: aws.audience ?? JOB_DEFAULTS.audience,
            }
          : { source: 'environment' };
  const compute = raw.compute ?? {};
  const subnets = [...(compute.subnets ?? [])];
  return {
    name: raw.name,
    algorithm,
    input: {
      bucket: raw.input.bucket,
      prefix: folderPrefix(raw.input.prefix ?? JOB_DEFAULTS.prefix),
      include: [...(raw.input.include ?? JOB_DEFAULTS.include)],
      create: raw.input.create ?? JOB_DEFAULTS.create,
    },
    output: { bucket: raw.output.bucket, prefix: folderPrefix(raw.output.prefix ?? JOB_DEFAULTS.prefix) },
    env: { ...raw.env },
    aws: { ...(aws.region !== undefined ? { region: aws.region } : {}), credentials },
    compute: {
      backend: compute.backend ?? JOB_DEFAULTS.backend,
      maxWorkers: compute.maxWorkers ?? JOB_DEFAULTS.maxWorkers,
      minWorkers: compute.minWorkers ?? JOB_DEFAULTS.minWorkers,
      launchType: compute.launchType ?? JOB_DEFAULTS.launchType,
      spot: compute.spot ?? JOB_DEFAULTS.spot,
      subnets,
      securityGroups: [...(compute.securityGroups ?? [])],
      assignPublicIp: compute.assignPublicIp ?? subnets.length === 0,
      idleSeconds: compute.idleSeconds ?? JOB_DEFAULTS.idleSeconds,
      ...(compute.tasksPerWorker !== undefined && { tasksPerWorker: compute.tasksPerWorker }),
      ...(compute.workerCpu !== undefined && { workerCpu: compute.workerCpu }),
      // The schema's pattern admits only what parseMemory reads.
      ...(compute.workerMemory !== undefined && { workerMemoryMiB: parseMemory(compute.workerMemory) }),
    },
    retries: raw.retries ?? JOB_DEFAULTS.retries,
    ...(raw.timeoutSeconds !== undefined ? { timeoutSeconds: raw.timeoutSeconds } : {}),
    keep: raw.keep ?? JOB_DEFAULTS.keep,
    mode: raw.mode ?? JOB_DEFAULTS.mode,
  };
}

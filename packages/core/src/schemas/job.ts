// The job (`job.json`): what a user commits or dispatches to run an algorithm over a bucket.
// `RawJob` is the file as written; `Job` is the normalised form (defaults applied, the algorithm
// reference parsed, credentials as a tagged union).
import { toSchemaJson, type JSONSchemaType } from './ajv.js';
import { ConfigurationError } from '../errors.js';
import { ENV_NAME_PATTERN, IMAGE_REFERENCE_PATTERN, MAX_TIMEOUT_SECONDS } from './manifest.js';

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
  mode: 'direct' as 'direct' | 'sealed',
} as const;

/** The name of the reserved prefix sluice keeps its ledger under, in the output bucket. */
export const RESERVED_PREFIX = '_sluice/';

const BUCKET_PATTERN = '^(?!xn--)(?!.*\\.\\.)[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$';
const BUCKET_TITLE = 'an S3 bucket name: 3-63 lower-case letters, digits, "." and "-"';
const PREFIX_PATTERN = '^(?!/)[^\\u0000]*$';
const PREFIX_TITLE = 'a key prefix such as "photos/" (no leading "/")';

const jobSchemaTyped: JSONSchemaType<RawJob> = {
  $schema: 'https://json-schema.org/draft/2020-12/schema',
  title: 'sluice job (job.json)',
  description:
    'Runs an algorithm over every file in an input bucket prefix and writes the results to an output bucket.',
  type: 'object',
  properties: {
    $schema: { type: 'string', nullable: true, description: 'Path or URL of this schema, for editors.' },
    name: {
      type: 'string',
      minLength: 1,
      maxLength: 100,
      title: 'a name starting with a letter or digit (letters, digits, " ", ".", "_", "-")',
      pattern: '^[A-Za-z0-9][A-Za-z0-9 ._-]*$',
      description: 'Job name; the run id starts with it (lower-cased, shortened).',
    },
    algorithm: {
      type: 'string',
      minLength: 1,
      maxLength: 512,
      description:
        'The algorithm: `name@version` as registered by wrap-algorithm, or an image reference (`registry/repo:tag`, `repo@sha256:...`).',
    },
    input: {
      type: 'object',
      description: 'Where the input files are.',
      properties: {
        bucket: {
          type: 'string',
          title: BUCKET_TITLE,
          pattern: BUCKET_PATTERN,
          description: 'Input bucket.',
        },
        prefix: {
          type: 'string',
          nullable: true,
          title: PREFIX_TITLE,
          pattern: PREFIX_PATTERN,
          maxLength: 900,
          default: JOB_DEFAULTS.prefix,
          description:
            'Only keys under this prefix are inputs. A `/` is added when missing, so `photos` means `photos/`.',
        },
        include: {
          type: 'array',
          nullable: true,
          minItems: 1,
          items: { type: 'string', minLength: 1, title: 'a glob such as "**/*.jpg"', pattern: '^(?!/)' },
          default: JOB_DEFAULTS.include,
          description:
            'Globs matched against the key relative to `prefix` (`*` within a segment, `**` across segments, `?`, `{a,b}`). A key is an input when any glob matches.',
        },
        create: {
          type: 'boolean',
          nullable: true,
          default: JOB_DEFAULTS.create,
          description: 'Create the input bucket when it does not exist.',
        },
      },
      required: ['bucket'],
      additionalProperties: false,
    },
    output: {
      type: 'object',
      description: 'Where results go: `<prefix><input key relative to input.prefix>/<output path>`.',
      properties: {
        bucket: {
          type: 'string',
          title: BUCKET_TITLE,
          pattern: BUCKET_PATTERN,
          description: 'Output bucket (created when missing).',
        },
        prefix: {
          type: 'string',
          nullable: true,
          title: PREFIX_TITLE,
          pattern: PREFIX_PATTERN,
          maxLength: 900,
          default: JOB_DEFAULTS.prefix,
          description:
            'Results go under this prefix. Must not start with `_sluice/` (reserved for the ledger).',
        },
      },
      required: ['bucket'],
      additionalProperties: false,
    },
    env: {
      type: 'object',
      nullable: true,
      required: [],
      propertyNames: {
        title: 'a variable name (letters, digits, "_", not starting with a digit or "SLUICE_")',
        pattern: ENV_NAME_PATTERN,
      },
      additionalProperties: {
        anyOf: [
          { type: 'string', title: 'a string (literal value, not for secrets)' },
          {
            type: 'object',
            title: '{"fromEnv": "NAME"}',
            properties: {
              fromEnv: {
                type: 'string',
                title: 'an environment variable name',
                pattern: '^[A-Za-z_][A-Za-z0-9_]*$',
                description: 'Read the value from this environment variable of whoever runs sluice.',
              },
            },
            required: ['fromEnv'],
            additionalProperties: false,
          },
          {
            type: 'object',
            title: '{"fromSecret": "name-or-arn"}',
            properties: {
              fromSecret: {
                type: 'string',
                minLength: 1,
                description: 'Read the value from this AWS Secrets Manager secret (name or ARN).',
              },
            },
            required: ['fromSecret'],
            additionalProperties: false,
          },
        ],
      },
      description:
        'Values for the variables the manifest declares: a string, `{"fromEnv": "NAME"}` or `{"fromSecret": "name-or-arn"}`. Secret variables must use `fromEnv` or `fromSecret`.',
    },
    aws: {
      type: 'object',
      nullable: true,
      description: 'The AWS region and where credentials come from. Never the credentials themselves.',
      properties: {
        region: {
          type: 'string',
          nullable: true,
          title: 'an AWS region such as "eu-west-1"',
          pattern: '^[a-z]{2}(-[a-z]+)+-[0-9]+$',
          description: 'AWS region; default: `AWS_REGION` from the environment.',
        },
        credentials: {
          type: 'string',
          nullable: true,
          enum: ['environment', 'profile', 'roleArn', 'oidc'],
          default: JOB_DEFAULTS.credentials,
          description:
            '`environment`: the SDK default chain (AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY set from secrets, or an earlier configure-aws-credentials step). `profile`: a named profile. `roleArn`: assume `roleArn` with the ambient credentials. `oidc`: assume `roleArn` with the GitHub OIDC token.',
        },
        profile: {
          type: 'string',
          nullable: true,
          minLength: 1,
          description: 'Profile name, for `credentials: "profile"`.',
        },
        roleArn: {
          type: 'string',
          nullable: true,
          title: 'an IAM role ARN such as "arn:aws:iam::123456789012:role/sluice"',
          pattern: '^arn:aws[a-zA-Z-]*:iam::[0-9]{12}:role/[A-Za-z0-9+=,.@_/-]{1,512}$',
          description: 'Role to assume, for `credentials: "roleArn"` or `"oidc"`.',
        },
        roleSessionName: {
          type: 'string',
          nullable: true,
          pattern: '^[A-Za-z0-9+=,.@_-]{2,64}$',
          default: JOB_DEFAULTS.roleSessionName,
          description: 'Session name when assuming `roleArn`.',
        },
        audience: {
          type: 'string',
          nullable: true,
          minLength: 1,
          default: JOB_DEFAULTS.audience,
          description: 'OIDC token audience, for `credentials: "oidc"`.',
        },
      },
      allOf: [
        {
          if: { properties: { credentials: { const: 'profile' } }, required: ['credentials'] },
          then: { required: ['profile'] },
        },
        {
          if: { properties: { credentials: { enum: ['roleArn', 'oidc'] } }, required: ['credentials'] },
          then: { required: ['roleArn'] },
        },
      ],
      additionalProperties: false,
    },
    compute: {
      type: 'object',
      nullable: true,
      description:
        'Where and how many workers run. The backend can be overridden by an action input or CLI flag.',
      properties: {
        backend: {
          type: 'string',
          nullable: true,
          enum: ['local', 'ecs'],
          default: JOB_DEFAULTS.backend,
          description: '`local`: the local container engine. `ecs`: AWS ECS.',
        },
        maxWorkers: {
          type: 'integer',
          nullable: true,
          minimum: 1,
          maximum: 1000,
          default: JOB_DEFAULTS.maxWorkers,
          description:
            'Most workers (containers) running at once. A port algorithm on the local backend runs one: its servers would share the host network and port.',
        },
        minWorkers: {
          type: 'integer',
          nullable: true,
          minimum: 0,
          maximum: 1000,
          default: JOB_DEFAULTS.minWorkers,
          description: 'Workers kept running even when idle (0 scales to zero).',
        },
        launchType: {
          type: 'string',
          nullable: true,
          enum: ['FARGATE', 'EC2'],
          default: JOB_DEFAULTS.launchType,
          description: 'ECS launch type (ecs backend).',
        },
        spot: {
          type: 'boolean',
          nullable: true,
          default: JOB_DEFAULTS.spot,
          description: 'Use Spot capacity (ecs backend).',
        },
        subnets: {
          type: 'array',
          nullable: true,
          uniqueItems: true,
          items: {
            type: 'string',
            title: 'a subnet id such as "subnet-0abc1234"',
            pattern: '^subnet-[0-9a-f]{8,17}$',
          },
          description: "Subnets for the workers (ecs backend); default: the default VPC's subnets.",
        },
        securityGroups: {
          type: 'array',
          nullable: true,
          uniqueItems: true,
          items: {
            type: 'string',
            title: 'a security group id such as "sg-0abc1234"',
            pattern: '^sg-[0-9a-f]{8,17}$',
          },
          description:
            'Security groups for the workers (ecs backend); default: one created for the run with egress only.',
        },
        assignPublicIp: {
          type: 'boolean',
          nullable: true,
          description:
            'Give workers a public IP (needed to reach ECR and S3 without a NAT gateway). Default: true when `subnets` is omitted (the default VPC), false otherwise.',
        },
        idleSeconds: {
          type: 'integer',
          nullable: true,
          minimum: 0,
          maximum: 3600,
          default: JOB_DEFAULTS.idleSeconds,
          description: 'A worker exits after this many seconds without a task.',
        },
      },
      additionalProperties: false,
    },
    retries: {
      type: 'integer',
      nullable: true,
      minimum: 0,
      maximum: 10,
      default: JOB_DEFAULTS.retries,
      description: 'Attempts after the first for a failing task.',
    },
    timeoutSeconds: {
      type: 'integer',
      nullable: true,
      minimum: 1,
      maximum: MAX_TIMEOUT_SECONDS,
      description: "Time limit per task in seconds; overrides the manifest's `timeoutSeconds`.",
    },
    keep: {
      type: 'boolean',
      nullable: true,
      default: JOB_DEFAULTS.keep,
      description: 'Keep the run after the inputs are done (continuous intake) until torn down.',
    },
    mode: {
      type: 'string',
      nullable: true,
      enum: ['direct', 'sealed'],
      default: JOB_DEFAULTS.mode,
      description:
        '`direct`: workers hold a role scoped to this run. `sealed` (workers get presigned URLs only and never a credential) is reserved: this version refuses it.',
    },
  },
  required: ['name', 'algorithm', 'input', 'output'],
  additionalProperties: false,
};

/**
 * The published JSON Schema of `job.json` (draft 2020-12).
 *
 * @example
 * writeFileSync('job.schema.json', JSON.stringify(jobSchema, null, 2));
 */
export const jobSchema = toSchemaJson(jobSchemaTyped);

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
    },
    retries: raw.retries ?? JOB_DEFAULTS.retries,
    ...(raw.timeoutSeconds !== undefined ? { timeoutSeconds: raw.timeoutSeconds } : {}),
    keep: raw.keep ?? JOB_DEFAULTS.keep,
    mode: raw.mode ?? JOB_DEFAULTS.mode,
  };
}

// The published JSON Schema of `job.json`: every field with its type, bounds, default and the
// description editors show. The types it checks and the normalised `Job` are in job.ts.
import { toSchemaJson, type JSONSchemaType } from './ajv.js';
import { JOB_DEFAULTS, type RawJob } from './job.js';
import { ENV_NAME_PATTERN, MAX_TIMEOUT_SECONDS } from './manifest.js';
import { MAX_MEMORY_MIB, MEMORY_EXPECTED, MEMORY_STRING_PATTERN, MIN_MEMORY_MIB } from './memory.js';
import { MAX_TASKS_PER_WORKER } from './worker-size.js';

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
          description: 'Most workers (containers) running at once.',
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
        tasksPerWorker: {
          type: 'integer',
          nullable: true,
          minimum: 1,
          maximum: MAX_TASKS_PER_WORKER,
          description:
            'Tasks one worker runs side by side, each in a runner container of its own. Default: as many as fit in `workerCpu`/`workerMemory` when given (ECS), else 1. Locally `maxWorkers` × `tasksPerWorker` runners run.',
        },
        workerCpu: {
          type: 'number',
          nullable: true,
          exclusiveMinimum: 0,
          maximum: 192,
          description:
            'vCPUs of one ECS worker, with `workerMemory` (a Fargate size on Fargate). Default: the smallest Fargate size holding `tasksPerWorker` tasks.',
        },
        workerMemory: {
          type: ['integer', 'string'],
          nullable: true,
          title: MEMORY_EXPECTED,
          minimum: MIN_MEMORY_MIB,
          maximum: MAX_MEMORY_MIB,
          pattern: MEMORY_STRING_PATTERN,
          description: 'Memory of one ECS worker, with `workerCpu`: MiB, or `"<n>MiB"` / `"<n>GiB"`.',
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
        "`sealed` (default): only the run's broker holds storage and queue access; workers get presigned URLs for their task and never a credential. `direct`: workers hold a role (or session) scoped to this run: faster, but every worker holds storage access.",
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

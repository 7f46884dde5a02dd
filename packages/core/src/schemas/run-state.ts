// The run state (`_sluice/<run-id>/run.json` in the output bucket): what provision-run made or
// reused for a run, so dispatch, collect, teardown and `sluice runs` can work from the run id alone.
// Rewritten as provisioning goes, so an interrupted provision leaves a record teardown can follow.
import { ValidationError } from '../errors.js';
import { lazyValidator, toSchemaJson, type JSONSchemaType } from './ajv.js';
import { problemsFromAjv } from './ajv-problems.js';
import type { RawJob } from './job.js';
import { jobSchema } from './job-schema.js';
import { MAX_TASKS_PER_WORKER } from './worker-size.js';

/**
 * Where a run stands: `provisioning` while provision-run is creating resources (or was interrupted
 * doing so), `provisioned` when everything exists, `tearing-down` while teardown runs (or was
 * interrupted), `torn-down` after it.
 */
export type RunPhase = (typeof RUN_PHASES)[number];

/** Every run phase, in order: the schema's enum and the type are made of it. */
const RUN_PHASES = ['provisioning', 'provisioned', 'tearing-down', 'torn-down'] as const;

/** A bucket the run uses, and whether this run created it (only those are ever deleted). */
export interface RunBucket {
  name: string;
  created: boolean;
}

/** A queue of the run. `url`/`arn` are absent until it exists; `created` when this run made it. */
export interface RunQueueState {
  name: string;
  url?: string;
  arn?: string;
  created: boolean;
}

/** `_sluice/<run-id>/run.json`. */
export interface RunState {
  schemaVersion: 1;
  runId: string;
  jobName: string;
  state: RunPhase;
  /** When the run was first provisioned (kept by later provisions). */
  createdAt: string;
  updatedAt: string;
  tornDownAt?: string;
  /**
   * The job, normalised (every default written out), with `fromEnv`/`fromSecret` as references
   * and literal values of secret-looking variables replaced by `"***"`.
   */
  job: RawJob;
  /** The job's `algorithm` as written, and the wrapped image when known. */
  algorithm: { ref: string; image?: string; digest?: string };
  backend: 'local' | 'ecs';
  keep: boolean;
  /** Normalised: prefixes end in `/` (or are empty). */
  input: { bucket: string; prefix: string; include: string[] };
  output: { bucket: string; prefix: string };
  buckets: { input: RunBucket; output: RunBucket };
  queue: RunQueueState & { visibilityTimeoutSeconds: number; maxReceiveCount: number };
  deadLetterQueue: RunQueueState;
  /** sluice's entry in the input bucket's notification configuration. */
  notification: { id: string; bucket: string; prefix: string; suffix?: string; installed: boolean };
  /** The ECS backend's resources (backend `ecs`, once provisioned). */
  ecs?: RunEcsState;
}

/** What a run on ECS starts its workers with; everything here is named after the run and tagged. */
export interface RunEcsState {
  /** The ECS cluster (shared by runs; never deleted by teardown). */
  cluster: string;
  /** The run's task definition revision (the algorithm's, with the run's roles, secrets and logs). */
  taskDefinitionArn: string;
  /** Runner containers in each worker (the task definition's; `compute.tasksPerWorker`); absent: 1. */
  tasksPerWorker?: number;
  /** The run's roles (the broker's in sealed mode only). */
  roles: { task: string; execution: string; watcher: string; broker?: string };
  subnets: string[];
  securityGroups: string[];
  assignPublicIp: boolean;
  /** The CloudWatch Logs group of the runners. */
  logGroup: string;
  /** The watcher Lambda and its schedule rule. */
  watcher: { functionName: string; ruleName: string };
  /** Sealed mode: the run's broker Lambda and its function URL (IAM auth), which the runners call. */
  broker?: { functionName: string; url: string };
}

const TIMESTAMP = {
  type: 'string',
  pattern: '^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(\\.[0-9]+)?Z$',
} as const;

const bucketSchema: JSONSchemaType<RunBucket> = {
  type: 'object',
  properties: { name: { type: 'string', minLength: 3, maxLength: 63 }, created: { type: 'boolean' } },
  required: ['name', 'created'],
  additionalProperties: false,
};

const queueProperties = {
  name: { type: 'string', minLength: 1, maxLength: 80 },
  url: { type: 'string', nullable: true, minLength: 1 },
  arn: { type: 'string', nullable: true, minLength: 1 },
  created: { type: 'boolean' },
} as const;

// The job inside is checked by the job's own schema (its `$schema` keyword belongs at a root only).
const { $schema: _jobSchemaDialect, ...jobBody } = jobSchema;
const storedJobSchema = jobBody as unknown as JSONSchemaType<RawJob>;

const runStateSchemaTyped: JSONSchemaType<RunState> = {
  $schema: 'https://json-schema.org/draft/2020-12/schema',
  title: 'sluice run state',
  description: 'What provision-run made or reused for one run: _sluice/<run-id>/run.json.',
  type: 'object',
  properties: {
    schemaVersion: { type: 'integer', const: 1 },
    runId: { type: 'string', minLength: 1, maxLength: 64, pattern: '^[a-z0-9-]+$' },
    jobName: { type: 'string', minLength: 1 },
    state: { type: 'string', enum: [...RUN_PHASES] },
    createdAt: TIMESTAMP,
    updatedAt: TIMESTAMP,
    tornDownAt: { ...TIMESTAMP, nullable: true },
    job: storedJobSchema,
    algorithm: {
      type: 'object',
      properties: {
        ref: { type: 'string', minLength: 1 },
        image: { type: 'string', nullable: true, minLength: 1 },
        digest: { type: 'string', nullable: true, pattern: '^sha256:[a-f0-9]{64}$' },
      },
      required: ['ref'],
      additionalProperties: false,
    },
    backend: { type: 'string', enum: ['local', 'ecs'] },
    keep: { type: 'boolean' },
    input: {
      type: 'object',
      properties: {
        bucket: { type: 'string', minLength: 3, maxLength: 63 },
        prefix: { type: 'string' },
        include: { type: 'array', minItems: 1, items: { type: 'string', minLength: 1 } },
      },
      required: ['bucket', 'prefix', 'include'],
      additionalProperties: false,
    },
    output: {
      type: 'object',
      properties: { bucket: { type: 'string', minLength: 3, maxLength: 63 }, prefix: { type: 'string' } },
      required: ['bucket', 'prefix'],
      additionalProperties: false,
    },
    buckets: {
      type: 'object',
      properties: { input: bucketSchema, output: bucketSchema },
      required: ['input', 'output'],
      additionalProperties: false,
    },
    queue: {
      type: 'object',
      properties: {
        ...queueProperties,
        visibilityTimeoutSeconds: { type: 'integer', minimum: 0, maximum: 43_200 },
        maxReceiveCount: { type: 'integer', minimum: 1, maximum: 1000 },
      },
      required: ['name', 'created', 'visibilityTimeoutSeconds', 'maxReceiveCount'],
      additionalProperties: false,
    },
    deadLetterQueue: {
      type: 'object',
      properties: queueProperties,
      required: ['name', 'created'],
      additionalProperties: false,
    },
    notification: {
      type: 'object',
      properties: {
        id: { type: 'string', minLength: 1 },
        bucket: { type: 'string', minLength: 3, maxLength: 63 },
        prefix: { type: 'string' },
        suffix: { type: 'string', nullable: true, minLength: 1 },
        installed: { type: 'boolean' },
      },
      required: ['id', 'bucket', 'prefix', 'installed'],
      additionalProperties: false,
    },
    ecs: {
      type: 'object',
      nullable: true,
      properties: {
        cluster: { type: 'string', minLength: 1 },
        taskDefinitionArn: { type: 'string', minLength: 1 },
        tasksPerWorker: { type: 'integer', minimum: 1, maximum: MAX_TASKS_PER_WORKER, nullable: true },
        roles: {
          type: 'object',
          properties: {
            task: { type: 'string', minLength: 1 },
            execution: { type: 'string', minLength: 1 },
            watcher: { type: 'string', minLength: 1 },
            broker: { type: 'string', minLength: 1, nullable: true },
          },
          required: ['task', 'execution', 'watcher'],
          additionalProperties: false,
        },
        subnets: { type: 'array', items: { type: 'string', minLength: 1 } },
        securityGroups: { type: 'array', items: { type: 'string', minLength: 1 } },
        assignPublicIp: { type: 'boolean' },
        logGroup: { type: 'string', minLength: 1 },
        watcher: {
          type: 'object',
          properties: {
            functionName: { type: 'string', minLength: 1 },
            ruleName: { type: 'string', minLength: 1 },
          },
          required: ['functionName', 'ruleName'],
          additionalProperties: false,
        },
        broker: {
          type: 'object',
          nullable: true,
          properties: {
            functionName: { type: 'string', minLength: 1 },
            url: { type: 'string', pattern: '^https?://' },
          },
          required: ['functionName', 'url'],
          additionalProperties: false,
        },
      },
      required: [
        'cluster',
        'taskDefinitionArn',
        'roles',
        'subnets',
        'securityGroups',
        'assignPublicIp',
        'logGroup',
        'watcher',
      ],
      additionalProperties: false,
    },
  },
  required: [
    'schemaVersion',
    'runId',
    'jobName',
    'state',
    'createdAt',
    'updatedAt',
    'job',
    'algorithm',
    'backend',
    'keep',
    'input',
    'output',
    'buckets',
    'queue',
    'deadLetterQueue',
    'notification',
  ],
  additionalProperties: false,
};

/**
 * The published JSON Schema of the run state.
 *
 * @example
 * writeFileSync('run-state.schema.json', JSON.stringify(runStateSchema, null, 2));
 */
export const runStateSchema = toSchemaJson(runStateSchemaTyped);

const runStateValidator = lazyValidator<RunState>(runStateSchema);

/**
 * Checks a parsed run state (read back from `run.json`) and returns it typed.
 *
 * @example
 * const state = validateRunState(value, 's3://out/_sluice/thumbs-3f9a0c12/run.json');
 * @throws {ValidationError} when it does not follow the run state schema.
 */
export function validateRunState(value: unknown, file: string): RunState {
  const validate = runStateValidator();
  if (validate(value)) return value;
  throw new ValidationError(problemsFromAjv(validate.errors ?? [], file, value, runStateSchema));
}

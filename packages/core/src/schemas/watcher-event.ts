// The watcher Lambda's event: the Input of the run's EventBridge schedule target, written by
// provision-run (ensureWatcher) and read once a minute by the watcher. Everything the watcher needs
// travels in it, so the function holds no state and one bundle serves every run. `sluice:
// "watcher/1"` marks the version, so a later shape can be told apart and refused clearly.
import { ConfigurationError, ValidationError } from '../errors.js';
import { RUN_ID_PATTERN } from '../ids/run-id.js';
import { lazyValidator, toSchemaJson, type JSONSchemaType } from './ajv.js';
import { problemsFromAjv } from './ajv-problems.js';
import { MAX_TASKS_PER_WORKER } from './worker-size.js';

/** The version marker of the watcher event. */
export const WATCHER_EVENT_VERSION = 'watcher/1';

/** Most workers one run may have: the job's `compute.maxWorkers` limit. */
const MAX_WORKERS = 1000;

/**
 * What the watcher passes to ECS RunTask, `count` aside (the watcher chooses it): the RunTask
 * parameters sluice uses, with the same names and shapes, so it goes to the SDK as is.
 * `startedBy` marks every task the watcher starts (it names them in the console); tasks are counted
 * by the task definition's family, the run's own (ECS allows no other ListTasks filter beside
 * `startedBy`, and the desired status must be given).
 */
export interface WatcherLaunch {
  /** The cluster's short name or ARN; tasks are counted there too. */
  cluster: string;
  /** Family, `family:revision` or ARN of the wrapped image's task definition. */
  taskDefinition: string;
  /** Up to 128 letters, digits, `-`, `/`, `_` (ECS's rule); the run id in practice. */
  startedBy: string;
  launchType?: 'FARGATE' | 'EC2';
  capacityProviderStrategy?: { capacityProvider: string; weight?: number; base?: number }[];
  platformVersion?: string;
  networkConfiguration?: {
    awsvpcConfiguration: {
      subnets: string[];
      securityGroups?: string[];
      assignPublicIp?: 'ENABLED' | 'DISABLED';
    };
  };
  overrides?: {
    containerOverrides?: {
      name: string;
      command?: string[];
      environment?: { name: string; value: string }[];
      environmentFiles?: { value: string; type: 's3' }[];
      cpu?: number;
      memory?: number;
      memoryReservation?: number;
      resourceRequirements?: { value: string; type: 'GPU' | 'InferenceAccelerator' }[];
    }[];
    cpu?: string;
    memory?: string;
    taskRoleArn?: string;
    executionRoleArn?: string;
    ephemeralStorage?: { sizeInGiB: number };
  };
  tags?: { key: string; value: string }[];
  propagateTags?: 'TASK_DEFINITION' | 'NONE';
  enableECSManagedTags?: boolean;
  group?: string;
}

/** The watcher's event, version `watcher/1`. */
export interface WatcherEvent {
  sluice: 'watcher/1';
  /** The run the watcher looks after (named in its log lines). */
  runId: string;
  /** The run's task queue: its backlog decides how many workers run. */
  queueUrl: string;
  /** Most workers at once (the job's `compute.maxWorkers`). */
  maxWorkers: number;
  /** Workers kept even with an empty queue (the job's `compute.minWorkers`; 0 scales to zero). */
  minWorkers: number;
  /** Tasks each worker runs side by side (its runner containers); absent: 1. */
  tasksPerWorker?: number;
  launch: WatcherLaunch;
}

const NAME = { type: 'string', minLength: 1, maxLength: 255 } as const;
const ARN_OR_NAME = { type: 'string', minLength: 1, maxLength: 2048 } as const;
const PAIR = {
  type: 'object',
  properties: { name: { type: 'string', minLength: 1 }, value: { type: 'string' } },
  required: ['name', 'value'],
  additionalProperties: false,
} as const;

const watcherEventSchemaTyped: JSONSchemaType<WatcherEvent> = {
  $schema: 'https://json-schema.org/draft/2020-12/schema',
  title: 'sluice watcher event (EventBridge target input)',
  type: 'object',
  properties: {
    sluice: { type: 'string', const: WATCHER_EVENT_VERSION },
    runId: {
      type: 'string',
      pattern: RUN_ID_PATTERN.source,
      title: 'a run id such as "thumbnails-3f9a0c12"',
    },
    queueUrl: { type: 'string', minLength: 1, pattern: '^https?://' },
    maxWorkers: { type: 'integer', minimum: 1, maximum: MAX_WORKERS },
    minWorkers: { type: 'integer', minimum: 0, maximum: MAX_WORKERS },
    tasksPerWorker: { type: 'integer', minimum: 1, maximum: MAX_TASKS_PER_WORKER, nullable: true },
    launch: {
      type: 'object',
      properties: {
        cluster: ARN_OR_NAME,
        taskDefinition: ARN_OR_NAME,
        startedBy: { type: 'string', pattern: '^[A-Za-z0-9/_-]{1,128}$', title: 'ECS startedBy' },
        launchType: { type: 'string', enum: ['FARGATE', 'EC2'], nullable: true },
        capacityProviderStrategy: {
          type: 'array',
          nullable: true,
          minItems: 1,
          maxItems: 20,
          items: {
            type: 'object',
            properties: {
              capacityProvider: NAME,
              weight: { type: 'integer', minimum: 0, maximum: 1000, nullable: true },
              base: { type: 'integer', minimum: 0, maximum: 100000, nullable: true },
            },
            required: ['capacityProvider'],
            additionalProperties: false,
          },
        },
        platformVersion: { type: 'string', minLength: 1, nullable: true },
        networkConfiguration: {
          type: 'object',
          nullable: true,
          properties: {
            awsvpcConfiguration: {
              type: 'object',
              properties: {
                subnets: { type: 'array', minItems: 1, maxItems: 16, items: NAME },
                securityGroups: { type: 'array', nullable: true, maxItems: 5, items: NAME },
                assignPublicIp: { type: 'string', enum: ['ENABLED', 'DISABLED'], nullable: true },
              },
              required: ['subnets'],
              additionalProperties: false,
            },
          },
          required: ['awsvpcConfiguration'],
          additionalProperties: false,
        },
        overrides: {
          type: 'object',
          nullable: true,
          properties: {
            containerOverrides: {
              type: 'array',
              nullable: true,
              items: {
                type: 'object',
                properties: {
                  name: NAME,
                  command: { type: 'array', nullable: true, items: { type: 'string' } },
                  environment: { type: 'array', nullable: true, items: PAIR },
                  environmentFiles: {
                    type: 'array',
                    nullable: true,
                    items: {
                      type: 'object',
                      properties: { value: ARN_OR_NAME, type: { type: 'string', const: 's3' } },
                      required: ['value', 'type'],
                      additionalProperties: false,
                    },
                  },
                  cpu: { type: 'integer', minimum: 0, nullable: true },
                  memory: { type: 'integer', minimum: 1, nullable: true },
                  memoryReservation: { type: 'integer', minimum: 1, nullable: true },
                  resourceRequirements: {
                    type: 'array',
                    nullable: true,
                    items: {
                      type: 'object',
                      properties: {
                        value: { type: 'string', minLength: 1 },
                        type: { type: 'string', enum: ['GPU', 'InferenceAccelerator'] },
                      },
                      required: ['value', 'type'],
                      additionalProperties: false,
                    },
                  },
                },
                required: ['name'],
                additionalProperties: false,
              },
            },
            cpu: { type: 'string', minLength: 1, nullable: true },
            memory: { type: 'string', minLength: 1, nullable: true },
            taskRoleArn: { ...ARN_OR_NAME, nullable: true },
            executionRoleArn: { ...ARN_OR_NAME, nullable: true },
            ephemeralStorage: {
              type: 'object',
              nullable: true,
              properties: { sizeInGiB: { type: 'integer', minimum: 21, maximum: 200 } },
              required: ['sizeInGiB'],
              additionalProperties: false,
            },
          },
          required: [],
          additionalProperties: false,
        },
        tags: {
          type: 'array',
          nullable: true,
          maxItems: 50,
          items: {
            type: 'object',
            properties: {
              key: { type: 'string', minLength: 1, maxLength: 128 },
              value: { type: 'string', maxLength: 256 },
            },
            required: ['key', 'value'],
            additionalProperties: false,
          },
        },
        propagateTags: { type: 'string', enum: ['TASK_DEFINITION', 'NONE'], nullable: true },
        enableECSManagedTags: { type: 'boolean', nullable: true },
        group: { type: 'string', minLength: 1, maxLength: 255, nullable: true },
      },
      // `count` is refused with every other unknown key: the watcher decides how many to start.
      required: ['cluster', 'taskDefinition', 'startedBy'],
      additionalProperties: false,
    },
  },
  required: ['sluice', 'runId', 'queueUrl', 'maxWorkers', 'minWorkers', 'launch'],
  additionalProperties: false,
};

/**
 * The JSON Schema of the watcher event (version `watcher/1`).
 *
 * @example
 * writeFileSync('watcher-event.schema.json', JSON.stringify(watcherEventSchema, null, 2));
 */
export const watcherEventSchema = toSchemaJson(watcherEventSchemaTyped);

const validator = lazyValidator<WatcherEvent>(watcherEventSchema);

/**
 * Checks a watcher event (already parsed: Lambda hands the handler the target's Input as an object).
 *
 * @example
 * const event = parseWatcherEvent(received, 'watcher event');
 * @throws {ValidationError} listing every problem (JSON path, expected, found) when it does not fit,
 *   e.g. an S3 or SQS event sent to the watcher instead of its schedule's Input.
 * @throws {ConfigurationError} when `minWorkers` is above `maxWorkers`.
 */
export function parseWatcherEvent(value: unknown, source = 'watcher event'): WatcherEvent {
  const validate = validator();
  if (!validate(value)) {
    throw new ValidationError(problemsFromAjv(validate.errors ?? [], source, value, watcherEventSchema));
  }
  if (value.minWorkers > value.maxWorkers) {
    throw new ConfigurationError(
      `${source}: $.minWorkers (${value.minWorkers}) is above $.maxWorkers (${value.maxWorkers}); ` +
        'set compute.minWorkers at most compute.maxWorkers in the job and provision again.',
    );
  }
  return value;
}

// The runner's configuration: one JSON document in the `SLUICE_RUN` environment variable, written
// by whoever launches runners (provision-run's task definition overrides, the local backend, tests).
// Everything per run travels in it; AWS credentials and endpoints do not (the SDK reads its own
// environment), and secret values do not either: `secretEnv` names variables the runner reads from
// its own environment, set by ECS `secrets` or the local engine.
import { ConfigurationError, ValidationError } from '../errors.js';
import { isWithheldVariable } from './withheld-variables.js';
import { RUN_ID_PATTERN } from '../ids/run-id.js';
import { lazyValidator, toSchemaJson, type JSONSchemaType } from './ajv.js';
import { problemsFromAjv } from './ajv-problems.js';
import { ENV_NAME_PATTERN, MAX_TIMEOUT_SECONDS } from './manifest.js';

/** The environment variable holding the runner's configuration (JSON). */
export const RUNNER_CONFIG_VARIABLE = 'SLUICE_RUN';

/** The environment variable that carries a local broker's bearer token to a sealed-mode runner. */
export const RUNNER_BROKER_TOKEN_VARIABLE = 'SLUICE_BROKER_TOKEN';

/**
 * The environment variable naming a file that holds a local broker's bearer token (read before
 * {@link RUNNER_BROKER_TOKEN_VARIABLE}): the local backend mounts it read-only and private to root,
 * so the token is in neither the container's variables nor the algorithm's reach.
 */
export const RUNNER_BROKER_TOKEN_FILE_VARIABLE = 'SLUICE_BROKER_TOKEN_FILE';

/** The environment variable naming the manifest file, and its default (baked into wrapped images). */
export const RUNNER_MANIFEST_VARIABLE = 'SLUICE_MANIFEST';
export const DEFAULT_RUNNER_MANIFEST_PATH = '/sluice/algorithm.json';

/** Defaults of the optional settings. */
export const RUNNER_CONFIG_DEFAULTS = {
  /** Heartbeat period; the visibility window is three periods, so a lost task returns in about a minute. */
  heartbeatSeconds: 20,
  /** First delay before a failed attempt is retried; doubled per attempt, at most 15 minutes. */
  retryDelaySeconds: 10,
  pathRoot: '/',
} as const;

/**
 * How long before its AWS session expires a runner stops leasing, beyond one task's time limit: the
 * lease's long poll, the input's download, the outputs' upload and the commit.
 */
export const RUNNER_CREDENTIALS_MARGIN_SECONDS = 300;

/**
 * Whether a runner whose AWS session ends at `expiresAt` may lease one more task at `now`: only when
 * the task could run its whole time limit, plus {@link RUNNER_CREDENTIALS_MARGIN_SECONDS}, first.
 * Always true without an end (a role the SDK refreshes by itself, or no AWS credential at all).
 *
 * @example
 * sessionOutlastsTask('2030-01-01T00:00:00Z', 900, Date.parse('2030-01-01T00:00:00Z') - 1_200_000); // true
 * @throws never: an unreadable date counts as no end (the schema refuses one first).
 */
export function sessionOutlastsTask(
  expiresAt: string | undefined,
  timeoutSeconds: number,
  now: number,
): boolean {
  const end = expiresAt === undefined ? Number.NaN : Date.parse(expiresAt);
  if (Number.isNaN(end)) return true;
  return end - now >= (timeoutSeconds + RUNNER_CREDENTIALS_MARGIN_SECONDS) * 1000;
}

/** `SLUICE_RUN`: what one runner needs to know about its run. */
export interface RunnerConfig {
  runId: string;
  /** The task queue to long-poll. */
  queueUrl: string;
  /** Where the runner moves a task whose last attempt failed (collect-results re-drives from it). */
  deadLetterQueueUrl: string;
  input: { bucket: string; prefix: string; include: string[] };
  output: { bucket: string; prefix: string };
  /** Attempts per task, the first included (the job's `retries` + 1). */
  maxAttempts: number;
  /** Time limit per task; default the manifest's `timeoutSeconds`. */
  timeoutSeconds?: number;
  /** Exit 0 after this long without a message (scale to zero). */
  idleSeconds: number;
  heartbeatSeconds?: number;
  retryDelaySeconds?: number;
  /** The job's non-secret values, by variable name. */
  env: Record<string, string>;
  /** Names of secret variables the runner reads from its own environment; masked in every log. */
  secretEnv: string[];
  /** `sha256:…` of the wrapped image, recorded in task records. */
  algorithmDigest?: string;
  /** Names this runner in records; default the ECS task id or the host name and process id. */
  workerId?: string;
  /** Root under which the manifest's container paths are placed (default `/`; tests use a temp dir). */
  pathRoot?: string;
  /**
   * Sealed mode: the run's broker, which this runner asks for tasks instead of reading the queue and
   * the buckets itself. `token`: the runner authenticates with the token in the file
   * `SLUICE_BROKER_TOKEN_FILE` names, else in `SLUICE_BROKER_TOKEN` (the local broker); `iam`: it signs its requests with its AWS role (a Lambda function URL with IAM auth).
   */
  broker?: { url: string; auth: 'token' | 'iam' };
  /**
   * When the AWS session the runner was given (its environment, or the shared credentials file
   * `AWS_SHARED_CREDENTIALS_FILE` names) expires (ISO 8601, UTC), for a session nothing
   * refreshes (direct mode on the local backend). The runner stops leasing when a task could not
   * finish before it ({@link sessionOutlastsTask}) and exits 0; whoever started it starts another
   * with a fresh session.
   */
  credentialsExpireAt?: string;
}

const NAME = { type: 'string', pattern: ENV_NAME_PATTERN } as const;
const SECONDS = { type: 'integer', minimum: 1, maximum: MAX_TIMEOUT_SECONDS } as const;

const runnerConfigSchemaTyped: JSONSchemaType<RunnerConfig> = {
  $schema: 'https://json-schema.org/draft/2020-12/schema',
  title: 'sluice runner configuration (SLUICE_RUN)',
  type: 'object',
  properties: {
    runId: {
      type: 'string',
      pattern: RUN_ID_PATTERN.source,
      title: 'a run id such as "thumbnails-3f9a0c12"',
    },
    queueUrl: { type: 'string', minLength: 1, pattern: '^https?://' },
    deadLetterQueueUrl: { type: 'string', minLength: 1, pattern: '^https?://' },
    input: {
      type: 'object',
      properties: {
        bucket: { type: 'string', minLength: 3, maxLength: 63 },
        prefix: { type: 'string', pattern: '^$|/$', title: 'empty or a prefix ending in "/"' },
        include: { type: 'array', minItems: 1, items: { type: 'string', minLength: 1 } },
      },
      required: ['bucket', 'prefix', 'include'],
      additionalProperties: false,
    },
    output: {
      type: 'object',
      properties: {
        bucket: { type: 'string', minLength: 3, maxLength: 63 },
        prefix: {
          type: 'string',
          pattern: '^(?!_sluice/)(?:$|.*/$)',
          title: 'empty or a prefix ending in "/"',
        },
      },
      required: ['bucket', 'prefix'],
      additionalProperties: false,
    },
    maxAttempts: { type: 'integer', minimum: 1, maximum: 100 },
    timeoutSeconds: { ...SECONDS, nullable: true },
    idleSeconds: { type: 'integer', minimum: 0, maximum: 86400 },
    heartbeatSeconds: { type: 'integer', minimum: 1, maximum: 3600, nullable: true },
    retryDelaySeconds: { type: 'integer', minimum: 0, maximum: 900, nullable: true },
    env: { type: 'object', required: [], propertyNames: NAME, additionalProperties: { type: 'string' } },
    secretEnv: { type: 'array', uniqueItems: true, items: NAME },
    algorithmDigest: { type: 'string', pattern: '^sha256:[a-f0-9]{64}$', nullable: true },
    workerId: { type: 'string', minLength: 1, maxLength: 128, nullable: true },
    pathRoot: { type: 'string', pattern: '^/', nullable: true, title: 'an absolute directory' },
    broker: {
      type: 'object',
      nullable: true,
      properties: {
        url: { type: 'string', pattern: '^https?://' },
        auth: { type: 'string', enum: ['token', 'iam'] },
      },
      required: ['url', 'auth'],
      additionalProperties: false,
    },
    credentialsExpireAt: {
      type: 'string',
      nullable: true,
      pattern: '^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(\\.[0-9]+)?Z$',
      title: 'an ISO 8601 time in UTC, e.g. "2030-01-01T12:00:00Z"',
    },
  },
  required: [
    'runId',
    'queueUrl',
    'deadLetterQueueUrl',
    'input',
    'output',
    'maxAttempts',
    'idleSeconds',
    'env',
    'secretEnv',
  ],
  additionalProperties: false,
};

/**
 * The JSON Schema of `SLUICE_RUN`.
 *
 * @example
 * writeFileSync('runner-config.schema.json', JSON.stringify(runnerConfigSchema, null, 2));
 */
export const runnerConfigSchema = toSchemaJson(runnerConfigSchemaTyped);

const validator = lazyValidator<RunnerConfig>(runnerConfigSchema);

/**
 * Parses and checks the runner's configuration (the text of `SLUICE_RUN`).
 *
 * @example
 * const config = parseRunnerConfig(process.env.SLUICE_RUN ?? '', 'SLUICE_RUN');
 * @throws {ValidationError} listing every problem (JSON path, expected, found) when it does not fit.
 * @throws {ConfigurationError} when it is not JSON, or a variable would hand the algorithm a
 *   credential or a runner setting.
 */
export function parseRunnerConfig(text: string, source = RUNNER_CONFIG_VARIABLE): RunnerConfig {
  if (text.trim() === '') {
    throw new ConfigurationError(
      `${source} is not set: the runner needs its run configuration as JSON (runId, queueUrl, input, output, ...). See docs/contracts.md, "The runner".`,
    );
  }
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (thrown) {
    throw new ConfigurationError(`${source} is not JSON: ${thrown instanceof Error ? thrown.message : ''}`, {
      cause: thrown,
    });
  }
  const validate = validator();
  if (!validate(value)) {
    throw new ValidationError(problemsFromAjv(validate.errors ?? [], source, value, runnerConfigSchema));
  }
  const withheld = [...Object.keys(value.env), ...value.secretEnv].filter(isWithheldVariable);
  if (withheld.length > 0) {
    throw new ConfigurationError(
      `${source}: ${withheld.join(', ')} cannot be passed to the algorithm: AWS credentials and SLUICE_* settings are withheld from it by design`,
    );
  }
  return value;
}

// The algorithm manifest (`algorithm.json`): what an algorithm developer commits next to a
// Dockerfile. `RawManifest` is the file as written; `Manifest` is the normalised form the rest of
// sluice uses (defaults applied, memory in MiB, image-or-build as a tagged union).
import { toSchemaJson, type JSONSchemaType } from './ajv.js';
import { MAX_MEMORY_MIB, MEMORY_EXPECTED, MEMORY_STRING_PATTERN, MIN_MEMORY_MIB } from './memory.js';

/** How the manifest's `build` section describes building the algorithm image. */
export interface RawBuild {
  context: string;
  dockerfile?: string;
  args?: Record<string, string>;
  target?: string;
}

/** One variable the algorithm reads, as declared in the manifest's `env`. */
export interface RawEnvVar {
  required?: boolean;
  default?: string;
  description?: string;
  secret?: boolean;
}

/** Which exit codes are worth retrying. */
export interface RawRetry {
  permanentExitCodes?: number[];
  retryOnTimeout?: boolean;
  retryOnOutOfMemory?: boolean;
}

/** `algorithm.json` exactly as written. */
export interface RawManifest {
  $schema?: string;
  name: string;
  version: string;
  description?: string;
  image?: string;
  build?: RawBuild;
  memory: number | string;
  cpu?: number;
  platform?: string;
  gpu?: number;
  input?: string;
  output?: string;
  env?: Record<string, RawEnvVar>;
  port?: number;
  command?: string[];
  timeoutSeconds?: number;
  retry?: RawRetry;
  allowEmptyOutput?: boolean;
  readOnlyRootFilesystem?: boolean;
}

/** Defaults applied to an algorithm manifest; the reference (docs/reference.md) lists them too. */
export const MANIFEST_DEFAULTS = {
  dockerfile: 'Dockerfile',
  platform: 'linux/amd64',
  gpu: 0,
  input: '/data/in/',
  output: '/data/out/',
  timeoutSeconds: 3600,
  permanentExitCodes: [] as number[],
  retryOnTimeout: true,
  retryOnOutOfMemory: false,
  allowEmptyOutput: false,
  readOnlyRootFilesystem: false,
} as const;

/**
 * The platforms sluice can run: the wrapped image carries a Node runtime for the runner, which
 * sluice has for linux/amd64 and linux/arm64 only (`runtimePlatform`, compute/node-runtime.ts), the
 * two CPU architectures ECS offers too (X86_64, ARM64). `linux/arm64/v8` is how arm64 images
 * usually name themselves.
 */
export const SUPPORTED_PLATFORMS = ['linux/amd64', 'linux/arm64', 'linux/arm64/v8'];

/** SQS keeps a message invisible for at most 12 hours, so no task can run longer. */
export const MAX_TIMEOUT_SECONDS = 43200;

/** Names of algorithms: lower-case words joined by `.`, `_` or `-` (they become image repository names). */
export const ALGORITHM_NAME_PATTERN = '^[a-z0-9]+(?:[._-][a-z0-9]+)*$';
/** Versions become image tags, so they follow the tag rules. */
export const ALGORITHM_VERSION_PATTERN = '^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$';
/** An OCI image reference: optional registry, repository path, optional tag and/or sha256 digest. */
export const IMAGE_REFERENCE_PATTERN =
  '^(?:[A-Za-z0-9.-]+(?::[0-9]+)?/)?[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*(?:/[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*)*(?::[A-Za-z0-9_][A-Za-z0-9_.-]{0,127})?(?:@sha256:[a-f0-9]{64})?$';
/** Variable names: shell-style, and not `SLUICE_*`, which the runner reserves for itself. */
export const ENV_NAME_PATTERN = '^(?!SLUICE_)[A-Za-z_][A-Za-z0-9_]*$';

const envVarSchema: JSONSchemaType<RawEnvVar> = {
  type: 'object',
  description: 'A variable the algorithm reads.',
  properties: {
    required: {
      type: 'boolean',
      nullable: true,
      default: false,
      description: 'The job must give a value (unless `default` is set).',
    },
    default: {
      type: 'string',
      nullable: true,
      description: 'Value used when the job gives none. Not allowed for secret variables.',
    },
    description: { type: 'string', nullable: true, description: 'What the variable does, for users.' },
    secret: {
      type: 'boolean',
      nullable: true,
      default: false,
      description:
        'The value is a secret: the job must pass it with `fromEnv` or `fromSecret`, never literally, and it is masked in logs.',
    },
  },
  additionalProperties: false,
};

const manifestSchemaTyped: JSONSchemaType<RawManifest> = {
  $schema: 'https://json-schema.org/draft/2020-12/schema',
  title: 'sluice algorithm manifest (algorithm.json)',
  description:
    'Describes an algorithm container: its image, resources, where it reads input and leaves output.',
  type: 'object',
  properties: {
    $schema: { type: 'string', nullable: true, description: 'Path or URL of this schema, for editors.' },
    name: {
      type: 'string',
      title: 'a lower-case name such as "thumbnails" (letters, digits, ".", "_", "-")',
      pattern: ALGORITHM_NAME_PATTERN,
      maxLength: 64,
      description: 'Algorithm name; jobs refer to it as `name@version`. Becomes the image repository name.',
    },
    version: {
      type: 'string',
      title: 'a version such as "1.2.0" (letters, digits, "_", ".", "-"; it becomes an image tag)',
      pattern: ALGORITHM_VERSION_PATTERN,
      description: 'Algorithm version; becomes the image tag.',
    },
    description: { type: 'string', nullable: true, description: 'One line for people.' },
    image: {
      type: 'string',
      nullable: true,
      title: 'an image reference such as "registry.example.com/team/algo:1.2" or "algo@sha256:<digest>"',
      pattern: IMAGE_REFERENCE_PATTERN,
      description: 'An existing image to wrap. Give `image` or `build`, not both.',
    },
    build: {
      type: 'object',
      nullable: true,
      description: 'Build the algorithm image from a Dockerfile. Give `image` or `build`, not both.',
      properties: {
        context: {
          type: 'string',
          minLength: 1,
          description: 'Build context directory, relative to the manifest.',
        },
        dockerfile: {
          type: 'string',
          nullable: true,
          minLength: 1,
          default: MANIFEST_DEFAULTS.dockerfile,
          description: 'Dockerfile path, relative to the context.',
        },
        args: {
          type: 'object',
          nullable: true,
          required: [],
          additionalProperties: { type: 'string' },
          description: 'Build arguments (`--build-arg`). Not for secrets: they end up in the image history.',
        },
        target: { type: 'string', nullable: true, minLength: 1, description: 'Multi-stage build target.' },
      },
      required: ['context'],
      additionalProperties: false,
    },
    memory: {
      type: ['integer', 'string'],
      title: MEMORY_EXPECTED,
      minimum: MIN_MEMORY_MIB,
      maximum: MAX_MEMORY_MIB,
      pattern: MEMORY_STRING_PATTERN,
      description:
        'Memory the algorithm needs: MiB as a whole number (`2048`), or `"<n>MiB"` / `"<n>GiB"`. `MB`, `GB`, `M`, `G` are refused as ambiguous. The runner overhead (128 MiB) is added where a limit is set.',
    },
    cpu: {
      type: 'number',
      nullable: true,
      exclusiveMinimum: 0,
      maximum: 192,
      description:
        'vCPUs the algorithm needs (e.g. 0.25, 1, 4). On Fargate the smallest task size that fits is used.',
    },
    platform: {
      type: 'string',
      nullable: true,
      enum: SUPPORTED_PLATFORMS,
      default: MANIFEST_DEFAULTS.platform,
      description:
        'OCI platform the image runs on: `linux/amd64` or `linux/arm64` (also written `linux/arm64/v8`), the ones sluice has a runner for.',
    },
    gpu: {
      type: 'integer',
      nullable: true,
      minimum: 0,
      maximum: 8,
      default: MANIFEST_DEFAULTS.gpu,
      description:
        'GPUs the algorithm needs, per runner: on ECS the EC2 launch type only (Fargate has none); locally NVIDIA GPUs through docker `--gpus` or podman CDI devices (see architecture.md, GPUs).',
    },
    input: {
      type: 'string',
      nullable: true,
      minLength: 1,
      default: MANIFEST_DEFAULTS.input,
      description:
        'Absolute container path where the input file is put. Ending in `/`: a directory, the file keeps its base name inside it. Otherwise: the exact file path.',
    },
    output: {
      type: 'string',
      nullable: true,
      minLength: 1,
      default: MANIFEST_DEFAULTS.output,
      description:
        'Absolute container path where the algorithm leaves results. Ending in `/`: a directory, everything under it is uploaded. Otherwise: that one file.',
    },
    env: {
      type: 'object',
      nullable: true,
      required: [],
      propertyNames: {
        title: 'a variable name (letters, digits, "_", not starting with a digit or "SLUICE_")',
        pattern: ENV_NAME_PATTERN,
      },
      additionalProperties: envVarSchema,
      description: 'Variables the algorithm reads, by name.',
    },
    port: {
      type: 'integer',
      nullable: true,
      minimum: 1,
      maximum: 65535,
      description:
        'Port the algorithm listens on; present means a server algorithm fed one task after another.',
    },
    command: {
      type: 'array',
      nullable: true,
      minItems: 1,
      items: { type: 'string' },
      description: "Command to run (exec form); default: the image's entrypoint and command.",
    },
    timeoutSeconds: {
      type: 'integer',
      nullable: true,
      minimum: 1,
      maximum: MAX_TIMEOUT_SECONDS,
      default: MANIFEST_DEFAULTS.timeoutSeconds,
      description: 'Default time limit for one task, in seconds (at most 12 hours, the SQS limit).',
    },
    retry: {
      type: 'object',
      nullable: true,
      description: 'Which failures are worth another attempt.',
      properties: {
        permanentExitCodes: {
          type: 'array',
          nullable: true,
          uniqueItems: true,
          items: { type: 'integer', minimum: 0, maximum: 255 },
          default: [],
          description: 'Exit codes that mean "this input will never work": the task fails without retrying.',
        },
        retryOnTimeout: {
          type: 'boolean',
          nullable: true,
          default: MANIFEST_DEFAULTS.retryOnTimeout,
          description: 'Retry a task that ran out of time.',
        },
        retryOnOutOfMemory: {
          type: 'boolean',
          nullable: true,
          default: MANIFEST_DEFAULTS.retryOnOutOfMemory,
          description: 'Retry a task killed for using too much memory (it usually fails again).',
        },
      },
      additionalProperties: false,
    },
    allowEmptyOutput: {
      type: 'boolean',
      nullable: true,
      default: MANIFEST_DEFAULTS.allowEmptyOutput,
      description: 'Succeed when the algorithm leaves no output (otherwise the task fails as `no-output`).',
    },
    readOnlyRootFilesystem: {
      type: 'boolean',
      nullable: true,
      default: MANIFEST_DEFAULTS.readOnlyRootFilesystem,
      description: 'Run with a read-only root filesystem; `input` and `output` stay writable.',
    },
  },
  required: ['name', 'version', 'memory'],
  // Image or build: editors flag a manifest with neither; "both" is refused by a cross-check with a
  // clearer message than a `not` keyword could give.
  anyOf: [{ required: ['image'] }, { required: ['build'] }],
  additionalProperties: false,
};

/**
 * The published JSON Schema of `algorithm.json` (draft 2020-12).
 *
 * @example
 * writeFileSync('algorithm.schema.json', JSON.stringify(manifestSchema, null, 2));
 */
export const manifestSchema = toSchemaJson(manifestSchemaTyped);

/** Where the algorithm reads or writes: a directory (the path ended in `/`) or one file. */
export interface ContainerPath {
  /** Absolute path without a trailing slash. */
  readonly path: string;
  readonly kind: 'file' | 'directory';
}

/** A variable declaration with its defaults applied. */
export interface EnvVarSpec {
  readonly required: boolean;
  readonly default?: string;
  readonly description: string;
  readonly secret: boolean;
}

/** Where the algorithm image comes from. */
export type AlgorithmSource =
  | { readonly kind: 'image'; readonly image: string }
  | {
      readonly kind: 'build';
      readonly context: string;
      readonly dockerfile: string;
      readonly args: Readonly<Record<string, string>>;
      readonly target?: string;
    };

/** A valid `algorithm.json`, normalised: defaults applied, memory in MiB. */
export interface Manifest {
  readonly name: string;
  readonly version: string;
  readonly description?: string;
  readonly source: AlgorithmSource;
  readonly memoryMiB: number;
  readonly cpu?: number;
  readonly platform: string;
  readonly gpu: number;
  readonly input: ContainerPath;
  readonly output: ContainerPath;
  readonly env: Readonly<Record<string, EnvVarSpec>>;
  readonly port?: number;
  readonly command?: readonly string[];
  readonly timeoutSeconds: number;
  readonly retry: {
    readonly permanentExitCodes: readonly number[];
    readonly retryOnTimeout: boolean;
    readonly retryOnOutOfMemory: boolean;
  };
  readonly allowEmptyOutput: boolean;
  readonly readOnlyRootFilesystem: boolean;
}

function containerPath(path: string): ContainerPath {
  return path.endsWith('/') && path.length > 1
    ? { path: path.replace(/\/+$/, ''), kind: 'directory' }
    : { path, kind: 'file' };
}

/**
 * Applies defaults to a manifest that passed the schema and the manifest rules; `memoryMiB` is
 * `memory` already read by `parseMemory`.
 *
 * @example
 * normalizeManifest({ name: 'x', version: '1', image: 'x:1', memory: '1GiB' }, 1024).platform; // 'linux/amd64'
 */
export function normalizeManifest(raw: RawManifest, memoryMiB: number): Manifest {
  const source: AlgorithmSource =
    raw.image !== undefined
      ? { kind: 'image', image: raw.image }
      : {
          kind: 'build',
          context: raw.build?.context ?? '.',
          dockerfile: raw.build?.dockerfile ?? MANIFEST_DEFAULTS.dockerfile,
          args: { ...raw.build?.args },
          ...(raw.build?.target !== undefined ? { target: raw.build.target } : {}),
        };
  const env: Record<string, EnvVarSpec> = {};
  for (const [name, spec] of Object.entries(raw.env ?? {})) {
    env[name] = {
      required: spec.required ?? false,
      description: spec.description ?? '',
      secret: spec.secret ?? false,
      ...(spec.default !== undefined ? { default: spec.default } : {}),
    };
  }
  return {
    name: raw.name,
    version: raw.version,
    ...(raw.description !== undefined ? { description: raw.description } : {}),
    source,
    memoryMiB,
    ...(raw.cpu !== undefined ? { cpu: raw.cpu } : {}),
    platform: raw.platform ?? MANIFEST_DEFAULTS.platform,
    gpu: raw.gpu ?? MANIFEST_DEFAULTS.gpu,
    input: containerPath(raw.input ?? MANIFEST_DEFAULTS.input),
    output: containerPath(raw.output ?? MANIFEST_DEFAULTS.output),
    env,
    ...(raw.port !== undefined ? { port: raw.port } : {}),
    ...(raw.command !== undefined ? { command: [...raw.command] } : {}),
    timeoutSeconds: raw.timeoutSeconds ?? MANIFEST_DEFAULTS.timeoutSeconds,
    retry: {
      permanentExitCodes: [...(raw.retry?.permanentExitCodes ?? MANIFEST_DEFAULTS.permanentExitCodes)],
      retryOnTimeout: raw.retry?.retryOnTimeout ?? MANIFEST_DEFAULTS.retryOnTimeout,
      retryOnOutOfMemory: raw.retry?.retryOnOutOfMemory ?? MANIFEST_DEFAULTS.retryOnOutOfMemory,
    },
    allowEmptyOutput: raw.allowEmptyOutput ?? MANIFEST_DEFAULTS.allowEmptyOutput,
    readOnlyRootFilesystem: raw.readOnlyRootFilesystem ?? MANIFEST_DEFAULTS.readOnlyRootFilesystem,
  };
}

/**
 * The runner's settings, read once at start from its environment: `SLUICE_RUN` (the run, as JSON),
 * `SLUICE_MANIFEST` (the algorithm's manifest file) and the values of the secret variables it names.
 * AWS endpoint, region and credentials are not here: the SDK reads its standard variables.
 */
import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { hostname } from 'node:os';

import {
  ConfigurationError,
  DEFAULT_RUNNER_MANIFEST_PATH,
  RUNNER_CONFIG_DEFAULTS,
  RUNNER_CONFIG_VARIABLE,
  RUNNER_MANIFEST_VARIABLE,
  parseManifest,
  parseRunnerConfig,
  toError,
  withManifestDefaults,
  type Manifest,
  type RunnerConfig,
} from '@sluice/core';
import { WRAPPED_ENV, algorithmUser, imageCommand, type AlgorithmUser } from '@sluice/core/compute';

/** Everything the runner needs, checked. */
export interface RunnerSettings {
  readonly config: RunnerConfig;
  /** The manifest, with `command` completed from the wrapped image's entrypoint and cmd when there is one. */
  readonly manifest: Manifest;
  /** Where the algorithm runs: the image's working directory inside a wrapped image. */
  readonly workingDir?: string;
  /** The job's values, the secrets read from the environment and the manifest's defaults. */
  readonly algorithmValues: Readonly<Record<string, string>>;
  /** Values to mask in every log. */
  readonly secrets: readonly string[];
  readonly workerId: string;
  /** The wrapped image's digest; without one (a host process), the sha256 of the manifest file. */
  readonly algorithmDigest: string;
  readonly timeoutSeconds: number;
  readonly heartbeatSeconds: number;
  readonly retryDelaySeconds: number;
  readonly pathRoot: string;
  /**
   * Who the algorithm runs as: set only inside a wrapped image and when the runner is root (its
   * image's non-root USER, else an unprivileged uid; see `algorithmUser`). A runner started as a
   * host process (tests, `sluice try` on the host) leaves it unset: the algorithm then runs as the
   * runner's own user, as before. Pass it to `executeTask` and `PortAlgorithm` as `runAs`.
   */
  readonly runAs?: AlgorithmUser;
}

/** Where the runner reads the image's users (the image's own /etc, inside the container). */
const IMAGE_ETC = '/etc';

/**
 * Reads and checks the settings.
 *
 * @throws {ConfigurationError} when `SLUICE_RUN` or the manifest is missing or invalid, a secret
 *   variable is not set, or a required variable has no value: the runner then exits with code 2.
 */
export async function loadSettings(
  env: Readonly<Record<string, string | undefined>>,
  host: { readonly uid?: number; readonly etc?: string } = {},
): Promise<RunnerSettings> {
  const config = parseRunnerConfig(env[RUNNER_CONFIG_VARIABLE] ?? '', RUNNER_CONFIG_VARIABLE);
  const manifestPath = env[RUNNER_MANIFEST_VARIABLE] ?? DEFAULT_RUNNER_MANIFEST_PATH;
  let text: string;
  try {
    text = await readFile(manifestPath, 'utf8');
  } catch (thrown) {
    throw new ConfigurationError(
      `cannot read the algorithm manifest ${manifestPath} (${RUNNER_MANIFEST_VARIABLE}): ${toError(thrown).message}`,
      { cause: thrown },
    );
  }
  const declared = parseManifest(text, manifestPath);
  // Inside a wrapped image, run the algorithm exactly as its image would (entrypoint, cmd, workdir).
  const originalPath = env.SLUICE_ORIGINAL_IMAGE;
  let manifest = declared;
  let workingDir: string | undefined;
  let runAs: AlgorithmUser | undefined;
  if (originalPath !== undefined && originalPath !== '') {
    const original = await readOriginalImage(originalPath);
    const resolved = imageCommand(original, declared.command);
    manifest = { ...declared, command: resolved.command };
    workingDir = resolved.workingDir;
    // Only root can switch users; a runner that is not root (an old wrapped image) runs it as itself.
    if ((host.uid ?? process.getuid?.()) === 0) {
      const etc = host.etc ?? IMAGE_ETC;
      runAs = algorithmUser(original.user, {
        ...(await optionalText(`${etc}/passwd`, 'passwd')),
        ...(await optionalText(`${etc}/group`, 'group')),
        env: original.env,
      });
    }
  }

  const secrets: string[] = [];
  const secretValues: Record<string, string> = {};
  const missing: string[] = [];
  for (const name of config.secretEnv) {
    const value = env[name];
    if (value === undefined || value === '') missing.push(name);
    else {
      secretValues[name] = value;
      secrets.push(value);
    }
  }
  if (missing.length > 0) {
    throw new ConfigurationError(
      `${RUNNER_CONFIG_VARIABLE}.secretEnv names ${missing.join(', ')}, but the runner's environment does not set ${missing.length === 1 ? 'it' : 'them'}: pass secrets to the runner container (ECS "secrets", or the local engine's environment)`,
    );
  }
  // Variables the manifest calls secret are masked even when passed among the plain values.
  for (const [name, spec] of Object.entries(manifest.env)) {
    const value = config.env[name];
    if (spec.secret && value !== undefined && value !== '') secrets.push(value);
  }
  const algorithmValues = withManifestDefaults(manifest, { ...config.env, ...secretValues });
  const unset = Object.entries(manifest.env)
    .filter(([name, spec]) => spec.required && algorithmValues[name] === undefined)
    .map(([name]) => name);
  if (unset.length > 0) {
    throw new ConfigurationError(
      `the algorithm requires ${unset.join(', ')}, which ${RUNNER_CONFIG_VARIABLE} does not give (env or secretEnv)`,
    );
  }
  if (manifest.command === undefined) {
    throw new ConfigurationError(
      `the manifest ${manifestPath} has no "command": the runner needs the program to run (wrap-algorithm records the image's entrypoint there)`,
    );
  }
  return {
    config,
    manifest,
    ...(workingDir !== undefined && { workingDir }),
    algorithmValues,
    secrets,
    workerId: config.workerId ?? (await ecsTaskId(env)) ?? `${hostname()}-${process.pid}`,
    algorithmDigest: config.algorithmDigest ?? `sha256:${createHash('sha256').update(text).digest('hex')}`,
    timeoutSeconds: config.timeoutSeconds ?? manifest.timeoutSeconds,
    heartbeatSeconds: config.heartbeatSeconds ?? RUNNER_CONFIG_DEFAULTS.heartbeatSeconds,
    retryDelaySeconds: config.retryDelaySeconds ?? RUNNER_CONFIG_DEFAULTS.retryDelaySeconds,
    pathRoot: config.pathRoot ?? RUNNER_CONFIG_DEFAULTS.pathRoot,
    ...(runAs !== undefined && { runAs }),
  };
}

/** `{ [key]: text }` of a file, or nothing when the image has no such file. */
async function optionalText<K extends string>(path: string, key: K): Promise<Partial<Record<K, string>>> {
  try {
    return { [key]: await readFile(path, 'utf8') } as Partial<Record<K, string>>;
  } catch {
    return {};
  }
}

/** Reads what the algorithm image would have run, recorded by wrap-algorithm (`SLUICE_ORIGINAL_IMAGE`). */
async function readOriginalImage(path: string): Promise<{
  entrypoint: string[] | null;
  cmd: string[] | null;
  workingDir: string;
  user: string;
  env: string[];
}> {
  let parsed: unknown;
  try {
    parsed = JSON.parse(await readFile(path, 'utf8'));
  } catch (thrown) {
    throw new ConfigurationError(
      `cannot read ${path} (${WRAPPED_ENV.SLUICE_ORIGINAL_IMAGE}): ${toError(thrown).message}; wrap the algorithm again`,
      { cause: thrown },
    );
  }
  const record = typeof parsed === 'object' && parsed !== null ? (parsed as Record<string, unknown>) : {};
  const strings = (value: unknown): string[] | null =>
    Array.isArray(value) && value.every((item) => typeof item === 'string') ? value : null;
  return {
    entrypoint: strings(record.entrypoint),
    cmd: strings(record.cmd),
    workingDir: typeof record.workingDir === 'string' ? record.workingDir : '',
    user: typeof record.user === 'string' ? record.user : '',
    env: strings(record.env) ?? [],
  };
}

/** A JSON object from ECS's task metadata endpoint (v4), or undefined when it does not answer in 2 s. */
async function ecsMetadata(endpoint: string, path: string): Promise<Record<string, unknown> | undefined> {
  try {
    const response = await fetch(`${endpoint}${path}`, { signal: AbortSignal.timeout(2000) });
    if (!response.ok) return undefined;
    const body: unknown = await response.json();
    return typeof body === 'object' && body !== null ? (body as Record<string, unknown>) : undefined;
  } catch {
    return undefined;
  }
}

/** A sibling runner container of a worker running several tasks: `algorithm-2`, `algorithm-3`, … */
const SIBLING_CONTAINER = /^algorithm-[0-9]+$/;

/**
 * For the first runner container (`algorithm`) of an ECS worker running several tasks: a look at
 * whether its sibling runner containers still run (the task metadata endpoint's `Containers`,
 * `KnownStatus` RUNNING). The first container is the task's essential one, so its exit would stop
 * them mid-task; the runner waits for them instead (Runner `siblingsBusy`). Undefined off ECS and for
 * the siblings themselves (they may exit whenever: the task goes on), and when the endpoint does not
 * answer.
 */
export async function ecsSiblingsBusy(
  env: Readonly<Record<string, string | undefined>>,
): Promise<(() => Promise<boolean>) | undefined> {
  const endpoint = env.ECS_CONTAINER_METADATA_URI_V4;
  if (endpoint === undefined || endpoint === '') return undefined;
  if ((await ecsMetadata(endpoint, ''))?.Name !== 'algorithm') return undefined;
  return async () => {
    const containers = (await ecsMetadata(endpoint, '/task'))?.Containers;
    if (!Array.isArray(containers)) return false;
    return containers.some((container: unknown) => {
      const { Name: name, KnownStatus: status } = (container ?? {}) as Record<string, unknown>;
      return typeof name === 'string' && SIBLING_CONTAINER.test(name) && status === 'RUNNING';
    });
  };
}

/**
 * On ECS, the worker id: the task's id (from the task metadata endpoint ECS gives every container), so
 * records name the task and its log stream `<run-id>/algorithm/<task id>` follows from it. A worker
 * running several tasks holds runner containers `algorithm-2`, … beside `algorithm`: theirs is
 * `<task id>/<container>` (the container's own metadata names it), so each runner of the task is told
 * apart and its stream `<run-id>/<container>/<task id>` follows too. Undefined elsewhere, or when the
 * endpoint does not answer within 2 s.
 */
export async function ecsTaskId(
  env: Readonly<Record<string, string | undefined>>,
): Promise<string | undefined> {
  const endpoint = env.ECS_CONTAINER_METADATA_URI_V4;
  if (endpoint === undefined || endpoint === '') return undefined;
  const [task, container] = await Promise.all([ecsMetadata(endpoint, '/task'), ecsMetadata(endpoint, '')]);
  const arn = task?.TaskARN;
  if (typeof arn !== 'string' || !arn.includes('/')) return undefined;
  const id = arn.slice(arn.lastIndexOf('/') + 1);
  const name = container?.Name;
  return typeof name === 'string' && SIBLING_CONTAINER.test(name) ? `${id}/${name}` : id;
}

// One interface over the two container engines sluice meets: docker (GitHub-hosted runners, most
// users' machines; with buildx when it is there) and podman (machines without a Docker daemon, such
// as the test bed). Both are driven through their CLIs with argument arrays and `{{json .}}` output:
// the CLIs are what users already have configured (contexts, credential helpers, registries.conf),
// and they are far more stable across versions than either engine's HTTP API.
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { ConfigurationError, InfrastructureError } from '../errors.js';
import { silentLogger, type Logger } from '../logging/logger.js';
import {
  CommandNotFoundError,
  ProcessCommandRunner,
  type CommandOptions,
  type CommandResult,
  type CommandRunner,
} from './command-runner.js';

/** The engines sluice can drive. */
export type ContainerEngineKind = 'docker' | 'podman';

/** The variable that picks the engine, overriding detection. */
export const CONTAINER_ENGINE_ENV = 'SLUICE_CONTAINER_ENGINE';

/** How to build an image. Paths are host paths. */
export interface BuildImageOptions {
  /** The build context directory. */
  readonly context: string;
  /** The Containerfile/Dockerfile; default `Dockerfile` in the context. Absolute or relative to the working directory. */
  readonly containerfile?: string;
  readonly buildArgs?: Readonly<Record<string, string>>;
  /** Multi-stage target. */
  readonly target?: string;
  /** OCI platform such as `linux/amd64`. */
  readonly platform?: string;
  /** At least one tag, e.g. `localhost/sluice/thumbnails:1.2.0`. */
  readonly tags: readonly string[];
  readonly labels?: Readonly<Record<string, string>>;
  /** Ignore cached layers. */
  readonly noCache?: boolean;
  /** Receives the build log as it is written. */
  readonly onLog?: (chunk: string) => void;
}

/** What `inspect` tells about a local image, the same for docker and podman. */
export interface ImageDetails {
  /** Image id (`sha256:…`, the config digest). */
  readonly id: string;
  /** `repo@sha256:…` for each registry the image was pushed to or pulled from. */
  readonly repoDigests: readonly string[];
  readonly repoTags: readonly string[];
  /** `null` when the image sets none (not the same as an empty list: see OCI image config). */
  readonly entrypoint: readonly string[] | null;
  readonly cmd: readonly string[] | null;
  /** `''` when unset (the runtime then uses `/`). */
  readonly workingDir: string;
  /** `''` when unset (root). */
  readonly user: string;
  /** `NAME=value` entries. */
  readonly env: readonly string[];
  readonly labels: Readonly<Record<string, string>>;
  readonly os: string;
  readonly architecture: string;
  readonly variant?: string;
  /** `os/architecture[/variant]`, as the manifest's `platform` is written. */
  readonly platform: string;
  /** Bytes of the image's layers uncompressed, as the engine reports them. */
  readonly sizeBytes?: number;
}

/** A resource limit (`--ulimit name=soft:hard`). */
export interface Ulimit {
  readonly name: string;
  readonly soft: number;
  readonly hard: number;
}

/** How to run a container. */
export interface RunContainerOptions {
  readonly image: string;
  readonly name?: string;
  /**
   * Variables for the container. Values are handed to the engine CLI through its own environment
   * (`--env NAME`), never on its command line, where any user of the machine could read them.
   */
  readonly env?: Readonly<Record<string, string>>;
  /** Hard memory limit in MiB; swap is disabled so the limit is a real one. */
  readonly memoryMiB?: number;
  readonly pidsLimit?: number;
  /** `none`, `host`, `bridge` or a network name. */
  readonly network?: string;
  readonly ulimits?: readonly Ulimit[];
  readonly labels?: Readonly<Record<string, string>>;
  /** Remove the container when it exits. */
  readonly remove?: boolean;
  readonly readOnlyRootFilesystem?: boolean;
  readonly user?: string;
  /** Replaces the image's entrypoint (exec form: the first item is the program). */
  readonly entrypoint?: readonly string[];
  /** Arguments after the image (the command). */
  readonly command?: readonly string[];
  /** Further engine flags, placed before the image, e.g. `['--volume', '/a:/b']`. */
  readonly extraArgs?: readonly string[];
  /** Kills an attached run after this long (exit code 137). */
  readonly timeoutMs?: number;
}

/** What `inspect` tells about a container, the same for docker and podman. */
export interface ContainerDetails {
  readonly id: string;
  readonly name: string;
  readonly image: string;
  /** `created`, `running`, `exited`, … */
  readonly status: string;
  readonly running: boolean;
  readonly exitCode: number;
  /**
   * The kernel killed it for exceeding its memory limit, as the engine saw it. docker reports it;
   * podman 4.3 with runc and cgroupfs reports `false` even then (exit code 137 is all it shows).
   */
  readonly oomKilled: boolean;
  readonly labels: Readonly<Record<string, string>>;
}

/** Registry credentials, e.g. from ECR's GetAuthorizationToken. */
export interface RegistryLogin {
  /** Host (and port) of the registry, e.g. `123456789012.dkr.ecr.eu-west-1.amazonaws.com`. */
  readonly registry: string;
  readonly username: string;
  /** Sent on standard input (`--password-stdin`), never on the command line. */
  readonly password: string;
}

/**
 * A container engine: builds, inspects, moves and runs images. {@link detectContainerEngine} picks
 * the one this machine has; {@link CliContainerEngine} is the implementation for both docker and podman.
 */
export interface ContainerEngine {
  readonly kind: ContainerEngineKind;
  /**
   * Builds an image and returns its id.
   * @throws {ImageBuildError} when the build fails (a user error: the message ends with the build log's tail).
   */
  build(options: BuildImageOptions): Promise<string>;
  /** @throws {ImageNotFoundError} when there is no such local image. */
  inspectImage(image: string): Promise<ImageDetails>;
  imageExists(image: string): Promise<boolean>;
  /** Pushes `image` (a local tag) to its registry and returns the pushed manifest's digest (`sha256:…`). */
  push(image: string): Promise<string>;
  /** @throws {ConfigurationError} when the image cannot be pulled (missing, denied, unreachable). */
  pull(image: string, options?: { readonly platform?: string }): Promise<void>;
  tag(source: string, target: string): Promise<void>;
  /** Removes local images; missing ones are ignored. */
  removeImages(images: readonly string[]): Promise<void>;
  /** Runs a container to the end and returns its exit code and output. */
  run(options: RunContainerOptions): Promise<CommandResult>;
  /** Starts a container in the background and returns its id. */
  runDetached(options: RunContainerOptions): Promise<string>;
  /** Sends SIGTERM, then SIGKILL after `timeoutSeconds` (default 10). */
  stop(container: string, options?: { readonly timeoutSeconds?: number }): Promise<void>;
  /** Removes containers (running ones too); missing ones are ignored. */
  remove(containers: readonly string[]): Promise<void>;
  /** Everything the container wrote to stdout and stderr so far. */
  logs(container: string): Promise<{ readonly stdout: string; readonly stderr: string }>;
  /** Waits for the container to exit and returns its exit code. */
  wait(container: string): Promise<number>;
  inspectContainer(container: string): Promise<ContainerDetails>;
  /** Containers (running or not) carrying the label: `key` or `key=value`. */
  listContainers(label: string): Promise<readonly ContainerDetails[]>;
  login(credentials: RegistryLogin): Promise<void>;
}

/**
 * Lists local images by label. Kept apart from {@link ContainerEngine} so existing engines and fakes
 * need not change; {@link CliContainerEngine} has it, and the local catalogue needs it.
 */
export interface ImageLister {
  /** Local images carrying the label (`key` or `key=value`), each once however many tags it has. */
  listImages(label: string): Promise<readonly ImageDetails[]>;
}

/** An engine command failed for a reason outside the user's files (daemon down, disk full, …). */
export class ContainerEngineError extends InfrastructureError {
  readonly exitCode: number;
  readonly stderr: string;

  constructor(message: string, exitCode: number, stderr: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'ContainerEngineError';
    this.exitCode = exitCode;
    this.stderr = stderr;
  }
}

/** An image build failed; `logTail` is the end of the build log, where the error is. */
export class ImageBuildError extends ConfigurationError {
  readonly logTail: string;

  constructor(message: string, logTail: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'ImageBuildError';
    this.logTail = logTail;
  }
}

/** No local image by that name. */
export class ImageNotFoundError extends ConfigurationError {
  readonly image: string;

  constructor(image: string, options?: { cause?: unknown }) {
    super(`image ${image} is not in the local image store: build or pull it first`, options);
    this.name = 'ImageNotFoundError';
    this.image = image;
  }
}

/** Lines of a failed command's output quoted in an error. */
const TAIL_LINES = 40;

/**
 * The last lines of a log, for error messages.
 *
 * @example
 * tailLines('a\nb\nc\n', 2); // 'b\nc'
 */
export function tailLines(text: string, lines: number = TAIL_LINES): string {
  const all = text.replace(/\s+$/, '').split('\n');
  return all.slice(Math.max(0, all.length - lines)).join('\n');
}

const INSTALL_HINT =
  'Install Docker (with its daemon running) or Podman, or set SLUICE_CONTAINER_ENGINE=docker|podman to choose one.';

function notInstalled(kind: ContainerEngineKind, cause: unknown): ConfigurationError {
  return new ConfigurationError(
    `the container engine ${kind} is not installed (no "${kind}" on PATH). ${INSTALL_HINT}`,
    { cause },
  );
}

// ---------------------------------------------------------------------------------------------
// Parsing `inspect --format '{{json .}}'`: docker prints one object per line, podman (4.x) a JSON
// array; the field names are Docker's in both.

type JsonObject = Record<string, unknown>;

function isObject(value: unknown): value is JsonObject {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function parseInspectOutput(stdout: string, what: string): JsonObject[] {
  const text = stdout.trim();
  if (text === '') return [];
  const values: unknown[] = [];
  try {
    values.push(JSON.parse(text));
  } catch {
    // One JSON document per line (docker with --format '{{json .}}' and several names).
    for (const line of text.split('\n')) {
      if (line.trim() === '') continue;
      try {
        values.push(JSON.parse(line));
      } catch (e: unknown) {
        throw new ContainerEngineError(`could not read ${what}: not JSON: ${line.slice(0, 200)}`, 0, '', {
          cause: e,
        });
      }
    }
  }
  const objects = values.flatMap((value) => (Array.isArray(value) ? (value as unknown[]) : [value]));
  return objects.map((value) => {
    if (!isObject(value))
      throw new ContainerEngineError(`could not read ${what}: expected a JSON object`, 0, '');
    return value;
  });
}

function stringField(object: JsonObject, ...names: string[]): string {
  for (const name of names) {
    const value = object[name];
    if (typeof value === 'string') return value;
  }
  return '';
}

function stringList(value: unknown): string[] | null {
  if (!Array.isArray(value)) return typeof value === 'string' && value !== '' ? [value] : null;
  return value.filter((item): item is string => typeof item === 'string');
}

function labelsOf(value: unknown): Record<string, string> {
  const labels: Record<string, string> = {};
  if (isObject(value)) {
    for (const [key, item] of Object.entries(value)) if (typeof item === 'string') labels[key] = item;
  }
  return labels;
}

function withSha256(id: string): string {
  return id === '' || id.startsWith('sha256:') ? id : `sha256:${id}`;
}

/**
 * Reads the output of `docker|podman image inspect --format '{{json .}}'` for one image.
 *
 * @example
 * parseImageInspect('{"Id":"sha256:ab…","Config":{"Entrypoint":["/bin/app"]},"Os":"linux","Architecture":"amd64"}').entrypoint; // ['/bin/app']
 * @throws {ContainerEngineError} when the output is not one JSON image object.
 */
export function parseImageInspect(stdout: string): ImageDetails {
  const [image] = parseInspectOutput(stdout, 'image inspect output');
  if (image === undefined) throw new ContainerEngineError('image inspect printed nothing', 0, '');
  const config = isObject(image.Config) ? image.Config : {};
  const os = stringField(image, 'Os');
  const architecture = stringField(image, 'Architecture');
  const variant = stringField(image, 'Variant');
  const size = image.Size;
  return {
    id: withSha256(stringField(image, 'Id', 'ID')),
    repoDigests: stringList(image.RepoDigests) ?? [],
    repoTags: stringList(image.RepoTags) ?? [],
    entrypoint: stringList(config.Entrypoint),
    cmd: stringList(config.Cmd),
    workingDir: stringField(config, 'WorkingDir'),
    user: stringField(config, 'User'),
    env: stringList(config.Env) ?? [],
    labels: labelsOf(config.Labels),
    os,
    architecture,
    ...(variant !== '' ? { variant } : {}),
    platform: [os, architecture, variant].filter((part) => part !== '').join('/'),
    ...(typeof size === 'number' ? { sizeBytes: size } : {}),
  };
}

/**
 * Reads the output of `docker|podman container inspect --format '{{json .}}'`.
 *
 * @example
 * parseContainerInspect('{"Id":"c0ffee","Name":"/w1","State":{"Status":"exited","ExitCode":137,"OOMKilled":true},"Config":{"Image":"x"}}')[0]?.oomKilled; // true
 * @throws {ContainerEngineError} when the output is not JSON container objects.
 */
export function parseContainerInspect(stdout: string): ContainerDetails[] {
  return parseInspectOutput(stdout, 'container inspect output').map((container) => {
    const state = isObject(container.State) ? container.State : {};
    const config = isObject(container.Config) ? container.Config : {};
    const exitCode = state.ExitCode;
    return {
      id: stringField(container, 'Id', 'ID'),
      // docker prefixes container names with "/", podman does not.
      name: stringField(container, 'Name').replace(/^\//, ''),
      image: stringField(config, 'Image') || stringField(container, 'ImageName', 'Image'),
      status: stringField(state, 'Status'),
      running: state.Running === true,
      exitCode: typeof exitCode === 'number' ? exitCode : -1,
      oomKilled: state.OOMKilled === true,
      labels: labelsOf(config.Labels),
    };
  });
}

/**
 * Finds the digest of a push in docker's output (`1.0: digest: sha256:… size: 1234`).
 *
 * @example
 * digestFromPushOutput('1: digest: sha256:' + 'a'.repeat(64) + ' size: 528'); // 'sha256:aaa…'
 */
export function digestFromPushOutput(output: string): string | undefined {
  return /digest: (sha256:[a-f0-9]{64})/.exec(output)?.[1];
}

/** The repository part of an image reference: `host:5000/team/app:1@sha256:…` → `host:5000/team/app`. */
export function repositoryOf(reference: string): string {
  const withoutDigest = reference.split('@')[0] ?? reference;
  const lastSlash = withoutDigest.lastIndexOf('/');
  const lastColon = withoutDigest.lastIndexOf(':');
  return lastColon > lastSlash ? withoutDigest.slice(0, lastColon) : withoutDigest;
}

// ---------------------------------------------------------------------------------------------

/** How to make a {@link CliContainerEngine}. */
export interface CliContainerEngineOptions {
  readonly kind: ContainerEngineKind;
  /** The CLI program; default `docker` or `podman`. */
  readonly program?: string;
  /** Added to every command's environment (e.g. `DOCKER_HOST`, `CONTAINERS_CONF`). */
  readonly env?: Readonly<Record<string, string>>;
  readonly runner?: CommandRunner;
  readonly logger?: Logger;
  /**
   * Whether `docker buildx` is there; detected on first build when not given. GitHub-hosted runners
   * have it, and only buildx builds for another platform or uses its cache backends.
   */
  readonly buildx?: boolean;
}

/**
 * The {@link ContainerEngine} over the docker or podman CLI. Their commands and `{{json .}}`
 * outputs agree on everything used here except building (buildx), the digest of a push
 * (podman writes it to a file, docker prints it) and a few flags.
 *
 * @example
 * const engine = new CliContainerEngine({ kind: 'podman' });
 * const id = await engine.build({ context: 'algo', tags: ['localhost/algo:1'] });
 * const { entrypoint } = await engine.inspectImage(id);
 */
export class CliContainerEngine implements ContainerEngine, ImageLister {
  readonly kind: ContainerEngineKind;
  private readonly program: string;
  private readonly env: Readonly<Record<string, string>>;
  private readonly runner: CommandRunner;
  private readonly logger: Logger;
  private buildx: boolean | undefined;

  constructor(options: CliContainerEngineOptions) {
    this.kind = options.kind;
    this.program = options.program ?? options.kind;
    this.env = options.env ?? {};
    this.runner = options.runner ?? new ProcessCommandRunner();
    this.logger = options.logger ?? silentLogger;
    this.buildx = options.buildx;
  }

  /** Runs the CLI; a missing program becomes a ConfigurationError saying what to install. */
  private async exec(args: readonly string[], options: CommandOptions = {}): Promise<CommandResult> {
    this.logger.debug(`${this.program} ${args.join(' ')}`);
    try {
      return await this.runner.run(this.program, args, {
        ...options,
        env: { ...this.env, ...options.env },
      });
    } catch (e: unknown) {
      if (e instanceof CommandNotFoundError) throw notInstalled(this.kind, e);
      throw e;
    }
  }

  /** Runs the CLI and fails on a non-zero exit code with the command's stderr. */
  private async check(args: readonly string[], options: CommandOptions = {}): Promise<CommandResult> {
    const result = await this.exec(args, options);
    if (result.exitCode !== 0) {
      throw new ContainerEngineError(
        `${this.program} ${args[0] ?? ''} ${args[1] ?? ''} failed (exit code ${result.exitCode}): ${tailLines(result.stderr || result.stdout, 10)}`,
        result.exitCode,
        result.stderr,
      );
    }
    return result;
  }

  private async hasBuildx(): Promise<boolean> {
    if (this.buildx === undefined) {
      this.buildx = this.kind === 'docker' && (await this.exec(['buildx', 'version'])).exitCode === 0;
    }
    return this.buildx;
  }

  /** The arguments of a build, after the build command itself. Exposed for tests. */
  buildArguments(options: BuildImageOptions, iidFile: string): string[] {
    const args: string[] = [];
    if (options.containerfile !== undefined) args.push('--file', options.containerfile);
    for (const [name, value] of Object.entries(options.buildArgs ?? {}))
      args.push('--build-arg', `${name}=${value}`);
    if (options.target !== undefined) args.push('--target', options.target);
    if (options.platform !== undefined) args.push('--platform', options.platform);
    for (const tag of options.tags) args.push('--tag', tag);
    for (const [name, value] of Object.entries(options.labels ?? {}))
      args.push('--label', `${name}=${value}`);
    if (options.noCache === true) args.push('--no-cache');
    args.push('--iidfile', iidFile, options.context);
    return args;
  }

  /** @throws {ImageBuildError} when the build fails; the message ends with the tail of the build log. */
  async build(options: BuildImageOptions): Promise<string> {
    const command =
      this.kind === 'podman'
        ? ['build', '--layers']
        : (await this.hasBuildx())
          ? // --load puts the result in the local image store, where push and run find it.
            ['buildx', 'build', '--load', '--progress', 'plain']
          : ['build'];
    const scratch = await mkdtemp(join(tmpdir(), 'sluice-build-'));
    try {
      const iidFile = join(scratch, 'iid');
      const result = await this.exec([...command, ...this.buildArguments(options, iidFile)], {
        ...(options.onLog !== undefined ? { onOutput: (chunk: string) => options.onLog?.(chunk) } : {}),
        // BuildKit's plain progress keeps the log readable when it lands in an error message.
        env: { BUILDKIT_PROGRESS: 'plain' },
      });
      if (result.exitCode !== 0) {
        const log = tailLines(`${result.stdout}\n${result.stderr}`);
        throw new ImageBuildError(
          `building ${options.tags.join(', ')} from ${options.context} failed (${this.program} exit code ${result.exitCode}). The build log ends with:\n${log}`,
          log,
        );
      }
      const id = (await readFile(iidFile, 'utf8')).trim();
      return withSha256(id);
    } finally {
      await rm(scratch, { recursive: true, force: true });
    }
  }

  async inspectImage(image: string): Promise<ImageDetails> {
    const result = await this.exec(['image', 'inspect', '--format', '{{json .}}', image]);
    if (result.exitCode !== 0) {
      if (/no such image|image not known|not found/i.test(result.stderr)) throw new ImageNotFoundError(image);
      throw new ContainerEngineError(
        `${this.program} image inspect ${image} failed: ${tailLines(result.stderr, 5)}`,
        result.exitCode,
        result.stderr,
      );
    }
    return parseImageInspect(result.stdout);
  }

  async imageExists(image: string): Promise<boolean> {
    const result = await this.exec(['image', 'inspect', '--format', '{{.Id}}', image]);
    return result.exitCode === 0;
  }

  async push(image: string): Promise<string> {
    if (this.kind === 'podman') {
      const scratch = await mkdtemp(join(tmpdir(), 'sluice-push-'));
      try {
        const digestFile = join(scratch, 'digest');
        await this.check(['push', '--quiet', '--digestfile', digestFile, image]);
        return (await readFile(digestFile, 'utf8')).trim();
      } finally {
        await rm(scratch, { recursive: true, force: true });
      }
    }
    const result = await this.check(['push', image]);
    const printed = digestFromPushOutput(result.stdout);
    if (printed !== undefined) return printed;
    // Some daemons (podman's Docker API among them) print no digest: the push recorded it.
    const repository = repositoryOf(image);
    const details = await this.inspectImage(image);
    const found = details.repoDigests.find((entry) => repositoryOf(entry) === repository);
    const digest = found?.split('@')[1];
    if (digest === undefined) {
      throw new ContainerEngineError(`pushed ${image} but the engine reported no digest`, 0, result.stdout);
    }
    return digest;
  }

  async pull(image: string, options: { readonly platform?: string } = {}): Promise<void> {
    const args = ['pull', ...(this.kind === 'podman' ? ['--quiet'] : [])];
    if (options.platform !== undefined) args.push('--platform', options.platform);
    const result = await this.exec([...args, image]);
    if (result.exitCode !== 0) {
      throw new ConfigurationError(
        `could not pull ${image}: ${tailLines(result.stderr, 5)}. Check the reference, that the registry is reachable, and that you are logged in to it.`,
      );
    }
  }

  async tag(source: string, target: string): Promise<void> {
    await this.check(['tag', source, target]);
  }

  async removeImages(images: readonly string[]): Promise<void> {
    if (images.length === 0) return;
    // One image at a time: docker rmi stops at the first missing image, podman has --ignore.
    for (const image of images) {
      const result = await this.exec(['rmi', '--force', image]);
      if (result.exitCode !== 0 && !/no such image|image not known|not found/i.test(result.stderr)) {
        throw new ContainerEngineError(
          `${this.program} rmi ${image} failed: ${tailLines(result.stderr, 5)}`,
          result.exitCode,
          result.stderr,
        );
      }
    }
  }

  /** The arguments of `run`, and the environment carrying the variables' values. Exposed for tests. */
  runArguments(
    options: RunContainerOptions,
    detach: boolean,
  ): { args: string[]; env: Record<string, string> } {
    const args = ['run'];
    if (detach) args.push('--detach');
    if (options.remove === true) args.push('--rm');
    if (options.name !== undefined) args.push('--name', options.name);
    const env: Record<string, string> = {};
    for (const [name, value] of Object.entries(options.env ?? {})) {
      args.push('--env', name);
      env[name] = value;
    }
    if (options.memoryMiB !== undefined) {
      args.push('--memory', `${options.memoryMiB}m`, '--memory-swap', `${options.memoryMiB}m`);
    }
    if (options.pidsLimit !== undefined) args.push('--pids-limit', String(options.pidsLimit));
    if (options.network !== undefined) args.push('--network', options.network);
    for (const limit of options.ulimits ?? [])
      args.push('--ulimit', `${limit.name}=${limit.soft}:${limit.hard}`);
    for (const [name, value] of Object.entries(options.labels ?? {}))
      args.push('--label', `${name}=${value}`);
    if (options.readOnlyRootFilesystem === true) args.push('--read-only');
    if (options.user !== undefined) args.push('--user', options.user);
    const [program, ...entryArgs] = options.entrypoint ?? [];
    if (program !== undefined) args.push('--entrypoint', program);
    args.push(...(options.extraArgs ?? []), options.image, ...entryArgs, ...(options.command ?? []));
    return { args, env };
  }

  async run(options: RunContainerOptions): Promise<CommandResult> {
    const { args, env } = this.runArguments(options, false);
    return this.exec(args, {
      env,
      ...(options.timeoutMs !== undefined ? { timeoutMs: options.timeoutMs } : {}),
    });
  }

  async runDetached(options: RunContainerOptions): Promise<string> {
    const { args, env } = this.runArguments(options, true);
    const result = await this.check(args, { env });
    const id = result.stdout.trim().split('\n').pop() ?? '';
    if (id === '')
      throw new ContainerEngineError(`${this.program} run printed no container id`, 0, result.stderr);
    return id;
  }

  async stop(container: string, options: { readonly timeoutSeconds?: number } = {}): Promise<void> {
    await this.check(['stop', '--time', String(options.timeoutSeconds ?? 10), container]);
  }

  async remove(containers: readonly string[]): Promise<void> {
    for (const container of containers) {
      const result = await this.exec(['rm', '--force', container]);
      if (result.exitCode !== 0 && !/no such container|no container with name or id/i.test(result.stderr)) {
        throw new ContainerEngineError(
          `${this.program} rm ${container} failed: ${tailLines(result.stderr, 5)}`,
          result.exitCode,
          result.stderr,
        );
      }
    }
  }

  async logs(container: string): Promise<{ readonly stdout: string; readonly stderr: string }> {
    const result = await this.check(['logs', container]);
    return { stdout: result.stdout, stderr: result.stderr };
  }

  async wait(container: string): Promise<number> {
    const result = await this.check(['wait', container]);
    const code = Number.parseInt(result.stdout.trim().split('\n').pop() ?? '', 10);
    if (Number.isNaN(code)) {
      throw new ContainerEngineError(
        `${this.program} wait ${container} printed no exit code`,
        0,
        result.stdout,
      );
    }
    return code;
  }

  async inspectContainer(container: string): Promise<ContainerDetails> {
    const result = await this.check(['container', 'inspect', '--format', '{{json .}}', container]);
    const [details] = parseContainerInspect(result.stdout);
    if (details === undefined) throw new ContainerEngineError(`no container ${container}`, 0, result.stderr);
    return details;
  }

  async listContainers(label: string): Promise<readonly ContainerDetails[]> {
    const ids = (
      await this.check(['ps', '--all', '--quiet', '--no-trunc', '--filter', `label=${label}`])
    ).stdout
      .split('\n')
      .map((line) => line.trim())
      .filter((line) => line !== '');
    if (ids.length === 0) return [];
    const result = await this.check(['container', 'inspect', '--format', '{{json .}}', ...ids]);
    return parseContainerInspect(result.stdout);
  }

  async listImages(label: string): Promise<readonly ImageDetails[]> {
    const ids = [
      ...new Set(
        (await this.check(['images', '--quiet', '--no-trunc', '--filter', `label=${label}`])).stdout
          .split('\n')
          .map((line) => line.trim())
          .filter((line) => line !== ''),
      ),
    ];
    const images: ImageDetails[] = [];
    // One at a time: an image removed between the listing and its inspection is skipped, not an error.
    for (const id of ids) {
      try {
        images.push(await this.inspectImage(id));
      } catch (e: unknown) {
        if (!(e instanceof ImageNotFoundError)) throw e;
      }
    }
    return images;
  }

  async login(credentials: RegistryLogin): Promise<void> {
    this.logger.setSecret(credentials.password);
    await this.check(
      ['login', '--username', credentials.username, '--password-stdin', credentials.registry],
      {
        input: credentials.password,
      },
    );
  }
}

/** How {@link detectContainerEngine} looks for an engine. */
export interface DetectContainerEngineOptions {
  /** Where `SLUICE_CONTAINER_ENGINE` is read; default `process.env`. */
  readonly environment?: Readonly<Record<string, string | undefined>>;
  /** Added to every engine command's environment. */
  readonly env?: Readonly<Record<string, string>>;
  readonly runner?: CommandRunner;
  readonly logger?: Logger;
  /** How long to wait for a Docker daemon to answer; default 15 s. */
  readonly dockerTimeoutMs?: number;
}

/**
 * Picks the container engine: `SLUICE_CONTAINER_ENGINE` (`docker` or `podman`) when set; otherwise
 * docker when a Docker daemon answers (`DOCKER_HOST` and contexts are honoured, so podman's
 * Docker-compatible socket counts); otherwise podman when it is installed.
 *
 * @example
 * const engine = await detectContainerEngine({ logger });
 * logger.info(`building with ${engine.kind}`);
 * @throws {ConfigurationError} when `SLUICE_CONTAINER_ENGINE` names another engine, or no engine is found
 *   (the message says what to install).
 */
export async function detectContainerEngine(
  options: DetectContainerEngineOptions = {},
): Promise<ContainerEngine> {
  const environment = options.environment ?? process.env;
  const runner = options.runner ?? new ProcessCommandRunner();
  const make = (kind: ContainerEngineKind): ContainerEngine =>
    new CliContainerEngine({
      kind,
      runner,
      ...(options.env !== undefined ? { env: options.env } : {}),
      ...(options.logger !== undefined ? { logger: options.logger } : {}),
    });
  const chosen = environment[CONTAINER_ENGINE_ENV]?.trim();
  if (chosen !== undefined && chosen !== '') {
    if (chosen === 'docker' || chosen === 'podman') return make(chosen);
    throw new ConfigurationError(
      `${CONTAINER_ENGINE_ENV}=${JSON.stringify(chosen)} is not an engine sluice can use: set it to "docker" or "podman", or unset it to detect one.`,
    );
  }
  let dockerProblem = 'docker is not installed';
  try {
    const docker = await runner.run('docker', ['version', '--format', '{{json .Server.Version}}'], {
      timeoutMs: options.dockerTimeoutMs ?? 15000,
      ...(options.env !== undefined ? { env: options.env } : {}),
    });
    if (docker.exitCode === 0) return make('docker');
    dockerProblem = `docker is installed but no Docker daemon answers (${tailLines(docker.stderr, 2).trim() || `exit code ${docker.exitCode}`})`;
  } catch (e: unknown) {
    if (!(e instanceof CommandNotFoundError)) throw e;
  }
  try {
    const podman = await runner.run('podman', ['--version'], {
      ...(options.env !== undefined ? { env: options.env } : {}),
    });
    if (podman.exitCode === 0) return make('podman');
  } catch (e: unknown) {
    if (!(e instanceof CommandNotFoundError)) throw e;
  }
  throw new ConfigurationError(
    `no container engine found: ${dockerProblem}, and podman is not installed. ${INSTALL_HINT}`,
  );
}

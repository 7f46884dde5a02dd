// The ContainerEngine over the docker or podman CLI, driven with argument arrays and `{{json .}}`
// output: the CLIs are what users already have configured (contexts, credential helpers,
// registries.conf), and they are far more stable across versions than either engine's HTTP API.
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { ConfigurationError } from '../errors.js';
import { silentLogger, type Logger } from '../logging/logger.js';
import {
  CommandNotFoundError,
  ProcessCommandRunner,
  type CommandOptions,
  type CommandResult,
  type CommandRunner,
} from './command-runner.js';
import type {
  BindMount,
  BuildImageOptions,
  ContainerDetails,
  ContainerEngine,
  ContainerEngineKind,
  ImageDetails,
  ImageLister,
  RegistryLogin,
  RunContainerOptions,
} from './container-engine.js';
import {
  ContainerEngineError,
  ImageBuildError,
  ImageNotFoundError,
  notInstalled,
  tailLines,
} from './container-engine-errors.js';
import {
  digestFromPushOutput,
  parseContainerInspect,
  parseImageInspect,
  repositoryOf,
  withSha256,
} from './engine-inspect.js';
import { gpuRunArguments } from './local-gpus.js';

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
    for (const host of options.addHosts ?? []) args.push(`--add-host=${host}`);
    for (const limit of options.ulimits ?? [])
      args.push('--ulimit', `${limit.name}=${limit.soft}:${limit.hard}`);
    for (const [name, value] of Object.entries(options.labels ?? {}))
      args.push('--label', `${name}=${value}`);
    for (const capability of options.capDrop ?? []) args.push(`--cap-drop=${capability}`);
    for (const capability of options.capAdd ?? []) args.push(`--cap-add=${capability}`);
    // docker and podman both take the bare form; docker also takes `no-new-privileges:true`.
    if (options.noNewPrivileges === true) args.push('--security-opt', 'no-new-privileges');
    if (options.readOnlyRootFilesystem === true) args.push('--read-only');
    // docker's tmpfs default is noexec and podman's mode differs: both are spelled out.
    for (const path of options.tmpfs ?? []) args.push('--tmpfs', `${path}:rw,exec,nosuid,nodev,mode=1777`);
    for (const path of options.scratchVolumes ?? []) args.push('--volume', path);
    for (const mount of options.readOnlyMounts ?? []) args.push('--volume', readOnlyVolume(mount));
    if (options.user !== undefined) args.push('--user', options.user);
    if (options.gpus !== undefined) args.push(...gpuRunArguments(this.kind, options.gpus));
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
      // --volumes: a runner's anonymous scratch volumes go with it (docker and podman keep them otherwise).
      const result = await this.exec(['rm', '--force', '--volumes', container]);
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

/**
 * `--volume`'s spelling of a read-only bind mount, the same for docker and podman. `z` relabels the
 * source for containers when SELinux is on (shared: several runners mount one directory) and is
 * ignored elsewhere. The short syntax splits on `:` and `,`, and a relative source names a volume.
 */
function readOnlyVolume(mount: BindMount): string {
  for (const path of [mount.source, mount.target]) {
    if (!path.startsWith('/') || /[:,]/.test(path)) {
      throw new ConfigurationError(
        `cannot mount ${path} into a container: it must be an absolute path without ':' or ','. If it is under sluice's state directory, set SLUICE_STATE_DIR to such a path.`,
      );
    }
  }
  return `${mount.source}:${mount.target}:ro,z`;
}

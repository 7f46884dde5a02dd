// Running an algorithm image by itself, one task, the way a runner inside its wrapped image runs it:
// what `sluice try` does by default. No runner goes into the container: the container *is* the
// algorithm, started with the settings the runner gives the algorithm process (its user, no
// capability, no new privileges, the runner's pids limit and network, the manifest's read-only root
// and memory), with the manifest's input and output locations bind-mounted from a host directory
// laid out like the container (`<hostRoot>/data/in` is `/data/in`), so core's TaskWorkspace places
// the input and collects the results on the host exactly as the runner does inside. See
// docs/architecture.md, "Trying an algorithm".
import { randomBytes } from 'node:crypto';
import { connect } from 'node:net';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';

import { ConfigurationError, InfrastructureError, toError } from '../errors.js';
import { silentLogger, type Logger } from '../logging/logger.js';
import type { ContainerPath, Manifest } from '../schemas/manifest.js';
import type { ContainerEngine, ImageDetails, RunContainerOptions } from './container-engine.js';
import { ContainerEngineError, tailLines } from './container-engine-errors.js';
import { LOCAL_WORKER_ULIMITS, runnerNetworkOptions } from './local-workers.js';
import { RUNNER_PIDS_LIMIT, RUNNER_TEMP_DIRECTORY } from './runner-hardening.js';
import { ALGORITHM_HOME, UNPRIVILEGED_ALGORITHM_USER, buildAlgorithmImage } from './wrapped-image.js';

/** The label every container `sluice try` starts carries (to find leftovers). */
export const TRY_CONTAINER_LABEL = 'org.sluice.try';

/** How long a stopped algorithm gets between SIGTERM and SIGKILL: the runner's grace. */
const STOP_GRACE_SECONDS = 5;

/** How long a port algorithm's server may take to accept connections: the runner's default. */
const SERVER_START_TIMEOUT_MS = 60_000;

/**
 * The local image to try a manifest's algorithm in: the manifest's `build` built now (the layer
 * cache makes an unchanged build quick; the tag is the one `sluice wrap` gives it), or its `image`,
 * which must already be in the local image store: `sluice try` never pulls, so what it tries is
 * exactly what is on this machine.
 *
 * @example
 * const image = await localAlgorithmImage(engine, manifest, 'algorithm.json');
 * @throws {ConfigurationError} when the image is not in the local store (the message says how to
 *   get it there); {@link ImageBuildError} when the build fails.
 */
export async function localAlgorithmImage(
  engine: ContainerEngine,
  manifest: Pick<Manifest, 'name' | 'version' | 'source' | 'platform'>,
  manifestPath: string,
  logger: Logger = silentLogger,
): Promise<string> {
  const source = manifest.source;
  if (source.kind === 'image') {
    if (!(await engine.imageExists(source.image))) {
      throw new ConfigurationError(
        `image ${source.image} is not in the local image store of ${engine.kind}, and sluice try does not pull (it tries what is on this machine). ` +
          `Get it there first: \`${engine.kind} pull ${source.image}\` where its registry is reachable, \`${engine.kind} load -i image.tar\` from a saved copy, ` +
          `or \`${engine.kind} build -t ${source.image} .\` from its Containerfile; or run it as a process with --host.`,
      );
    }
    return source.image;
  }
  return buildAlgorithmImage(engine, manifest, source, manifestPath, logger);
}

/**
 * Checks an image against the manifest's platform (as wrap does), and tells when this machine's
 * processor is another one: the engine then runs the image only under emulation (Docker Desktop's,
 * or binfmt with qemu on Linux), slowly, and without it the container fails with "exec format
 * error". The machine's operating system does not count: docker on macOS and Windows runs Linux
 * images in a VM of the same processor.
 *
 * @example
 * const warning = checkImagePlatform(details, manifest, hostPlatform());
 * if (warning !== undefined) logger.warning(warning);
 * @throws {ConfigurationError} when the image is not for the manifest's platform.
 */
export function checkImagePlatform(
  image: Pick<ImageDetails, 'os' | 'architecture' | 'platform'>,
  manifest: Pick<Manifest, 'platform'>,
  hostPlatform: string,
  reference = 'the algorithm image',
): string | undefined {
  const [os = '', arch = ''] = manifest.platform.split('/');
  if (image.os !== os || image.architecture !== arch) {
    throw new ConfigurationError(
      `${reference} is for ${image.platform}, but algorithm.json says "platform": "${manifest.platform}". ` +
        'Set "platform" to the image\'s platform, or build the image for the manifest\'s.',
    );
  }
  const hostArch = hostPlatform.split('/')[1] ?? '';
  if (image.architecture === hostArch) return undefined;
  return (
    `${reference} is for ${image.platform} and this machine's processor is ${hostArch}: the engine can run it only under emulation ` +
    '(slow; without it the container fails with "exec format error"). Try it on a machine of its platform for real timings.'
  );
}

/**
 * The user the algorithm container runs as, by the runner's rule (`algorithmUser`): the image's own
 * USER when it is not root — left to the engine, which resolves names, groups and HOME through the
 * image's /etc/passwd and /etc/group as the runner does — else {@link UNPRIVILEGED_ALGORITHM_USER}
 * with HOME {@link ALGORITHM_HOME}.
 *
 * @example
 * algorithmContainerUser('');      // { user: '65532:65532', home: '/tmp/sluice-home' }
 * algorithmContainerUser('app');   // {}
 * @throws never.
 */
export function algorithmContainerUser(imageUser: string): { user?: string; home?: string } {
  const name = imageUser.split(':')[0] ?? '';
  if (name !== '' && name !== 'root' && !/^0+$/.test(name)) return {};
  const { uid, gid } = UNPRIVILEGED_ALGORITHM_USER;
  return { user: `${uid}:${gid}`, home: ALGORITHM_HOME };
}

/** The directory a location needs: itself for a directory, its parent for a file. */
function directoryOf(location: ContainerPath): string {
  return location.kind === 'directory'
    ? location.path
    : location.path.slice(0, location.path.lastIndexOf('/'));
}

/**
 * The container directories bind-mounted for the input and the output: the directory of each
 * location, a directory inside another one left to the outer mount.
 *
 * @example
 * algorithmMountDirectories({ input: { kind: 'directory', path: '/data/in' }, output: { kind: 'directory', path: '/data/in/out' } });
 * // ['/data/in']
 * @throws {ConfigurationError} when a location lies directly in `/` (nothing can be mounted there).
 */
export function algorithmMountDirectories(manifest: Pick<Manifest, 'input' | 'output'>): string[] {
  const dirs = new Set<string>();
  for (const location of [manifest.input, manifest.output]) {
    const dir = directoryOf(location);
    if (dir === '' || dir === '/') {
      throw new ConfigurationError(
        `algorithm.json: ${location.path} lies directly in /, where sluice try cannot mount it into the image. Move it into a directory such as /data/, or try it as a process with --host.`,
      );
    }
    dirs.add(dir);
  }
  return [...dirs].filter((dir) => ![...dirs].some((other) => other !== dir && dir.startsWith(`${other}/`)));
}

/** What to run and where the task's files are on this machine. */
export interface AlgorithmContainerSpec {
  readonly manifest: Pick<Manifest, 'input' | 'output' | 'memoryMiB' | 'readOnlyRootFilesystem' | 'port'>;
  readonly image: string;
  readonly details: Pick<ImageDetails, 'user'>;
  readonly engine: ContainerEngine['kind'];
  /** The host directory laid out like the container: `<hostRoot>/data/in` is mounted at `/data/in`. */
  readonly hostRoot: string;
  /** The complete command (entrypoint and arguments), placeholders resolved. */
  readonly command: readonly string[];
  /** The algorithm's variables (the job's values with the manifest's defaults). */
  readonly env: Readonly<Record<string, string>>;
}

/**
 * The engine options of an algorithm container, as the runner runs the algorithm: its user
 * ({@link algorithmContainerUser}), every capability dropped and none added, no new privileges, the
 * runner's pids limit and ulimits, the manifest's memory (the algorithm's own need; the runner's
 * overhead is not needed here) and read-only root, a writable /tmp (and HOME under it), the input
 * and output directories bind-mounted from `hostRoot`, and the runner's network (its own, reaching
 * the host's loopback) — except for a port algorithm, whose server shares this machine's network so
 * that it is reached on `127.0.0.1:<port>`, as the runner reaches it inside its container.
 *
 * @example
 * await engine.runDetached(algorithmContainerOptions({ manifest, image, details, engine: engine.kind, hostRoot, command, env }));
 * @throws {ConfigurationError} when a location lies directly in `/`, or a path holds `:` or `,`.
 */
export function algorithmContainerOptions(spec: AlgorithmContainerSpec): RunContainerOptions {
  const { user, home } = algorithmContainerUser(spec.details.user);
  const volumes: string[] = [];
  for (const dir of algorithmMountDirectories(spec.manifest)) {
    const source = join(spec.hostRoot, dir);
    for (const path of [source, dir]) {
      if (/[:,]/.test(path)) {
        throw new ConfigurationError(
          `cannot mount ${path} into a container: it must not hold ':' or ','. Set TMPDIR to a path without them.`,
        );
      }
    }
    // `z` relabels the source where SELinux is on, and does nothing elsewhere.
    volumes.push('--volume', `${source}:${dir}:z`);
  }
  const [program, ...args] = spec.command;
  if (program === undefined) throw new ConfigurationError('the algorithm has no command to run');
  // A port algorithm's server is reached on 127.0.0.1:<port>, as inside the runner's container.
  const network: Pick<RunContainerOptions, 'network' | 'addHosts'> =
    spec.manifest.port !== undefined ? { network: 'host' } : runnerNetworkOptions(spec.engine, {});
  return {
    image: spec.image,
    name: `sluice-try-${randomBytes(6).toString('hex')}`,
    labels: { [TRY_CONTAINER_LABEL]: 'true' },
    env: { ...spec.env, ...(home !== undefined && { HOME: home }) },
    ...(user !== undefined && { user }),
    memoryMiB: spec.manifest.memoryMiB,
    pidsLimit: RUNNER_PIDS_LIMIT,
    ulimits: LOCAL_WORKER_ULIMITS,
    ...(network.network !== undefined && { network: network.network }),
    ...(network.addHosts !== undefined && { addHosts: network.addHosts }),
    capDrop: ['ALL'],
    noNewPrivileges: true,
    readOnlyRootFilesystem: spec.manifest.readOnlyRootFilesystem,
    tmpfs: [
      RUNNER_TEMP_DIRECTORY,
      ...(home !== undefined && home.startsWith(`${RUNNER_TEMP_DIRECTORY}/`) ? [home] : []),
    ],
    extraArgs: volumes,
    // The whole command as the entrypoint: the image's CMD is then not appended (docker and podman).
    entrypoint: [program, ...args],
  };
}

/**
 * How an algorithm container ended, in the terms of core's `AttemptEvidence` (`kind: 'process'`),
 * with what it printed.
 */
export interface AlgorithmContainerOutcome {
  /** The engine's exit code (128 + n when a signal ended it). */
  readonly exitCode: number | null;
  readonly signal: null;
  readonly timedOut: boolean;
  /** The engine saw the kernel kill it for memory, or it died of a SIGKILL nobody here sent (the runner's rule). */
  readonly outOfMemory: boolean;
  /** Set when the container could not be started (the program is missing, a mount failed, …). */
  readonly startError?: string;
  readonly stdout: string;
  readonly stderr: string;
  readonly durationMs: number;
}

/**
 * Runs the algorithm container to its end under a time limit: past it, the container is stopped
 * (SIGTERM, SIGKILL after the runner's grace) and the outcome says `timedOut`. The container is
 * removed afterwards, whatever happened.
 *
 * @example
 * const outcome = await runAlgorithmContainer(engine, options, 60_000);
 * classifyAttempt({ kind: 'process', ...outcome }, manifest);
 * @throws {ContainerEngineError} when the engine fails after the container started.
 */
export async function runAlgorithmContainer(
  engine: ContainerEngine,
  options: RunContainerOptions,
  timeoutMs: number,
  onNote: (message: string) => void = () => undefined,
): Promise<AlgorithmContainerOutcome> {
  const started = Date.now();
  const name = options.name ?? `sluice-try-${randomBytes(6).toString('hex')}`;
  let id: string;
  try {
    id = await engine.runDetached({ ...options, name });
  } catch (thrown) {
    await engine.remove([name]).catch(() => undefined);
    if (!(thrown instanceof ContainerEngineError)) throw thrown;
    const startError = `could not start the algorithm container: ${tailLines(thrown.stderr || thrown.message, 5)}`;
    onNote(startError);
    return {
      exitCode: null,
      signal: null,
      timedOut: false,
      outOfMemory: false,
      startError,
      stdout: '',
      stderr: '',
      durationMs: Date.now() - started,
    };
  }
  try {
    const exited = engine.wait(id);
    let timer: NodeJS.Timeout | undefined;
    const limit = new Promise<'timeout'>((resolveLimit) => {
      timer = setTimeout(() => {
        resolveLimit('timeout');
      }, timeoutMs);
    });
    const first = await Promise.race([exited, limit]);
    clearTimeout(timer);
    const timedOut = first === 'timeout';
    if (timedOut) {
      onNote(`time limit of ${Math.round(timeoutMs / 1000)} s reached: stopping the algorithm`);
      await engine.stop(id, { timeoutSeconds: STOP_GRACE_SECONDS });
    }
    const exitCode = await exited;
    const durationMs = Date.now() - started;
    const details = await engine.inspectContainer(id);
    const outOfMemory = details.oomKilled || (exitCode === 137 && !timedOut);
    if (outOfMemory) onNote('the algorithm was killed for using too much memory');
    const { stdout, stderr } = await engine.logs(id);
    return { exitCode, signal: null, timedOut, outOfMemory, stdout, stderr, durationMs };
  } finally {
    await engine.remove([id]);
  }
}

/** A port algorithm's request and answer, as `PortAlgorithm` sends and reads them (docs/contracts.md). */
export interface ServerTaskOutcome {
  readonly status?: number;
  readonly timedOut: boolean;
  readonly serverDied: boolean;
  readonly outOfMemory: boolean;
  readonly message?: string;
}

/**
 * A port algorithm's server in its own container on this machine's network, fed one task over the
 * runner's protocol: `POST http://127.0.0.1:<port>/` with `{taskId, input, output}` (container
 * paths); any 2xx is success; an optional JSON `{"message": …}` is kept.
 *
 * @example
 * const server = await AlgorithmServerContainer.start(engine, options, manifest.port);
 * const outcome = await server.runTask({ taskId: 'try', input, output }, 60_000);
 * const { stdout, stderr } = await server.stop();
 */
export class AlgorithmServerContainer {
  private exitCode: number | undefined;

  private constructor(
    private readonly engine: ContainerEngine,
    private readonly id: string,
    private readonly port: number,
    private readonly exited: Promise<number>,
  ) {
    void exited.then(
      (code) => {
        this.exitCode = code;
      },
      () => undefined,
    );
  }

  /**
   * Starts the server and waits until its port accepts connections.
   *
   * @throws {InfrastructureError} when it exits, or does not accept connections within 60 s (the
   *   message ends with what it printed); {@link ContainerEngineError} when it cannot be started.
   */
  static async start(
    engine: ContainerEngine,
    options: RunContainerOptions,
    port: number,
    startTimeoutMs = SERVER_START_TIMEOUT_MS,
  ): Promise<AlgorithmServerContainer> {
    const id = await engine.runDetached(options).catch(async (thrown: unknown) => {
      // A container that was created but could not start stays behind unless removed by its name.
      if (options.name !== undefined) await engine.remove([options.name]).catch(() => undefined);
      throw thrown;
    });
    const server = new AlgorithmServerContainer(engine, id, port, engine.wait(id));
    const deadline = Date.now() + startTimeoutMs;
    let wait = 20;
    while (Date.now() < deadline) {
      if (server.exitCode !== undefined) {
        const printed = await server.stop();
        throw new InfrastructureError(
          `the port algorithm exited before accepting connections on port ${port} (exit ${server.exitCode}). It printed:\n${tailLines(`${printed.stdout}\n${printed.stderr}`, 20)}`,
        );
      }
      if (await portAcceptsConnections(port)) return server;
      await sleep(wait);
      wait = Math.min(wait * 2, 500);
    }
    const printed = await server.stop();
    throw new InfrastructureError(
      `the port algorithm did not accept connections on port ${port} within ${Math.round(startTimeoutMs / 1000)} s. It printed:\n${tailLines(`${printed.stdout}\n${printed.stderr}`, 20)}`,
    );
  }

  /**
   * Sends one task and waits for the answer, the server's end, or the time limit.
   *
   * @throws never: a failure is in the outcome.
   */
  async runTask(
    request: { readonly taskId: string; readonly input: string; readonly output: string },
    timeoutMs: number,
  ): Promise<ServerTaskOutcome> {
    const controller = new AbortController();
    const timer = setTimeout(() => {
      controller.abort();
    }, timeoutMs);
    const died = this.exited.then(
      () => 'died' as const,
      () => 'died' as const,
    );
    try {
      const answer = await Promise.race([
        fetch(`http://127.0.0.1:${this.port}/`, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify(request),
          signal: controller.signal,
        }).then(async (response) => ({ status: response.status, body: await response.text() })),
        died,
      ]);
      if (answer === 'died') return await this.deathOutcome();
      const message = messageFrom(answer.body);
      return {
        status: answer.status,
        timedOut: false,
        serverDied: false,
        outOfMemory: false,
        ...(message !== undefined && { message }),
      };
    } catch (thrown) {
      // A dropped connection usually means the server is dying: give its exit a moment to land.
      await Promise.race([died, sleep(1_000)]);
      if (this.exitCode !== undefined) return await this.deathOutcome();
      if (controller.signal.aborted) return { timedOut: true, serverDied: false, outOfMemory: false };
      return {
        timedOut: false,
        serverDied: false,
        outOfMemory: false,
        message: `the request to the algorithm failed: ${toError(thrown).message}`,
      };
    } finally {
      clearTimeout(timer);
    }
  }

  /** Stops the server (SIGTERM, SIGKILL after the runner's grace), removes it and returns what it printed. */
  async stop(): Promise<{ stdout: string; stderr: string }> {
    try {
      if (this.exitCode === undefined)
        await this.engine.stop(this.id, { timeoutSeconds: STOP_GRACE_SECONDS });
      return await this.engine.logs(this.id);
    } finally {
      await this.engine.remove([this.id]);
    }
  }

  private async deathOutcome(): Promise<ServerTaskOutcome> {
    const details = await this.engine.inspectContainer(this.id).catch(() => undefined);
    return {
      timedOut: false,
      serverDied: true,
      outOfMemory: details?.oomKilled === true || this.exitCode === 137,
    };
  }
}

async function portAcceptsConnections(port: number): Promise<boolean> {
  return new Promise((resolveConnect) => {
    const socket = connect({ host: '127.0.0.1', port });
    socket.once('connect', () => {
      socket.destroy();
      resolveConnect(true);
    });
    socket.once('error', () => {
      socket.destroy();
      resolveConnect(false);
    });
  });
}

/** The `message` of a JSON answer, or the answer's text (cut), as `PortAlgorithm` reads it. */
function messageFrom(body: string): string | undefined {
  if (body.trim() === '') return undefined;
  try {
    const parsed: unknown = JSON.parse(body);
    if (
      typeof parsed === 'object' &&
      parsed !== null &&
      'message' in parsed &&
      typeof parsed.message === 'string'
    ) {
      return parsed.message;
    }
  } catch {
    // not JSON: keep the text itself
  }
  return body.slice(0, 500);
}

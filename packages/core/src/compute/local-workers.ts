// The local backend's workers: N runner containers of a run's wrapped image, started with the local
// container engine (docker, or podman where there is no Docker daemon), each on a network of its own
// (never the host's), yet able to reach an endpoint on the host's loopback (the moto server, a
// broker) through the engine's alias for the host: RUNNER_NETWORKS below. Every container
// carries the label `org.sluice.run=<run-id>`: that is how they are counted, watched and removed,
// from any process (the dispatch-tasks, collect-results and teardown actions are separate ones).
import { constants } from 'node:os';

import { ConfigurationError, InfrastructureError, toError } from '../errors.js';
import { silentLogger, type Logger } from '../logging/logger.js';
import type { Manifest } from '../schemas/manifest.js';
import { RUNNER_CONFIG_VARIABLE, type RunnerConfig } from '../schemas/runner-config.js';
import type {
  ContainerDetails,
  ContainerEngine,
  ContainerEngineKind,
  RunContainerOptions,
  Ulimit,
} from './container-engine.js';
import { tailLines } from './container-engine-errors.js';
import { gpuRequestFor, gpuWorkerLimit, type LocalGpus } from './local-gpus.js';
import { hardenedRunOptions } from './runner-hardening.js';
import { localMemoryLimitMiB } from './wrapped-image.js';

/** The label naming a runner container's run. */
export const LOCAL_RUN_LABEL = 'org.sluice.run';
/** The label numbering a runner container within its run (1, 2, …). */
export const LOCAL_WORKER_LABEL = 'org.sluice.worker';

/**
 * Per-container resource limits. Any `--ulimit` replaces the engine's configured defaults (podman),
 * so `nofile` and `nproc` are always given together; these are the test bed's defaults, enough for
 * one runner and its algorithm.
 */
export const LOCAL_WORKER_ULIMITS: readonly Ulimit[] = [
  { name: 'nofile', soft: 1024, hard: 1024 },
  { name: 'nproc', soft: 4096, hard: 4096 },
];

/**
 * Where a runner container finds its credentials: a host directory of the run's private state,
 * mounted read-only, owned by root and private to it (0700, files 0400), so the algorithm, under
 * another uid, cannot read it. They are kept out of the container's variables, which
 * `docker inspect`/`podman inspect` show to whoever may inspect it and which child processes and
 * crash dumps carry.
 */
export const RUNNER_CREDENTIALS_DIRECTORY = '/run/sluice/credentials';

/**
 * The files of {@link RUNNER_CREDENTIALS_DIRECTORY}: the run's broker token (sealed mode; its path is
 * `SLUICE_BROKER_TOKEN_FILE`) and an AWS shared credentials file with the run's session in its
 * `[default]` profile (direct mode; its path is `AWS_SHARED_CREDENTIALS_FILE`, which the SDK's
 * default credential chain reads).
 */
export const RUNNER_CREDENTIAL_FILES = {
  brokerToken: 'broker-token',
  awsCredentials: 'aws-credentials',
} as const;

/** The runner's exit code for a configuration error (a restart would fail the same way). */
const RUNNER_CONFIGURATION_EXIT = 2;
/**
 * Runner deaths in a row, with the run not advancing in between, that {@link LocalWorkers} takes
 * for a crash loop (at least two per runner): then it stops restarting them. Deaths while the run
 * advances are not counted, however many: a runner killed from outside is replaced.
 */
const DEFAULT_CRASH_LOOP_DEATHS = 10;

/** What a run's runner containers are made of. */
export interface LocalWorkerSpec {
  readonly runId: string;
  /** The wrapped image: a local image id (`sha256:…`) or reference. */
  readonly image: string;
  /**
   * The algorithm's manifest: its memory sets the container limit; its input, output and
   * `readOnlyRootFilesystem` where the hardened container may write ({@link hardenedRunOptions}); its
   * `gpu` (default 0) how many of `gpus` each runner gets.
   */
  readonly manifest: Pick<Manifest, 'memoryMiB' | 'input' | 'output' | 'readOnlyRootFilesystem'> &
    Partial<Pick<Manifest, 'gpu'>>;
  /**
   * The GPUs the engine has (`detectLocalGpus`), needed when the manifest's `gpu` is above 0:
   * each runner gets `gpu` devices of its own, and there are no more runners than the devices allow.
   */
  readonly gpus?: LocalGpus;
  /** `SLUICE_RUN`; `workerId` is set per container. */
  readonly config: RunnerConfig;
  /**
   * Further container variables: AWS settings (`AWS_ENDPOINT_URL`, `AWS_REGION`, the paths of the
   * credential files) and the values of `config.secretEnv`. Handed to the engine through its environment, never its command
   * line, and never logged.
   */
  readonly env: Readonly<Record<string, string>>;
  /**
   * A host directory (absolute, private: 0700, its files 0400) mounted read-only at
   * {@link RUNNER_CREDENTIALS_DIRECTORY}: the runner's credential files, named in `env` by path.
   */
  readonly credentials?: string;
  /** Containers to keep running while work remains (the job's `compute.maxWorkers`). */
  readonly workers: number;
  /** Containers kept even without work (the job's `compute.minWorkers`; default 0). */
  readonly minWorkers?: number;
  /** Default {@link LOCAL_WORKER_ULIMITS}. */
  readonly ulimits?: readonly Ulimit[];
  /** Default: the engine's {@link RUNNER_NETWORKS} entry (never the host's network). */
  readonly network?: string;
}

/**
 * How a runner container gets a network of its own and still reaches a server on the host's
 * loopback (the moto server in tests, a broker), per engine:
 *
 * | engine | network                                 | the host's loopback is | the listener                 |
 * | ------ | --------------------------------------- | ---------------------- | ---------------------------- |
 * | podman | `slirp4netns:allow_host_loopback=true`  | `10.0.2.2`             | may stay on 127.0.0.1        |
 * | docker | `bridge` + `--add-host host.docker.internal:host-gateway` | `host.docker.internal` | must listen on the bridge's gateway (e.g. 0.0.0.0 or 172.17.0.1), not only 127.0.0.1 |
 *
 * podman 4.3 (rootful, this test bed): slirp4netns forwards 10.0.2.2 to the host's 127.0.0.1 only
 * with `allow_host_loopback=true`; its `host.containers.internal` names the host's outside address,
 * where a loopback listener is not, and its default bridge cannot reach loopback at all. docker's
 * bridge never reaches the host's loopback: `host-gateway` is the bridge's gateway address. Each
 * runner has its own network namespace, so the servers of a port algorithm do not meet.
 */
export const RUNNER_NETWORKS: Readonly<
  Record<
    ContainerEngineKind,
    { readonly network: string; readonly hostAlias: string; readonly addHost?: string }
  >
> = {
  podman: { network: 'slirp4netns:allow_host_loopback=true', hostAlias: '10.0.2.2' },
  docker: {
    network: 'bridge',
    hostAlias: 'host.docker.internal',
    addHost: 'host.docker.internal:host-gateway',
  },
};

/** Container variables holding URLs of endpoints that may be on the host's loopback. */
const ENDPOINT_VARIABLE = /^(AWS_ENDPOINT_URL(_[A-Z0-9_]+)?|SLUICE_BROKER_URL)$/;

const LOOPBACK_URL = /^([a-z][a-z0-9+.-]*:\/\/(?:[^/?#@]*@)?)(127\.0\.0\.1|localhost|\[::1\])(?=[:/?#]|$)/i;

/**
 * The URL a runner container of `engine` uses for `url`: a loopback host (127.0.0.1, localhost,
 * [::1]) becomes the engine's alias for the host ({@link RUNNER_NETWORKS}); anything else, and the
 * rest of the URL (port, path, no trailing slash added), is unchanged. The host side is reached
 * over IPv4: a server listening only on ::1 is not reachable.
 *
 * @example
 * containerReachableUrl('http://127.0.0.1:4566', 'podman');      // 'http://10.0.2.2:4566'
 * containerReachableUrl('http://localhost:8080/x', 'docker');    // 'http://host.docker.internal:8080/x'
 * containerReachableUrl('https://s3.eu-west-1.amazonaws.com', 'podman'); // unchanged
 * @throws never.
 */
export function containerReachableUrl(url: string, engine: ContainerEngineKind): string {
  return url.replace(
    LOOPBACK_URL,
    (_match, prefix: string) => `${prefix}${RUNNER_NETWORKS[engine].hostAlias}`,
  );
}

/**
 * A runner container's network options and variables for `engine`: its own network, and endpoint
 * variables (`AWS_ENDPOINT_URL`, `AWS_ENDPOINT_URL_<SERVICE>`, `SLUICE_BROKER_URL`) rewritten with
 * {@link containerReachableUrl}. With an explicit `network` (e.g. `host`) nothing is rewritten.
 *
 * @example
 * runnerNetworkOptions('podman', { AWS_ENDPOINT_URL: 'http://127.0.0.1:4566' });
 * // { network: 'slirp4netns:allow_host_loopback=true', env: { AWS_ENDPOINT_URL: 'http://10.0.2.2:4566' } }
 * @throws never.
 */
export function runnerNetworkOptions(
  engine: ContainerEngineKind,
  env: Readonly<Record<string, string>>,
  network?: string,
): Pick<RunContainerOptions, 'network' | 'addHosts'> & { readonly env: Record<string, string> } {
  if (network !== undefined) return { network, env: { ...env } };
  const table = RUNNER_NETWORKS[engine];
  const rewritten: Record<string, string> = {};
  for (const [name, value] of Object.entries(env)) {
    rewritten[name] = ENDPOINT_VARIABLE.test(name) ? containerReachableUrl(value, engine) : value;
  }
  return {
    network: table.network,
    ...(table.addHost !== undefined && { addHosts: [table.addHost] }),
    env: rewritten,
  };
}

/** How a run's containers stand. */
export interface LocalWorkerCounts {
  readonly running: number;
  /** Exited with 0 (idle, or stopped). */
  readonly finished: number;
  /** Exited with another code. */
  readonly failed: number;
}

/** What {@link LocalWorkers.ensure} did. */
export interface EnsureReport extends LocalWorkerCounts {
  /** Containers started by this call (new ones and replacements). */
  readonly started: number;
  /** Exited containers removed by this call. */
  readonly removed: number;
}

/** What the caller of {@link LocalWorkers.ensure} sees of the run. */
export interface EnsureOptions {
  /** Work is queued or in flight: keep `spec.workers` runners. */
  readonly workRemains: boolean;
  /**
   * The run's backlog now: `taskBacklog` of its queue (visible + in flight + delayed). It falling
   * since the previous call is how the run is seen to advance: a message leaves the queue only when
   * its task ended (or was settled without running). Without it no advance is seen, and every
   * runner death counts toward a crash loop.
   */
  readonly backlog?: number;
}

/**
 * The runner containers of local runs.
 *
 * @example
 * const workers = new LocalWorkers(await detectContainerEngine({ logger }), logger);
 * await workers.ensure(spec, { workRemains: true }); // starts spec.workers runners
 * await workers.stop(spec.runId);                    // at teardown
 */
export class LocalWorkers {
  private readonly logger: Logger;
  private readonly crashLoopDeaths: number;
  /** Runner deaths since the run last advanced. */
  private deathsWithoutProgress = 0;
  private lastBacklog: number | undefined;
  private warnedGpuLimit = false;

  /**
   * @param options.crashLoopDeaths runner deaths in a row without the run advancing that end the
   *   watch (default 10; never fewer than two per runner).
   */
  constructor(
    private readonly engine: ContainerEngine,
    logger: Logger = silentLogger,
    options: { readonly crashLoopDeaths?: number } = {},
  ) {
    this.logger = logger;
    this.crashLoopDeaths = options.crashLoopDeaths ?? DEFAULT_CRASH_LOOP_DEATHS;
  }

  /** The run's containers (running or not). */
  async containers(runId: string): Promise<readonly ContainerDetails[]> {
    return this.engine.listContainers(`${LOCAL_RUN_LABEL}=${runId}`);
  }

  /**
   * Counts the run's containers by state.
   *
   * @example
   * const { running } = await workers.count('thumbs-3f9a0c12');
   * @throws ContainerEngineError when the engine fails.
   */
  async count(runId: string): Promise<LocalWorkerCounts> {
    return countOf(await this.containers(runId));
  }

  /**
   * Keeps a run's runners going: while `workRemains`, `spec.workers` containers run; otherwise at
   * least `spec.minWorkers`, and a runner that died (non-zero exit) is replaced. Exited
   * containers are removed before replacements start, the failed ones after their log's tail is
   * logged; runners that exited 0 (idle) stay until there is work again or teardown removes them.
   *
   * The crash-loop rule: runners killed while the run advances (its `backlog` falls) are replaced
   * however often that happens; more than `crashLoopDeaths` deaths (and two per runner) in a row
   * with no advance in between is a crash loop, and no runner is started again.
   *
   * @example
   * await workers.ensure(spec, { workRemains: taskBacklog(counts) > 0, backlog: taskBacklog(counts) });
   * @throws {ConfigurationError} when a runner exited with its configuration-error code (2): the
   *   message holds the log's tail.
   * @throws {InfrastructureError} when the runners are in a crash loop (see above).
   * @throws ContainerEngineError when the engine fails.
   */
  async ensure(spec: LocalWorkerSpec, options: EnsureOptions): Promise<EnsureReport> {
    const containers = await this.containers(spec.runId);
    const counts = countOf(containers);
    const failed = containers.filter((c) => !c.running && c.exitCode !== 0);
    for (const container of failed) {
      const tail = await this.logTail(container.id);
      if (container.exitCode === RUNNER_CONFIGURATION_EXIT) {
        throw new ConfigurationError(
          `run ${spec.runId}: runner ${container.name} stopped on a configuration error; fix it and dispatch again. Its log ends:\n${tail}`,
        );
      }
      this.logger.warning(
        `run ${spec.runId}: runner ${container.name} ${runnerDeath(container, spec)}; its log ends:\n${tail}`,
      );
    }
    const workers = this.workerLimit(spec);
    const target = options.workRemains
      ? workers
      : Math.min(workers, Math.max(spec.minWorkers ?? 0, counts.running + failed.length));
    const exited = containers.filter((c) => !c.running);
    // Exited runners go when they are replaced (or crashed): their names are reused.
    const toRemove = counts.running < target || failed.length > 0 ? exited : [];
    if (toRemove.length > 0) await this.engine.remove(toRemove.map((c) => c.id));
    this.checkCrashLoop(spec, failed, options.backlog);
    const missing = Math.max(0, target - counts.running);
    const taken = new Set(
      containers
        .filter((c) => c.running)
        .map((c) => Number.parseInt(c.labels[LOCAL_WORKER_LABEL] ?? '', 10))
        .filter((n) => !Number.isNaN(n)),
    );
    let started = 0;
    for (let index = 1; started < missing; index += 1) {
      if (taken.has(index)) continue;
      await this.startOne(spec, index);
      taken.add(index);
      started += 1;
    }
    if (started > 0) this.logger.info(`run ${spec.runId}: started ${started} runner container(s)`);
    return {
      running: counts.running + started,
      finished: toRemove.length > 0 ? 0 : counts.finished,
      failed: toRemove.length > 0 ? 0 : counts.failed,
      started,
      removed: toRemove.length,
    };
  }

  /**
   * Stops and removes every container of the run (running ones get SIGTERM and `timeoutSeconds`
   * to finish their task's current step). Idempotent: returns how many were removed.
   *
   * @example
   * const removed = await workers.stop('thumbs-3f9a0c12');
   * @throws ContainerEngineError when the engine fails.
   */
  async stop(runId: string, options: { readonly timeoutSeconds?: number } = {}): Promise<number> {
    const containers = await this.containers(runId);
    await Promise.all(
      containers
        .filter((c) => c.running)
        .map(async (c) => {
          try {
            await this.engine.stop(c.id, { timeoutSeconds: options.timeoutSeconds ?? 10 });
          } catch (thrown: unknown) {
            // It may have exited meanwhile; `rm --force` below ends it either way.
            this.logger.debug(`stopping ${c.name}: ${toError(thrown).message}`);
          }
        }),
    );
    if (containers.length > 0) await this.engine.remove(containers.map((c) => c.id));
    if (containers.length > 0)
      this.logger.info(`run ${runId}: removed ${containers.length} runner container(s)`);
    return containers.length;
  }

  /**
   * Counts this call's runner deaths toward a crash loop unless the run advanced since the last
   * call (a death and an advance in one interval give the run the benefit of the doubt), and ends
   * the watch on a crash loop.
   */
  private checkCrashLoop(
    spec: LocalWorkerSpec,
    failed: readonly ContainerDetails[],
    backlog: number | undefined,
  ): void {
    const advanced = backlog !== undefined && this.lastBacklog !== undefined && backlog < this.lastBacklog;
    if (backlog !== undefined) this.lastBacklog = backlog;
    if (advanced) {
      this.deathsWithoutProgress = 0;
      return;
    }
    this.deathsWithoutProgress += failed.length;
    const limit = Math.max(this.crashLoopDeaths, 2 * this.workerLimit(spec));
    const [last] = failed;
    if (this.deathsWithoutProgress <= limit || last === undefined) return;
    throw new InfrastructureError(
      `run ${spec.runId}: its runners are in a crash loop: ${this.deathsWithoutProgress} runner deaths in a row ` +
        `and no task ended in between${backlog === undefined ? '' : ` (${backlog} task(s) still queued or in flight)`}, ` +
        `so no runner is started again. The last: ${last.name} ${runnerDeath(last, spec)}. ` +
        'See the warnings above for their logs; a runner that dies at start points at the image or the machine ' +
        '(the engine, memory, disk). Runners killed while tasks keep ending are replaced without limit.',
    );
  }

  /** `spec.workers`, or fewer when the GPUs do not stretch to `gpu` each (warned once). */
  private workerLimit(spec: LocalWorkerSpec): number {
    const gpu = spec.manifest.gpu ?? 0;
    if (gpu === 0) return spec.workers;
    if (spec.gpus === undefined) {
      throw new ConfigurationError(
        `run ${spec.runId}: the algorithm needs ${gpu} GPU(s) ("gpu" in algorithm.json), but its runners were given none: the local backend looks for them before starting runners.`,
      );
    }
    const limit = gpuWorkerLimit(spec.workers, gpu, spec.gpus);
    if (limit < spec.workers && !this.warnedGpuLimit) {
      this.warnedGpuLimit = true;
      this.logger.warning(
        `run ${spec.runId}: ${spec.gpus.devices?.length ?? 0} GPU(s) at ${gpu} per runner allow ${limit} runner(s), not the ${spec.workers} asked for ("compute.maxWorkers"): running ${limit}.`,
      );
    }
    return limit;
  }

  private async startOne(spec: LocalWorkerSpec, index: number): Promise<string> {
    const name = localWorkerName(spec.runId, index);
    const config: RunnerConfig = { ...spec.config, workerId: name };
    const { env, ...network } = runnerNetworkOptions(this.engine.kind, spec.env, spec.network);
    return this.engine.runDetached({
      image: spec.image,
      name,
      env: { ...env, [RUNNER_CONFIG_VARIABLE]: JSON.stringify(config) },
      memoryMiB: localMemoryLimitMiB(spec.manifest),
      ...network,
      ulimits: spec.ulimits ?? LOCAL_WORKER_ULIMITS,
      ...hardenedRunOptions(spec.manifest),
      ...(spec.gpus !== undefined &&
        (spec.manifest.gpu ?? 0) > 0 && { gpus: gpuRequestFor(index, spec.manifest.gpu ?? 0, spec.gpus) }),
      ...(spec.credentials !== undefined && {
        readOnlyMounts: [{ source: spec.credentials, target: RUNNER_CREDENTIALS_DIRECTORY }],
      }),
      labels: { [LOCAL_RUN_LABEL]: spec.runId, [LOCAL_WORKER_LABEL]: String(index) },
    });
  }

  private async logTail(container: string): Promise<string> {
    try {
      const { stdout, stderr } = await this.engine.logs(container);
      return tailLines(`${stdout}\n${stderr}`, 20);
    } catch (thrown: unknown) {
      return `(no log: ${toError(thrown).message})`;
    }
  }
}

/**
 * The name of a run's runner container: `sluice-<run-id>-<n>`.
 *
 * @example
 * localWorkerName('thumbs-3f9a0c12', 1); // 'sluice-thumbs-3f9a0c12-1'
 */
export function localWorkerName(runId: string, index: number): string {
  return `sluice-${runId}-${index}`;
}

/**
 * How a runner container died, in words that claim no more than the engine knows: out of memory
 * only when its inspect says OOMKilled (podman 4.3 never does); exit code 137 alone is a SIGKILL,
 * from outside or from the kernel's OOM killer.
 */
function runnerDeath(container: ContainerDetails, spec: LocalWorkerSpec): string {
  const code = container.exitCode;
  if (container.oomKilled) {
    return `was killed for exceeding its memory limit of ${localMemoryLimitMiB(spec.manifest)} MiB (exit code ${code}; the engine reports OOMKilled): raise "memory" in algorithm.json`;
  }
  if (code === 128 + constants.signals.SIGKILL) {
    return "was killed with SIGKILL (exit code 137): from outside (a kill of the container) or by the kernel's OOM killer, which the engine did not report";
  }
  const signal = Object.entries(constants.signals).find(([, number]) => number === code - 128)?.[0];
  if (signal !== undefined) return `was ended by ${signal} (exit code ${code})`;
  return `exited with code ${code}`;
}

function countOf(containers: readonly ContainerDetails[]): LocalWorkerCounts {
  let running = 0;
  let finished = 0;
  let failed = 0;
  for (const c of containers) {
    if (c.running) running += 1;
    else if (c.exitCode === 0) finished += 1;
    else failed += 1;
  }
  return { running, finished, failed };
}

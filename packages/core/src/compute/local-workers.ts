// The local backend's workers: N runner containers of a run's wrapped image, started with the local
// container engine (docker, or podman where there is no Docker daemon) on the host network, so they
// reach an S3/SQS endpoint on loopback (the moto server) as well as AWS itself. Every container
// carries the label `org.sluice.run=<run-id>`: that is how they are counted, watched and removed,
// from any process (the dispatch-tasks, collect-results and teardown actions are separate ones).
import { ConfigurationError, toError } from '../errors.js';
import { silentLogger, type Logger } from '../logging/logger.js';
import type { Manifest } from '../schemas/manifest.js';
import { RUNNER_CONFIG_VARIABLE, type RunnerConfig } from '../schemas/runner-config.js';
import type { ContainerDetails, ContainerEngine, Ulimit } from './container-engine.js';
import { tailLines } from './container-engine-errors.js';
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

/** The runner's exit code for a configuration error (a restart would fail the same way). */
const RUNNER_CONFIGURATION_EXIT = 2;
/** Restarts one {@link LocalWorkers} allows per run, so a runner that always crashes ends the watch. */
const DEFAULT_RESTART_BUDGET = 10;

/** What a run's runner containers are made of. */
export interface LocalWorkerSpec {
  readonly runId: string;
  /** The wrapped image: a local image id (`sha256:…`) or reference. */
  readonly image: string;
  /**
   * The algorithm's manifest: its memory sets the container limit; its input, output and
   * `readOnlyRootFilesystem` where the hardened container may write ({@link hardenedRunOptions}).
   */
  readonly manifest: Pick<Manifest, 'memoryMiB' | 'input' | 'output' | 'readOnlyRootFilesystem'>;
  /** `SLUICE_RUN`; `workerId` is set per container. */
  readonly config: RunnerConfig;
  /**
   * Further container variables: AWS settings (`AWS_ENDPOINT_URL`, `AWS_REGION`, credentials) and the
   * values of `config.secretEnv`. Handed to the engine through its environment, never its command
   * line, and never logged.
   */
  readonly env: Readonly<Record<string, string>>;
  /** Containers to keep running while work remains (the job's `compute.maxWorkers`). */
  readonly workers: number;
  /** Containers kept even without work (the job's `compute.minWorkers`; default 0). */
  readonly minWorkers?: number;
  /** Default {@link LOCAL_WORKER_ULIMITS}. */
  readonly ulimits?: readonly Ulimit[];
  /** Default `host`. */
  readonly network?: string;
}

/**
 * How many runners the local backend keeps for a job. Its runners share the host's network (to
 * reach an endpoint on loopback), so the servers of a port algorithm would all bind the same port:
 * one runner serves at a time, and `note` says so. On ECS every runner has a network of its own.
 *
 * @example
 * localWorkerLimits({ maxWorkers: 4, minWorkers: 0 }, { name: 'thumbs', port: 8080 });
 * // { workers: 1, minWorkers: 0, note: 'thumbs is a server on port 8080: …' }
 */
export function localWorkerLimits(
  compute: { readonly maxWorkers: number; readonly minWorkers: number },
  manifest: Pick<Manifest, 'name' | 'port'>,
): { readonly workers: number; readonly minWorkers: number; readonly note?: string } {
  if (manifest.port === undefined || compute.maxWorkers <= 1) {
    return { workers: compute.maxWorkers, minWorkers: compute.minWorkers };
  }
  return {
    workers: 1,
    minWorkers: Math.min(compute.minWorkers, 1),
    note:
      `${manifest.name} is a server on port ${manifest.port}: on the local backend the runners share the host's ` +
      `network, so one runner serves at a time (compute.maxWorkers ${compute.maxWorkers} → 1). ` +
      'On ECS each runner has a network of its own and maxWorkers applies.',
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
  private readonly restartBudget: number;
  private restarts = 0;

  constructor(
    private readonly engine: ContainerEngine,
    logger: Logger = silentLogger,
    options: { readonly restartBudget?: number } = {},
  ) {
    this.logger = logger;
    this.restartBudget = options.restartBudget ?? DEFAULT_RESTART_BUDGET;
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
   * least `spec.minWorkers`, and a runner that crashed (non-zero exit) is replaced. Exited
   * containers are removed before replacements start, the failed ones after their log's tail is
   * logged; runners that exited 0 (idle) stay until there is work again or teardown removes them.
   *
   * @example
   * await workers.ensure(spec, { workRemains: queued + inFlight > 0 });
   * @throws {ConfigurationError} when a runner exited with its configuration-error code (2), or
   *   runners keep crashing beyond the restart budget: the message holds the log's tail.
   * @throws ContainerEngineError when the engine fails.
   */
  async ensure(spec: LocalWorkerSpec, options: { readonly workRemains: boolean }): Promise<EnsureReport> {
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
        `run ${spec.runId}: runner ${container.name} exited with code ${container.exitCode}` +
          `${container.oomKilled || container.exitCode === 137 ? ' (killed: out of memory?)' : ''}; its log ends:\n${tail}`,
      );
    }
    const target = options.workRemains
      ? spec.workers
      : Math.min(spec.workers, Math.max(spec.minWorkers ?? 0, counts.running + failed.length));
    const exited = containers.filter((c) => !c.running);
    // Exited runners go when they are replaced (or crashed): their names are reused.
    const toRemove = counts.running < target || failed.length > 0 ? exited : [];
    if (toRemove.length > 0) await this.engine.remove(toRemove.map((c) => c.id));
    const missing = Math.max(0, target - counts.running);
    if (missing > 0 && failed.length > 0) {
      this.restarts += Math.min(missing, failed.length);
      if (this.restarts > this.restartBudget) {
        throw new ConfigurationError(
          `run ${spec.runId}: runners keep crashing (${this.restarts} restarts); see the warnings above for their logs.`,
        );
      }
    }
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

  private async startOne(spec: LocalWorkerSpec, index: number): Promise<string> {
    const name = localWorkerName(spec.runId, index);
    const config: RunnerConfig = { ...spec.config, workerId: name };
    return this.engine.runDetached({
      image: spec.image,
      name,
      env: { ...spec.env, [RUNNER_CONFIG_VARIABLE]: JSON.stringify(config) },
      memoryMiB: localMemoryLimitMiB(spec.manifest),
      network: spec.network ?? 'host',
      ulimits: spec.ulimits ?? LOCAL_WORKER_ULIMITS,
      ...hardenedRunOptions(spec.manifest),
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

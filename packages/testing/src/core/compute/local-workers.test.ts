import { describe, expect, it } from '@jest/globals';

import { ConfigurationError } from '../errors.js';
import type { Logger } from '../logging/logger.js';
import type { RunnerConfig } from '../schemas/runner-config.js';
import type { ContainerDetails, ContainerEngine, RunContainerOptions } from './container-engine.js';
import {
  LOCAL_RUN_LABEL,
  LOCAL_WORKER_LABEL,
  localWorkerLimits,
  localWorkerName,
  LocalWorkers,
  type LocalWorkerSpec,
} from './local-workers.js';

const RUN = 'thumbs-3f9a0c12';

interface FakeContainer {
  details: ContainerDetails;
  options: RunContainerOptions;
  log: string;
}

/** A container engine that keeps containers in a map; tests end them with `exit`. */
class FakeEngine implements ContainerEngine {
  readonly kind = 'podman' as const;
  readonly containers = new Map<string, FakeContainer>();
  readonly started: RunContainerOptions[] = [];
  readonly stopped: string[] = [];
  private next = 1;

  exit(name: string, exitCode: number, log = ''): void {
    const found = [...this.containers.values()].find((c) => c.details.name === name);
    if (found === undefined) throw new Error(`no container ${name}`);
    found.details = { ...found.details, running: false, status: 'exited', exitCode };
    found.log = log;
  }

  running(): string[] {
    return [...this.containers.values()].filter((c) => c.details.running).map((c) => c.details.name);
  }

  runDetached(options: RunContainerOptions): Promise<string> {
    const name = options.name ?? `c${this.next}`;
    if ([...this.containers.values()].some((c) => c.details.name === name)) {
      return Promise.reject(new Error(`name ${name} is in use`));
    }
    const id = `id${this.next}`;
    this.next += 1;
    this.started.push(options);
    this.containers.set(id, {
      options,
      log: '',
      details: {
        id,
        name,
        image: options.image,
        status: 'running',
        running: true,
        exitCode: 0,
        oomKilled: false,
        labels: { ...options.labels },
      },
    });
    return Promise.resolve(id);
  }

  listContainers(label: string): Promise<readonly ContainerDetails[]> {
    const [key, value] = label.split('=');
    return Promise.resolve(
      [...this.containers.values()]
        .map((c) => c.details)
        .filter(
          (d) => key !== undefined && (value === undefined ? key in d.labels : d.labels[key] === value),
        ),
    );
  }

  stop(container: string): Promise<void> {
    this.stopped.push(container);
    const found = this.containers.get(container);
    if (found !== undefined) found.details = { ...found.details, running: false, exitCode: 0 };
    return Promise.resolve();
  }

  remove(containers: readonly string[]): Promise<void> {
    for (const id of containers) this.containers.delete(id);
    return Promise.resolve();
  }

  logs(container: string): Promise<{ stdout: string; stderr: string }> {
    return Promise.resolve({ stdout: this.containers.get(container)?.log ?? '', stderr: '' });
  }

  build = (): Promise<string> => Promise.reject(new Error('not used'));
  inspectImage = (): Promise<never> => Promise.reject(new Error('not used'));
  imageExists = (): Promise<boolean> => Promise.resolve(true);
  push = (): Promise<string> => Promise.reject(new Error('not used'));
  pull = (): Promise<void> => Promise.resolve();
  tag = (): Promise<void> => Promise.resolve();
  removeImages = (): Promise<void> => Promise.resolve();
  run = (): Promise<never> => Promise.reject(new Error('not used'));
  wait = (): Promise<number> => Promise.resolve(0);
  inspectContainer = (): Promise<never> => Promise.reject(new Error('not used'));
  login = (): Promise<void> => Promise.resolve();
}

class RecordingLogger implements Logger {
  readonly lines: string[] = [];
  debug(message: string): void {
    this.lines.push(`debug ${message}`);
  }
  info(message: string): void {
    this.lines.push(`info ${message}`);
  }
  warning(message: string): void {
    this.lines.push(`warning ${message}`);
  }
  error(message: string): void {
    this.lines.push(`error ${message}`);
  }
  setSecret(): void {
    // Nothing printed here.
  }
}

const CONFIG: RunnerConfig = {
  runId: RUN,
  queueUrl: 'http://127.0.0.1:5000/123456789012/sluice-thumbs-3f9a0c12-tasks',
  deadLetterQueueUrl: 'http://127.0.0.1:5000/123456789012/sluice-thumbs-3f9a0c12-tasks-dlq',
  input: { bucket: 'in-bucket', prefix: 'in/', include: ['**'] },
  output: { bucket: 'out-bucket', prefix: 'out/' },
  maxAttempts: 3,
  idleSeconds: 60,
  env: { SIZE: '256' },
  secretEnv: ['TOKEN'],
};

function spec(overrides: Partial<LocalWorkerSpec> = {}): LocalWorkerSpec {
  return {
    runId: RUN,
    image: `sha256:${'a'.repeat(64)}`,
    manifest: { memoryMiB: 512 },
    config: CONFIG,
    env: { AWS_REGION: 'us-east-1', AWS_SECRET_ACCESS_KEY: 'very-secret', TOKEN: 'token-value' },
    workers: 2,
    ...overrides,
  };
}

describe('LocalWorkers', () => {
  it('starts maxWorkers runners with the run label, host network, memory limit, ulimits and SLUICE_RUN', async () => {
    const engine = new FakeEngine();
    const workers = new LocalWorkers(engine);

    const report = await workers.ensure(spec(), { workRemains: true });

    expect(report).toMatchObject({ running: 2, started: 2, removed: 0 });
    expect(engine.running()).toEqual([localWorkerName(RUN, 1), localWorkerName(RUN, 2)]);
    const [first] = engine.started;
    expect(first?.network).toBe('host');
    expect(first?.memoryMiB).toBe(512 + 128);
    expect(first?.labels).toEqual({ [LOCAL_RUN_LABEL]: RUN, [LOCAL_WORKER_LABEL]: '1' });
    expect(first?.ulimits?.map((u) => u.name)).toEqual(['nofile', 'nproc']);
    expect(first?.env).toMatchObject({ AWS_REGION: 'us-east-1', TOKEN: 'token-value' });
    const config = JSON.parse(first?.env?.SLUICE_RUN ?? '{}') as RunnerConfig;
    expect(config).toEqual({ ...CONFIG, workerId: localWorkerName(RUN, 1) });
    // Values travel in the engine's environment, never in a label or a name.
    expect(JSON.stringify([first?.labels, first?.name, first?.command])).not.toContain('secret');
  });

  it('is idempotent: a second ensure starts nothing', async () => {
    const engine = new FakeEngine();
    const workers = new LocalWorkers(engine);
    await workers.ensure(spec(), { workRemains: true });

    const again = await workers.ensure(spec(), { workRemains: true });

    expect(again).toMatchObject({ running: 2, started: 0 });
    expect(engine.started).toHaveLength(2);
    expect(await workers.count(RUN)).toEqual({ running: 2, finished: 0, failed: 0 });
  });

  it('starts none without work, and keeps minWorkers', async () => {
    const engine = new FakeEngine();
    const workers = new LocalWorkers(engine);
    expect((await workers.ensure(spec(), { workRemains: false })).started).toBe(0);
    expect((await workers.ensure(spec({ minWorkers: 1 }), { workRemains: false })).started).toBe(1);
  });

  it('replaces a crashed runner (logging its log tail) and reuses its name', async () => {
    const engine = new FakeEngine();
    const logger = new RecordingLogger();
    const workers = new LocalWorkers(engine, logger);
    await workers.ensure(spec(), { workRemains: true });
    engine.exit(localWorkerName(RUN, 1), 137, 'line one\nkilled');

    const report = await workers.ensure(spec(), { workRemains: false });

    expect(report).toMatchObject({ started: 1, removed: 1, running: 2 });
    expect(engine.running().sort()).toEqual([localWorkerName(RUN, 1), localWorkerName(RUN, 2)]);
    expect(logger.lines.join('\n')).toMatch(/exited with code 137.*\n?[\s\S]*killed/);
  });

  it('restarts runners that all exited idle when work arrives, and leaves them while there is none', async () => {
    const engine = new FakeEngine();
    const workers = new LocalWorkers(engine);
    await workers.ensure(spec(), { workRemains: true });
    engine.exit(localWorkerName(RUN, 1), 0);
    engine.exit(localWorkerName(RUN, 2), 0);

    expect(await workers.ensure(spec(), { workRemains: false })).toMatchObject({ started: 0, finished: 2 });
    expect(await workers.ensure(spec(), { workRemains: true })).toMatchObject({ started: 2, removed: 2 });
    expect(engine.running()).toHaveLength(2);
  });

  it('stops on a runner configuration error instead of restarting it', async () => {
    const engine = new FakeEngine();
    const workers = new LocalWorkers(engine);
    await workers.ensure(spec(), { workRemains: true });
    engine.exit(
      localWorkerName(RUN, 2),
      2,
      '{"event":"configuration-error","message":"SLUICE_RUN is wrong"}',
    );

    const ensured = workers.ensure(spec(), { workRemains: true });

    await expect(ensured).rejects.toThrow(ConfigurationError);
    await expect(workers.ensure(spec(), { workRemains: true })).rejects.toThrow(/SLUICE_RUN is wrong/);
  });

  it('gives up when runners keep crashing beyond the restart budget', async () => {
    const engine = new FakeEngine();
    const workers = new LocalWorkers(engine, undefined, { restartBudget: 2 });
    await workers.ensure(spec({ workers: 1 }), { workRemains: true });
    for (let i = 0; i < 2; i += 1) {
      engine.exit(localWorkerName(RUN, 1), 1);
      await workers.ensure(spec({ workers: 1 }), { workRemains: true });
    }
    engine.exit(localWorkerName(RUN, 1), 1);
    await expect(workers.ensure(spec({ workers: 1 }), { workRemains: true })).rejects.toThrow(
      /keep crashing/,
    );
  });

  it('stop removes every container of the run, running or not, and only those', async () => {
    const engine = new FakeEngine();
    const workers = new LocalWorkers(engine);
    await workers.ensure(spec(), { workRemains: true });
    await workers.ensure(spec({ runId: 'other-00000000' }), { workRemains: true });
    engine.exit(localWorkerName(RUN, 2), 0);

    expect(await workers.stop(RUN)).toBe(2);
    expect(engine.stopped).toHaveLength(1);
    expect(await workers.count(RUN)).toEqual({ running: 0, finished: 0, failed: 0 });
    expect(await workers.count('other-00000000')).toEqual({ running: 2, finished: 0, failed: 0 });
    expect(await workers.stop(RUN)).toBe(0);
  });
});

describe('localWorkerLimits', () => {
  it('keeps maxWorkers and minWorkers for a process algorithm', () => {
    expect(localWorkerLimits({ maxWorkers: 4, minWorkers: 2 }, { name: 'thumbs' })).toEqual({
      workers: 4,
      minWorkers: 2,
    });
  });

  it('runs one runner at a time for a port algorithm, and says why', () => {
    const limits = localWorkerLimits({ maxWorkers: 4, minWorkers: 2 }, { name: 'ocr', port: 8080 });
    expect(limits).toMatchObject({ workers: 1, minWorkers: 1 });
    expect(limits.note).toMatch(/ocr is a server on port 8080: .*share the host's network.*maxWorkers 4 → 1/);
  });

  it('says nothing when a port algorithm asks for one runner anyway', () => {
    expect(localWorkerLimits({ maxWorkers: 1, minWorkers: 0 }, { name: 'ocr', port: 8080 })).toEqual({
      workers: 1,
      minWorkers: 0,
    });
  });
});

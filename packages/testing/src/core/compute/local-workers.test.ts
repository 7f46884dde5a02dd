// LocalWorkers against the fake container engine: how many runners it starts, with what, and what
// it does when they exit. Here rather than in packages/core because a core test importing
// @sluice/testing would make the two projects depend on each other (nx refuses the cycle).
import { describe, expect, it } from '@jest/globals';
import { ConfigurationError, InfrastructureError, type RunnerConfig } from '@sluice/core';
import {
  LOCAL_RUN_LABEL,
  LOCAL_WORKER_LABEL,
  localWorkerName,
  LocalWorkers,
  RUNNER_CAPABILITIES,
  RUNNER_CREDENTIALS_DIRECTORY,
  RUNNER_PIDS_LIMIT,
  type LocalWorkerSpec,
} from '@sluice/core/compute';

import { FakeContainerEngine } from '../../fake-container-engine.js';
import { RecordingLogger } from '../../recording-logger.js';

const RUN = 'thumbs-3f9a0c12';

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
    manifest: {
      memoryMiB: 512,
      input: { kind: 'directory', path: '/data/in' },
      output: { kind: 'directory', path: '/data/out' },
      readOnlyRootFilesystem: false,
    },
    config: CONFIG,
    env: { AWS_REGION: 'us-east-1', AWS_SECRET_ACCESS_KEY: 'very-secret', TOKEN: 'token-value' },
    workers: 2,
    ...overrides,
  };
}

describe('LocalWorkers', () => {
  it('starts maxWorkers runners with the run label, a network of their own, memory limit, ulimits and SLUICE_RUN', async () => {
    const engine = new FakeContainerEngine();
    const workers = new LocalWorkers(engine);

    const report = await workers.ensure(spec(), { workRemains: true });

    expect(report).toMatchObject({ running: 2, started: 2, removed: 0 });
    expect(engine.running()).toEqual([localWorkerName(RUN, 1), localWorkerName(RUN, 2)]);
    const [first] = engine.started;
    expect(first?.network).toBe('slirp4netns:allow_host_loopback=true');
    expect(first?.memoryMiB).toBe(512 + 128);
    expect(first?.labels).toEqual({ [LOCAL_RUN_LABEL]: RUN, [LOCAL_WORKER_LABEL]: '1' });
    expect(first?.ulimits?.map((u) => u.name)).toEqual(['nofile', 'nproc']);
    expect(first?.env).toMatchObject({ AWS_REGION: 'us-east-1', TOKEN: 'token-value' });
    const config = JSON.parse(first?.env?.SLUICE_RUN ?? '{}') as RunnerConfig;
    expect(config).toEqual({ ...CONFIG, workerId: localWorkerName(RUN, 1) });
    // Values travel in the engine's environment, never in a label or a name.
    expect(JSON.stringify([first?.labels, first?.name, first?.command])).not.toContain('secret');
  });

  it("points endpoints on the host loopback at the engine's alias for the host, and leaves others alone", async () => {
    const env = {
      AWS_ENDPOINT_URL: 'http://127.0.0.1:5000',
      AWS_ENDPOINT_URL_S3: 'http://localhost:9000/base',
      SLUICE_BROKER_URL: 'http://[::1]:7000/broker',
      AWS_REGION: 'us-east-1',
      OTHER_URL: 'http://127.0.0.1:1',
    };
    const podman = new FakeContainerEngine();
    const docker = new FakeContainerEngine({ kind: 'docker' });

    await new LocalWorkers(podman).ensure(spec({ workers: 1, env }), { workRemains: true });
    await new LocalWorkers(docker).ensure(spec({ workers: 1, env }), { workRemains: true });

    expect(podman.started[0]?.env).toMatchObject({
      AWS_ENDPOINT_URL: 'http://10.0.2.2:5000',
      AWS_ENDPOINT_URL_S3: 'http://10.0.2.2:9000/base',
      SLUICE_BROKER_URL: 'http://10.0.2.2:7000/broker',
      OTHER_URL: 'http://127.0.0.1:1',
    });
    expect(docker.started[0]).toMatchObject({
      network: 'bridge',
      addHosts: ['host.docker.internal:host-gateway'],
      env: { AWS_ENDPOINT_URL: 'http://host.docker.internal:5000' },
    });
  });

  it('keeps a network it is given (e.g. host) and the endpoints as they are', async () => {
    const engine = new FakeContainerEngine();

    await new LocalWorkers(engine).ensure(
      spec({ workers: 1, network: 'host', env: { AWS_ENDPOINT_URL: 'http://127.0.0.1:5000' } }),
      { workRemains: true },
    );

    expect(engine.started[0]).toMatchObject({
      network: 'host',
      env: { AWS_ENDPOINT_URL: 'http://127.0.0.1:5000' },
    });
    expect(engine.started[0]?.addHosts).toBeUndefined();
  });

  it("hardens every runner: only the runner's capabilities, no new privileges, a pids limit, writable mounts where the runner writes", async () => {
    const engine = new FakeContainerEngine();
    const workers = new LocalWorkers(engine);
    const readOnly = {
      memoryMiB: 512,
      input: { kind: 'directory', path: '/data/in' },
      output: { kind: 'file', path: '/results/out.json' },
      readOnlyRootFilesystem: true,
    } as const;

    await workers.ensure(spec({ workers: 1 }), { workRemains: true });
    await workers.ensure(spec({ runId: 'other-run', workers: 1, manifest: readOnly }), { workRemains: true });

    const [writable, locked] = engine.started;
    expect(writable).toMatchObject({
      capDrop: ['ALL'],
      noNewPrivileges: true,
      pidsLimit: RUNNER_PIDS_LIMIT,
      readOnlyRootFilesystem: false,
      tmpfs: ['/tmp'],
      scratchVolumes: ['/data/in', '/data/out'],
    });
    expect(writable?.capAdd).toEqual(Object.keys(RUNNER_CAPABILITIES).sort());
    expect(locked).toMatchObject({
      capDrop: ['ALL'],
      readOnlyRootFilesystem: true,
      tmpfs: ['/tmp'],
      scratchVolumes: ['/data/in', '/results'],
    });
  });

  it('mounts the credentials directory read-only at the fixed path, and mounts nothing without one', async () => {
    const engine = new FakeContainerEngine();
    const workers = new LocalWorkers(engine);
    const credentials = '/var/state/sluice/runners/thumbs-3f9a0c12/broker';

    await workers.ensure(spec({ workers: 1, credentials }), { workRemains: true });
    await workers.ensure(spec({ runId: 'other-run', workers: 1 }), { workRemains: true });

    const [mounted, plain] = engine.started;
    expect(RUNNER_CREDENTIALS_DIRECTORY).toBe('/run/sluice/credentials');
    expect(mounted?.readOnlyMounts).toEqual([{ source: credentials, target: RUNNER_CREDENTIALS_DIRECTORY }]);
    expect(plain?.readOnlyMounts).toBeUndefined();
  });

  it('is idempotent: a second ensure starts nothing', async () => {
    const engine = new FakeContainerEngine();
    const workers = new LocalWorkers(engine);
    await workers.ensure(spec(), { workRemains: true });

    const again = await workers.ensure(spec(), { workRemains: true });

    expect(again).toMatchObject({ running: 2, started: 0 });
    expect(engine.started).toHaveLength(2);
    expect(await workers.count(RUN)).toEqual({ running: 2, finished: 0, failed: 0 });
  });

  it('starts none without work, and keeps minWorkers', async () => {
    const engine = new FakeContainerEngine();
    const workers = new LocalWorkers(engine);
    expect((await workers.ensure(spec(), { workRemains: false })).started).toBe(0);
    expect((await workers.ensure(spec({ minWorkers: 1 }), { workRemains: false })).started).toBe(1);
  });

  it('replaces a crashed runner (logging its log tail) and reuses its name', async () => {
    const engine = new FakeContainerEngine();
    const logger = new RecordingLogger();
    const workers = new LocalWorkers(engine, logger);
    await workers.ensure(spec(), { workRemains: true });
    engine.exit(localWorkerName(RUN, 1), 137, 'line one\nkilled');

    const report = await workers.ensure(spec(), { workRemains: false });

    expect(report).toMatchObject({ started: 1, removed: 1, running: 2 });
    expect(engine.running().sort()).toEqual([localWorkerName(RUN, 1), localWorkerName(RUN, 2)]);
    expect(logger.lines.join('\n')).toMatch(/exit code 137.*\n?[\s\S]*killed/);
  });

  it('calls a plain exit 137 a SIGKILL from outside or the OOM killer, and says out of memory only when the engine does', async () => {
    const engine = new FakeContainerEngine();
    const logger = new RecordingLogger();
    const workers = new LocalWorkers(engine, logger);
    await workers.ensure(spec(), { workRemains: true });
    engine.exit(localWorkerName(RUN, 1), 137);
    engine.exit(localWorkerName(RUN, 2), 137, '', { oomKilled: true });
    await workers.ensure(spec(), { workRemains: true });
    engine.exit(localWorkerName(RUN, 1), 143);
    engine.exit(localWorkerName(RUN, 2), 1);
    await workers.ensure(spec(), { workRemains: true });

    const [plain, oom, term, other] = logger.lines.filter((line) => line.includes('its log ends'));
    expect(plain).toContain(
      "-1 was killed with SIGKILL (exit code 137): from outside (a kill of the container) or by the kernel's OOM killer, which the engine did not report",
    );
    expect(plain).not.toMatch(/out of memory/);
    expect(oom).toContain(
      '-2 was killed for exceeding its memory limit of 640 MiB (exit code 137; the engine reports OOMKilled)',
    );
    expect(term).toContain('-1 was ended by SIGTERM (exit code 143)');
    expect(other).toContain('-2 exited with code 1;');
  });

  it('restarts runners that all exited idle when work arrives, and leaves them while there is none', async () => {
    const engine = new FakeContainerEngine();
    const workers = new LocalWorkers(engine);
    await workers.ensure(spec(), { workRemains: true });
    engine.exit(localWorkerName(RUN, 1), 0);
    engine.exit(localWorkerName(RUN, 2), 0);

    expect(await workers.ensure(spec(), { workRemains: false })).toMatchObject({ started: 0, finished: 2 });
    expect(await workers.ensure(spec(), { workRemains: true })).toMatchObject({ started: 2, removed: 2 });
    expect(engine.running()).toHaveLength(2);
  });

  it('stops on a runner configuration error instead of restarting it', async () => {
    const engine = new FakeContainerEngine();
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

  describe('the crash-loop rule', () => {
    it('replaces runners killed from outside as often as it happens while tasks keep ending', async () => {
      // As in issue 16: 150 files, runners SIGKILLed 13 times, every file done.
      const engine = new FakeContainerEngine();
      const logger = new RecordingLogger();
      const workers = new LocalWorkers(engine, logger);
      let backlog = 150;
      await workers.ensure(spec(), { workRemains: true, backlog });
      for (let kill = 0; kill < 13; kill += 1) {
        engine.exit(localWorkerName(RUN, (kill % 2) + 1), 137);
        backlog -= 10;
        const report = await workers.ensure(spec(), { workRemains: true, backlog });
        expect(report).toMatchObject({ running: 2, started: 1 });
      }

      expect(await workers.ensure(spec(), { workRemains: false, backlog: 0 })).toMatchObject({ running: 2 });
      expect(logger.lines.filter((line) => line.includes('SIGKILL'))).toHaveLength(13);
      expect(logger.lines.join('\n')).not.toMatch(/out of memory|crash loop/);
    });

    it('counts only the deaths since the run last advanced, not every death of the run', async () => {
      const engine = new FakeContainerEngine();
      const workers = new LocalWorkers(engine, undefined, { crashLoopDeaths: 4 });
      await workers.ensure(spec(), { workRemains: true, backlog: 50 });
      // Four deaths without an advance, then one task ends: the count starts again (twice).
      for (const backlog of [50, 50, 50, 50, 49, 49, 49, 49, 48, 48, 48, 48]) {
        engine.exit(localWorkerName(RUN, 1), 1);
        await workers.ensure(spec(), { workRemains: true, backlog });
      }
      expect(engine.running()).toHaveLength(2);
    });

    it('stops a crash loop, saying so, as an infrastructure fault and not a user error', async () => {
      const engine = new FakeContainerEngine();
      const workers = new LocalWorkers(engine, new RecordingLogger(), { crashLoopDeaths: 4 });
      await workers.ensure(spec(), { workRemains: true, backlog: 24 });
      const deathRound = async (): Promise<unknown> => {
        engine.exit(localWorkerName(RUN, 1), 1, 'Error: cannot start');
        engine.exit(localWorkerName(RUN, 2), 1, 'Error: cannot start');
        return workers.ensure(spec(), { workRemains: true, backlog: 24 });
      };
      await deathRound();
      await deathRound();

      const third = deathRound();

      await expect(third).rejects.toThrow(InfrastructureError);
      await expect(third).rejects.toThrow(
        /its runners are in a crash loop: 6 runner deaths in a row and no task ended in between \(24 task\(s\) still queued or in flight\), so no runner is started again\. The last: sluice-thumbs-3f9a0c12-1 exited with code 1\./,
      );
      await expect(third).rejects.not.toThrow(ConfigurationError);
      expect(engine.running()).toHaveLength(0);
    });

    it('allows at least two deaths per runner before calling it a crash loop', async () => {
      const engine = new FakeContainerEngine();
      const workers = new LocalWorkers(engine, undefined, { crashLoopDeaths: 1 });
      await workers.ensure(spec({ workers: 3 }), { workRemains: true, backlog: 9 });
      for (const index of [1, 2, 3]) engine.exit(localWorkerName(RUN, index), 137);
      await workers.ensure(spec({ workers: 3 }), { workRemains: true, backlog: 9 });
      for (const index of [1, 2, 3]) engine.exit(localWorkerName(RUN, index), 137);
      await workers.ensure(spec({ workers: 3 }), { workRemains: true, backlog: 9 });
      engine.exit(localWorkerName(RUN, 1), 137);

      await expect(workers.ensure(spec({ workers: 3 }), { workRemains: true, backlog: 9 })).rejects.toThrow(
        /crash loop: 7 runner deaths/,
      );
    });

    it('counts every death when the caller cannot see the backlog', async () => {
      const engine = new FakeContainerEngine();
      const workers = new LocalWorkers(engine, undefined, { crashLoopDeaths: 2 });
      await workers.ensure(spec({ workers: 1 }), { workRemains: true });
      for (let i = 0; i < 2; i += 1) {
        engine.exit(localWorkerName(RUN, 1), 1);
        await workers.ensure(spec({ workers: 1 }), { workRemains: true });
      }
      engine.exit(localWorkerName(RUN, 1), 1);
      await expect(workers.ensure(spec({ workers: 1 }), { workRemains: true })).rejects.toThrow(
        /crash loop: 3 runner deaths in a row and no task ended in between, so/,
      );
    });
  });

  it('stop removes every container of the run, running or not, and only those', async () => {
    const engine = new FakeContainerEngine();
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

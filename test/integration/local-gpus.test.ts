// Integration: a GPU algorithm on the local backend. This machine has no GPU, so a gpu=1 run on its
// podman fails before any runner starts, saying what is missing; with a fake CDI specification in a
// temporary directory, the podman command line carries the CDI device (through a scripted
// CommandRunner: podman is never asked to use a device that is not there).
import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { afterAll, describe, expect, it } from '@jest/globals';
import { ConfigurationError } from '@sluice/core';
import {
  CliContainerEngine,
  detectLocalGpus,
  LocalWorkers,
  type LocalWorkerSpec,
} from '@sluice/core/compute';
import { containerEngineEnv, FakeCommandRunner, writeFakeCdiSpec } from '@sluice/testing';

const RUN = `gpu-${randomBytes(4).toString('hex')}`;

function gpuSpec(overrides: Partial<LocalWorkerSpec> = {}): LocalWorkerSpec {
  return {
    runId: RUN,
    image: 'localhost/sluice/no-such-gpu-image:1',
    manifest: {
      memoryMiB: 256,
      input: { kind: 'directory', path: '/data/in' },
      output: { kind: 'directory', path: '/data/out' },
      readOnlyRootFilesystem: false,
      gpu: 1,
    },
    config: {
      runId: RUN,
      queueUrl: 'http://127.0.0.1:5000/000000000000/q',
      deadLetterQueueUrl: 'http://127.0.0.1:5000/000000000000/dlq',
      input: { bucket: 'in', prefix: '', include: ['**'] },
      output: { bucket: 'out', prefix: '' },
      maxAttempts: 1,
      idleSeconds: 60,
      env: {},
      secretEnv: [],
    },
    env: {},
    workers: 2,
    ...overrides,
  };
}

const hostHasCdi = ['/etc/cdi', '/var/run/cdi'].some((dir) => existsSync(dir));
const scratch = mkdtempSync(join(tmpdir(), 'sluice-gpu-it-'));
afterAll(() => {
  rmSync(scratch, { recursive: true, force: true });
});

describe('GPUs on the local backend', () => {
  (hostHasCdi ? it.skip : it)(
    'refuses a gpu=1 run on this GPU-less podman before any runner starts',
    async () => {
      const engine = new CliContainerEngine({ kind: 'podman', env: { ...containerEngineEnv() } });
      const workers = new LocalWorkers(engine);

      const detecting = detectLocalGpus({ kind: engine.kind, gpu: 1 });
      const ensuring = workers.ensure(gpuSpec(), { workRemains: true });

      await expect(detecting).rejects.toThrow(ConfigurationError);
      await expect(detecting).rejects.toThrow(
        /podman has no NVIDIA GPU to give: no CDI specification in \/etc\/cdi or \/var\/run\/cdi defines nvidia\.com\/gpu devices.*nvidia-ctk cdi generate --output=\/etc\/cdi\/nvidia\.yaml.*"backend": "ecs"/s,
      );
      await expect(ensuring).rejects.toThrow(ConfigurationError);
      expect(await workers.count(RUN)).toEqual({ running: 0, finished: 0, failed: 0 });
    },
  );

  it('passes each runner its own CDI device on the podman command line, given a CDI spec', async () => {
    writeFakeCdiSpec(scratch, 2);
    const runner = new FakeCommandRunner((call) =>
      call.args[0] === 'run' ? { stdout: `${randomBytes(32).toString('hex')}\n` } : {},
    );
    const engine = new CliContainerEngine({ kind: 'podman', runner });

    const gpus = await detectLocalGpus({ kind: engine.kind, gpu: 1, cdiDirectories: [scratch] });
    await new LocalWorkers(engine).ensure(gpuSpec({ gpus }), { workRemains: true });

    const runs = runner.commandLines().filter((line) => line.startsWith('podman run '));
    expect(runs).toHaveLength(2);
    expect(runs[0]).toContain('--device nvidia.com/gpu=0 ');
    expect(runs[1]).toContain('--device nvidia.com/gpu=1 ');
  });
});

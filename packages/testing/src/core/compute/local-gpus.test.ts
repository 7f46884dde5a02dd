// GPUs on the local backend: the engine flags for a GPU request, detection from CDI specifications
// (podman) and recorded `docker info` outputs (docker: there is no Docker daemon with a GPU here),
// and how LocalWorkers hands each runner GPUs of its own.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { afterEach, beforeEach, describe, expect, it } from '@jest/globals';
import { ConfigurationError } from '@sluice/core';
import {
  CliContainerEngine,
  cdiGpuDevices,
  detectLocalGpus,
  dockerGpuInfo,
  gpuRunArguments,
  LocalWorkers,
  type LocalWorkerSpec,
} from '@sluice/core/compute';

import { writeFakeCdiSpec } from '../../fake-cdi-spec.js';
import { FakeCommandRunner } from '../../fake-command-runner.js';
import { FakeContainerEngine } from '../../fake-container-engine.js';
import { RecordingLogger } from '../../recording-logger.js';

/** `docker info --format '{{json .}}'` (trimmed) on a host configured with `nvidia-ctk runtime configure`. */
const DOCKER_INFO_NVIDIA_RUNTIME = JSON.stringify({
  ServerVersion: '27.3.1',
  Runtimes: {
    'io.containerd.runc.v2': { path: 'runc' },
    nvidia: { path: 'nvidia-container-runtime' },
    runc: { path: 'runc' },
  },
  DefaultRuntime: 'runc',
});
/** docker 28 with CDI devices discovered in /etc/cdi. */
const DOCKER_INFO_CDI = JSON.stringify({
  ServerVersion: '28.1.1',
  Runtimes: { runc: { path: 'runc' } },
  CDISpecDirs: ['/etc/cdi', '/var/run/cdi'],
  DiscoveredDevices: [
    { Source: 'cdi', ID: 'nvidia.com/gpu=0' },
    { Source: 'cdi', ID: 'nvidia.com/gpu=1' },
    { Source: 'cdi', ID: 'nvidia.com/gpu=GPU-00000000-1111-2222-3333-444444444444' },
    { Source: 'cdi', ID: 'nvidia.com/gpu=all' },
  ],
});
/** A host without GPU support. */
const DOCKER_INFO_PLAIN = JSON.stringify({ ServerVersion: '27.3.1', Runtimes: { runc: { path: 'runc' } } });

function dockerAnswering(stdout: string): FakeCommandRunner {
  return new FakeCommandRunner((call) => (call.args[0] === 'info' ? { stdout } : {}));
}

let dir: string;
let empty: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'sluice-cdi-'));
  empty = join(dir, 'none');
});
afterEach(() => {
  rmSync(dir, { recursive: true, force: true });
});

describe('gpuRunArguments', () => {
  it('gives podman one CDI device per GPU, and docker one quoted --gpus device list', () => {
    expect(gpuRunArguments('podman', { devices: ['0', '1'] })).toEqual([
      '--device',
      'nvidia.com/gpu=0',
      '--device',
      'nvidia.com/gpu=1',
    ]);
    expect(gpuRunArguments('docker', { devices: ['0', '1'] })).toEqual(['--gpus', '"device=0,1"']);
    expect(gpuRunArguments('docker', { count: 2 })).toEqual(['--gpus', '2']);
  });

  it('puts the GPU flags before the image on the engine command line', () => {
    const engine = new CliContainerEngine({ kind: 'podman', runner: new FakeCommandRunner() });

    const { args } = engine.runArguments({ image: 'img', gpus: { devices: ['1'] }, command: ['x'] }, true);

    expect(args.slice(-4)).toEqual(['--device', 'nvidia.com/gpu=1', 'img', 'x']);
  });
});

describe('detectLocalGpus', () => {
  it('counts the GPUs of an nvidia-ctk CDI spec once each, by index, for podman', async () => {
    writeFakeCdiSpec(dir, 2);

    const gpus = await detectLocalGpus({ kind: 'podman', gpu: 1, cdiDirectories: [empty, dir] });

    expect(gpus).toEqual({ devices: ['0', '1'] });
  });

  it('refuses podman without a CDI spec, saying how to make one and that ECS has GPUs', async () => {
    const detecting = detectLocalGpus({ kind: 'podman', gpu: 1, cdiDirectories: [dir] });

    await expect(detecting).rejects.toThrow(ConfigurationError);
    await expect(detecting).rejects.toThrow(/no CDI specification in .* defines nvidia\.com\/gpu devices/);
    await expect(detecting).rejects.toThrow('nvidia-ctk cdi generate --output=/etc/cdi/nvidia.yaml');
    await expect(detecting).rejects.toThrow('"compute": {"backend": "ecs"}');
  });

  it('refuses when the host has fewer GPUs than one runner needs', async () => {
    writeFakeCdiSpec(dir, 1);

    await expect(detectLocalGpus({ kind: 'podman', gpu: 2, cdiDirectories: [dir] })).rejects.toThrow(
      /needs 2 GPU\(s\).*has only 1/,
    );
  });

  it('reads docker CDI devices, or its nvidia runtime, from docker info', async () => {
    const fromCdi = await detectLocalGpus({
      kind: 'docker',
      gpu: 1,
      cdiDirectories: [empty],
      runner: dockerAnswering(DOCKER_INFO_CDI),
    });
    const logger = new RecordingLogger();
    const fromRuntime = await detectLocalGpus({
      kind: 'docker',
      gpu: 1,
      cdiDirectories: [empty],
      runner: dockerAnswering(DOCKER_INFO_NVIDIA_RUNTIME),
      logger,
    });
    writeFakeCdiSpec(dir, 3);
    const runtimeAndSpec = await detectLocalGpus({
      kind: 'docker',
      gpu: 1,
      cdiDirectories: [dir],
      runner: dockerAnswering(DOCKER_INFO_NVIDIA_RUNTIME),
    });

    expect(fromCdi).toEqual({ devices: ['0', '1'] });
    expect(fromRuntime).toEqual({});
    expect(logger.at('warning').join('\n')).toContain('may share them');
    expect(runtimeAndSpec).toEqual({ devices: ['0', '1', '2'] });
  });

  it('refuses docker without GPU support, or without docker at all', async () => {
    const plain = detectLocalGpus({
      kind: 'docker',
      gpu: 1,
      cdiDirectories: [empty],
      runner: dockerAnswering(DOCKER_INFO_PLAIN),
    });
    const missing = detectLocalGpus({
      kind: 'docker',
      gpu: 1,
      cdiDirectories: [empty],
      runner: new FakeCommandRunner(() => 'missing'),
    });

    await expect(plain).rejects.toThrow(
      /docker has no NVIDIA GPU.*nvidia-ctk runtime configure --runtime=docker/,
    );
    await expect(missing).rejects.toThrow(ConfigurationError);
  });

  it('reads what it can of odd input without failing', () => {
    expect(dockerGpuInfo('not json')).toEqual({ nvidiaRuntime: false, cdiDevices: [] });
    expect(cdiGpuDevices([null, 'x', { kind: 'other.com/fpga', devices: [{ name: '0' }] }])).toEqual([]);
    expect(cdiGpuDevices([{ kind: 'nvidia.com/gpu', devices: [{ name: '0:0' }, { name: 'all' }] }])).toEqual([
      '0:0',
    ]);
  });
});

describe('LocalWorkers with GPUs', () => {
  const spec = (overrides: Partial<LocalWorkerSpec> = {}): LocalWorkerSpec => ({
    runId: 'gpu-run',
    image: 'img',
    manifest: {
      memoryMiB: 512,
      input: { kind: 'directory', path: '/data/in' },
      output: { kind: 'directory', path: '/data/out' },
      readOnlyRootFilesystem: false,
      gpu: 1,
    },
    config: {
      runId: 'gpu-run',
      queueUrl: 'http://127.0.0.1:5000/q',
      deadLetterQueueUrl: 'http://127.0.0.1:5000/dlq',
      input: { bucket: 'in', prefix: '', include: ['**'] },
      output: { bucket: 'out', prefix: '' },
      maxAttempts: 1,
      idleSeconds: 60,
      env: {},
      secretEnv: [],
    },
    env: {},
    workers: 3,
    ...overrides,
  });

  it('gives each runner GPUs of its own and runs fewer runners than asked when they run out', async () => {
    const engine = new FakeContainerEngine();
    const logger = new RecordingLogger();

    const report = await new LocalWorkers(engine, logger).ensure(spec({ gpus: { devices: ['0', '1'] } }), {
      workRemains: true,
    });

    expect(report.running).toBe(2);
    expect(engine.started.map((options) => options.gpus)).toEqual([{ devices: ['0'] }, { devices: ['1'] }]);
    expect(logger.at('warning').join('\n')).toContain('allow 2 runner(s), not the 3 asked for');
  });

  it('starts nothing for a GPU algorithm when no GPUs were found', async () => {
    const engine = new FakeContainerEngine();

    await expect(new LocalWorkers(engine).ensure(spec(), { workRemains: true })).rejects.toThrow(
      ConfigurationError,
    );
    expect(engine.started).toEqual([]);
  });
});

// The algorithm container `sluice try` runs (core/compute algorithm-container.ts) against the fake
// container engine: the runner's settings in its options, its time limit, its start errors, the
// image it picks. Here rather than in packages/core: a core test importing @sluice/testing would make
// the two projects depend on each other (nx refuses the cycle).
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { describe, expect, it } from '@jest/globals';
import { ConfigurationError, classifyAttempt, parseManifest, type Manifest } from '@sluice/core';
import {
  ContainerEngineError,
  RUNNER_PIDS_LIMIT,
  TRY_CONTAINER_LABEL,
  algorithmContainerOptions,
  algorithmContainerUser,
  algorithmMountDirectories,
  checkImagePlatform,
  localAlgorithmImage,
  runAlgorithmContainer,
  type RunContainerOptions,
} from '@sluice/core/compute';

import { FakeContainerEngine } from '../../fake-container-engine.js';

function manifestOf(fields: Record<string, unknown> = {}): Manifest {
  return parseManifest(
    JSON.stringify({
      name: 'upper',
      version: '1.0',
      image: 'localhost/upper:1',
      memory: 128,
      input: '/data/in/',
      output: '/data/out/',
      ...fields,
    }),
    'algorithm.json',
  );
}

function optionsFor(
  fields: Record<string, unknown> = {},
  user = '',
  engine: 'docker' | 'podman' = 'podman',
): RunContainerOptions {
  return algorithmContainerOptions({
    manifest: manifestOf(fields),
    image: 'localhost/upper:1',
    details: { user },
    engine,
    hostRoot: '/tmp/sluice-try-x',
    command: ['/app/upper', '/data/in/a.txt', '/data/out'],
    env: { SIZE: '3' },
  });
}

describe('algorithmContainerOptions', () => {
  it("gives the container the runner's settings for the algorithm", () => {
    const options = optionsFor({ readOnlyRootFilesystem: true });

    expect(options).toMatchObject({
      image: 'localhost/upper:1',
      user: '65532:65532',
      env: { SIZE: '3', HOME: '/tmp/sluice-home' },
      capDrop: ['ALL'],
      noNewPrivileges: true,
      pidsLimit: RUNNER_PIDS_LIMIT,
      memoryMiB: 128,
      readOnlyRootFilesystem: true,
      network: 'slirp4netns:allow_host_loopback=true',
      tmpfs: ['/tmp', '/tmp/sluice-home'],
      entrypoint: ['/app/upper', '/data/in/a.txt', '/data/out'],
      labels: { [TRY_CONTAINER_LABEL]: 'true' },
    });
    expect(options.capAdd).toBeUndefined();
    expect(options.extraArgs).toEqual([
      '--volume',
      '/tmp/sluice-try-x/data/in:/data/in:z',
      '--volume',
      '/tmp/sluice-try-x/data/out:/data/out:z',
    ]);
  });

  it("keeps an image's non-root USER for the engine to resolve, and sets no HOME", () => {
    const options = optionsFor({}, 'app');

    expect(options.user).toBeUndefined();
    expect(options.env).toEqual({ SIZE: '3' });
    expect(options.tmpfs).toEqual(['/tmp']);
  });

  it("gives docker the runner's bridge network, and a port algorithm this machine's", () => {
    expect(optionsFor({}, '', 'docker')).toMatchObject({
      network: 'bridge',
      addHosts: ['host.docker.internal:host-gateway'],
    });
    expect(optionsFor({ port: 8080 }).network).toBe('host');
  });

  it('refuses a path a volume cannot name', () => {
    expect(() =>
      algorithmContainerOptions({
        manifest: manifestOf(),
        image: 'i',
        details: { user: '' },
        engine: 'podman',
        hostRoot: '/tmp/a:b',
        command: ['/x'],
        env: {},
      }),
    ).toThrow(ConfigurationError);
  });
});

describe('algorithmContainerUser', () => {
  it.each([
    ['', { user: '65532:65532', home: '/tmp/sluice-home' }],
    ['root', { user: '65532:65532', home: '/tmp/sluice-home' }],
    ['0:0', { user: '65532:65532', home: '/tmp/sluice-home' }],
    ['1000:1000', {}],
    ['app', {}],
  ])('USER %j runs as %j', (user, expected) => {
    expect(algorithmContainerUser(user)).toEqual(expected);
  });
});

describe('algorithmMountDirectories', () => {
  it('mounts the directory of each location, an inner one through the outer', () => {
    expect(
      algorithmMountDirectories(manifestOf({ input: '/data/in.png', output: '/data/results/' })),
    ).toEqual(['/data']);
    expect(algorithmMountDirectories(manifestOf({ input: '/in/', output: '/out/report.json' }))).toEqual([
      '/in',
      '/out',
    ]);
  });

  it('refuses a location directly in /', () => {
    expect(() => algorithmMountDirectories(manifestOf({ input: '/input.png' }))).toThrow(/directly in \//);
  });
});

describe('checkImagePlatform', () => {
  const amd64 = { os: 'linux', architecture: 'amd64', platform: 'linux/amd64' };

  it('accepts an image of the manifest and this machine', () => {
    expect(() => {
      checkImagePlatform(amd64, { platform: 'linux/amd64' }, 'linux/amd64');
    }).not.toThrow();
  });

  it("names a manifest's platform the image is not for", () => {
    expect(() => {
      checkImagePlatform(amd64, { platform: 'linux/arm64' }, 'linux/amd64');
    }).toThrow(/is for linux\/amd64, but algorithm.json says "platform": "linux\/arm64"/);
  });

  it('warns of a machine with another processor, whatever its operating system', () => {
    expect(checkImagePlatform(amd64, { platform: 'linux/amd64' }, 'linux/arm64')).toMatch(
      /this machine's processor is arm64: the engine can run it only under emulation/,
    );
    expect(checkImagePlatform(amd64, { platform: 'linux/amd64' }, 'darwin/amd64')).toBeUndefined();
  });
});

describe('localAlgorithmImage', () => {
  it('never pulls a missing image, and says how to get it', async () => {
    const engine = new FakeContainerEngine();

    await expect(localAlgorithmImage(engine, manifestOf(), 'algorithm.json')).rejects.toThrow(
      /not in the local image store of podman, and sluice try does not pull.*podman load -i/,
    );
    expect(engine.pulls).toEqual([]);
  });

  it("builds a manifest's build section with wrap's tag for it", async () => {
    const engine = new FakeContainerEngine();
    const manifest = manifestOf({ image: undefined, build: { context: '.', dockerfile: 'Containerfile' } });

    const dir = await mkdtemp(join(tmpdir(), 'sluice-try-build-'));
    await writeFile(join(dir, 'Containerfile'), 'FROM scratch\n');

    try {
      const image = await localAlgorithmImage(engine, manifest, join(dir, 'algorithm.json'));

      expect(image).toBe('localhost/sluice/upper-algorithm:1.0');
      expect(engine.builds.map((build) => build.options)).toEqual([
        expect.objectContaining({ context: dir, containerfile: join(dir, 'Containerfile'), tags: [image] }),
      ]);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});

describe('runAlgorithmContainer', () => {
  const manifest = manifestOf({ retry: { permanentExitCodes: [3] } });

  it('returns the exit code and what the container printed, and removes it', async () => {
    const engine = new FakeContainerEngine({
      program: () => ({ exitCode: 3, stdout: 'working\n', stderr: 'bad input\n' }),
    });

    const outcome = await runAlgorithmContainer(engine, optionsFor(), 60_000);

    expect(outcome).toMatchObject({
      exitCode: 3,
      timedOut: false,
      stdout: 'working\n',
      stderr: 'bad input\n',
    });
    expect(classifyAttempt({ kind: 'process', ...outcome }, manifest)).toMatchObject({
      failureClass: 'algorithm-exit',
      retryable: false,
      exitCode: 3,
    });
    expect(engine.containers.size).toBe(0);
  });

  it('stops a container past its time limit and says so', async () => {
    const engine = new FakeContainerEngine();
    const notes: string[] = [];

    const outcome = await runAlgorithmContainer(engine, optionsFor(), 20, (note) => notes.push(note));

    expect(outcome.timedOut).toBe(true);
    expect(engine.stopped).toHaveLength(1);
    expect(notes).toEqual(['time limit of 0 s reached: stopping the algorithm']);
    expect(classifyAttempt({ kind: 'process', ...outcome }, manifest)).toMatchObject({
      failureClass: 'timeout',
    });
    expect(engine.containers.size).toBe(0);
  });

  it('takes a SIGKILL it did not send for the memory limit, as the runner does', async () => {
    const engine = new FakeContainerEngine({ program: () => ({ exitCode: 137 }) });

    const outcome = await runAlgorithmContainer(engine, optionsFor(), 60_000);

    expect(classifyAttempt({ kind: 'process', ...outcome }, manifest)).toMatchObject({
      failureClass: 'out-of-memory',
    });
  });

  it('classes a container that cannot start as infrastructure, not retried', async () => {
    const engine = new FakeContainerEngine();
    engine.runDetached = () =>
      Promise.reject(
        new ContainerEngineError('podman run failed', 127, 'exec: "/app/upper": no such file or directory'),
      );

    const outcome = await runAlgorithmContainer(engine, optionsFor(), 60_000);

    expect(outcome.startError).toContain('exec: "/app/upper": no such file or directory');
    expect(classifyAttempt({ kind: 'process', ...outcome }, manifest)).toMatchObject({
      failureClass: 'infrastructure',
      retryable: false,
    });
  });
});

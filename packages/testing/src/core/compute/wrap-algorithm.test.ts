// wrapAlgorithm against the fake container engine and a fake host Node: what it builds, from what,
// and when it reuses. Here rather than in packages/core because a core test importing @sluice/testing
// would make the two projects depend on each other (nx refuses the cycle); podman builds real wrapped
// images in test/integration/wrapped-image.test.ts.
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { afterEach, beforeEach, describe, expect, it } from '@jest/globals';
import { parseManifest } from '@sluice/core';
import {
  WRAPPED_LABELS,
  hostPlatform,
  parseImageInspect,
  wrapAlgorithm,
  type ImageDetails,
} from '@sluice/core/compute';

import { fakeHostTools, type FakeCommandRunner } from '../../fake-command-runner.js';
import { FakeContainerEngine } from '../../fake-container-engine.js';

const BUSYBOX_DETAILS: ImageDetails = parseImageInspect(
  JSON.stringify({
    Id: 'a'.repeat(64),
    Config: {
      Entrypoint: ['/bin/sh', '-c'],
      Cmd: ['echo hi'],
      WorkingDir: '/work',
      User: '1000:1000',
      Env: ['PATH=/bin'],
    },
    Os: 'linux',
    Architecture: hostPlatform().split('/')[1],
  }),
);

/** An engine whose built and pulled images look like BUSYBOX_DETAILS. */
function busyboxEngine(): FakeContainerEngine {
  return new FakeContainerEngine({ baseImage: BUSYBOX_DETAILS });
}

/** `--version` and `ldd` for a fake host Node made of small files in `dir`. */
function hostTools(dir: string): FakeCommandRunner {
  return fakeHostTools(
    `\tlibc.so.6 => ${join(dir, 'libc.so.6')} (0x1)\n\t${join(dir, 'ld-linux-x86-64.so.2')} (0x1)\n`,
  );
}

describe('wrapAlgorithm (fake engine, fake host Node)', () => {
  let dir = '';
  let runnerDir = '';

  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'sluice-wrap-'));
    for (const name of ['node', 'libc.so.6', 'ld-linux-x86-64.so.2']) writeFileSync(join(dir, name), name);
    runnerDir = join(dir, 'runner-dist');
    mkdirSync(runnerDir);
    writeFileSync(join(runnerDir, 'index.js'), 'console.log("runner")\n');
    writeFileSync(join(runnerDir, 'package.json'), '{"type":"module"}\n');
  });

  afterEach(() => {
    rmSync(dir, { recursive: true, force: true });
  });

  function wrap(manifestText: string, engine: FakeContainerEngine) {
    return wrapAlgorithm({
      manifest: parseManifest(manifestText, 'algorithm.json'),
      manifestText,
      manifestPath: join(dir, 'algo', 'algorithm.json'),
      engine,
      runnerDir,
      cacheDir: join(dir, 'cache'),
      runtime: { hostNode: join(dir, 'node'), runner: hostTools(dir) },
    });
  }

  it('builds the algorithm from `build`, then the wrapped image from it with everything under /sluice', async () => {
    const engine = busyboxEngine();
    mkdirSync(join(dir, 'algo', 'src'), { recursive: true });
    writeFileSync(join(dir, 'algo', 'src', 'Containerfile'), 'FROM scratch\n');
    const manifestText = JSON.stringify({
      name: 'thumbs',
      version: '1.0',
      build: { context: 'src', dockerfile: 'Containerfile', args: { LEVEL: '3' }, target: 'final' },
      memory: '1GiB',
      platform: hostPlatform(),
    });

    const wrapped = await wrap(manifestText, engine);

    const [algorithm, wrapper] = engine.builds;
    expect(algorithm?.options).toMatchObject({
      context: join(dir, 'algo', 'src'),
      containerfile: join(dir, 'algo', 'src', 'Containerfile'),
      buildArgs: { LEVEL: '3' },
      target: 'final',
      tags: ['localhost/sluice/thumbs-algorithm:1.0'],
    });
    expect(wrapper?.options.tags).toEqual(['localhost/sluice/thumbs:1.0']);
    expect(wrapper?.options.labels?.[WRAPPED_LABELS.algorithm]).toBe('thumbs@1.0');
    expect(Object.keys(wrapper?.files ?? {}).sort()).toEqual([
      'Containerfile',
      'node/bin/node',
      'node/lib/ld-linux-x86-64.so.2',
      'node/lib/libc.so.6',
      'sluice/algorithm.json',
      'sluice/original-image.json',
      'sluice/runner/index.js',
      'sluice/runner/package.json',
    ]);
    expect(wrapper?.files['sluice/algorithm.json']).toBe(manifestText);
    expect(wrapper?.files.Containerfile).toContain('FROM localhost/sluice/thumbs-algorithm:1.0');
    expect(JSON.parse(wrapper?.files['sluice/original-image.json'] ?? '{}')).toMatchObject({
      entrypoint: ['/bin/sh', '-c'],
      cmd: ['echo hi'],
      workingDir: '/work',
      user: '1000:1000',
    });
    expect(wrapped.image).toBe('localhost/sluice/thumbs:1.0');
    expect(wrapped.timings.algorithmBuildMs).toBeGreaterThanOrEqual(0);
    // The build context is temporary: nothing is left in the cache but the runtime.
    expect(readdirSync(join(dir, 'cache', 'contexts'))).toEqual([]);
  });

  it('pulls an `image` that is not local, and reuses the cached runtime the second time', async () => {
    const engine = busyboxEngine();
    const manifestText = JSON.stringify({
      name: 'x',
      version: '2',
      image: 'registry.example/x:2',
      memory: 64,
      platform: hostPlatform(),
    });

    const first = await wrap(manifestText, engine);
    const second = await wrap(manifestText, engine);

    expect(engine.pulls).toEqual(['registry.example/x:2']);
    expect(first.runtime.cached).toBe(false);
    expect(second.runtime.cached).toBe(true);
    expect([first.reused, second.reused]).toEqual([false, true]);
    expect(engine.builds).toHaveLength(1);
    expect(second.imageId).toBe(first.imageId);
    expect(existsSync(join(second.runtime.dir, 'bin', 'node'))).toBe(true);
  });

  it('rebuilds when the manifest changed', async () => {
    const engine = busyboxEngine();
    const manifest = { name: 'x', version: '2', image: 'x:2', memory: 64, platform: hostPlatform() };

    await wrap(JSON.stringify(manifest), engine);
    const second = await wrap(JSON.stringify({ ...manifest, memory: 128 }), engine);

    expect(second.reused).toBe(false);
    expect(engine.builds).toHaveLength(2);
  });

  it('refuses an image of another platform than the manifest says', async () => {
    const engine = busyboxEngine();
    engine.addImage({
      ...BUSYBOX_DETAILS,
      repoTags: ['other:1'],
      os: 'linux',
      architecture: 'riscv64',
      platform: 'linux/riscv64',
    });
    const manifestText = JSON.stringify({
      name: 'x',
      version: '1',
      image: 'other:1',
      memory: 64,
      platform: hostPlatform(),
    });

    await expect(wrap(manifestText, engine)).rejects.toThrow(
      /is for linux\/riscv64, but algorithm.json says "platform"/,
    );
  });

  it('says how to get the runner bundle when it is missing', async () => {
    rmSync(join(runnerDir, 'index.js'));
    const manifestText = JSON.stringify({
      name: 'x',
      version: '1',
      image: 'x:1',
      memory: 64,
      platform: hostPlatform(),
    });

    await expect(wrap(manifestText, busyboxEngine())).rejects.toThrow(/runner bundle .* is missing/);
  });
});

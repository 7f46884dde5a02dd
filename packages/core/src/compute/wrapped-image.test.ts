import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  readdirSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { afterEach, beforeEach, describe, expect, it } from '@jest/globals';

import { ConfigurationError } from '../errors.js';
import { parseManifest } from '../schemas/documents.js';
import type { CommandOptions, CommandResult, CommandRunner } from './command-runner.js';
import {
  ImageNotFoundError,
  parseImageInspect,
  type BuildImageOptions,
  type ContainerDetails,
  type ContainerEngine,
  type ImageDetails,
} from './container-engine.js';
import { hostPlatform } from './node-runtime.js';
import {
  WRAPPED_LABELS,
  imageCommand,
  localMemoryLimitMiB,
  originalImageConfig,
  renderWrappedContainerfile,
  withDigest,
  wrapAlgorithm,
  wrappedImageLabels,
} from './wrapped-image.js';

const DIGEST = `sha256:${'c'.repeat(64)}`;

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

describe('renderWrappedContainerfile', () => {
  it('copies the runtime, then sluice, and makes the runner the entrypoint through the loader', () => {
    const text = renderWrappedContainerfile({
      baseImage: 'localhost/sluice/thumbs-algorithm:1.0',
      runtime: { loader: 'ld-linux-x86-64.so.2' },
    });

    expect(text.split('\n').filter((line) => !line.startsWith('#'))).toEqual([
      'FROM localhost/sluice/thumbs-algorithm:1.0',
      'COPY node/ /sluice/node/',
      'COPY sluice/ /sluice/',
      'ENV SLUICE_MANIFEST=/sluice/algorithm.json',
      'ENV SLUICE_ORIGINAL_IMAGE=/sluice/original-image.json',
      'ENTRYPOINT ["/sluice/node/lib/ld-linux-x86-64.so.2","--library-path","/sluice/node/lib","/sluice/node/bin/node","/sluice/runner/index.js"]',
      'CMD []',
      '',
    ]);
  });

  it('restates neither USER nor WORKDIR: the wrapped image inherits the original ones', () => {
    const text = renderWrappedContainerfile({ baseImage: 'x:1', runtime: {} });

    expect(text).not.toMatch(/^(USER|WORKDIR)/m);
    expect(text).toContain('ENTRYPOINT ["/sluice/node/bin/node","/sluice/runner/index.js"]');
  });
});

describe('the records and labels of a wrapped image', () => {
  const manifestText =
    '{\n  "name": "thumbs",\n  "version": "1.0",\n  "image": "algo:1",\n  "memory": 512\n}\n';
  const manifest = parseManifest(manifestText, 'algorithm.json');

  it('records the original entrypoint, cmd, working dir, user and how to start the carried Node', () => {
    const original = originalImageConfig('algo:1', BUSYBOX_DETAILS, {
      nodeVersion: '20.1.0',
      loader: 'ld-linux-x86-64.so.2',
    });

    expect(original).toEqual({
      schemaVersion: 1,
      image: 'algo:1',
      imageId: `sha256:${'a'.repeat(64)}`,
      entrypoint: ['/bin/sh', '-c'],
      cmd: ['echo hi'],
      workingDir: '/work',
      user: '1000:1000',
      env: ['PATH=/bin'],
      runtime: {
        nodeVersion: '20.1.0',
        command: [
          '/sluice/node/lib/ld-linux-x86-64.so.2',
          '--library-path',
          '/sluice/node/lib',
          '/sluice/node/bin/node',
        ],
      },
    });
  });

  it('labels the image with name@version, the manifest digest and the manifest itself', () => {
    const labels = wrappedImageLabels({
      manifest,
      manifestText,
      baseImageId: 'sha256:base',
      runnerDigest: 'sha256:runner',
      runtime: { nodeVersion: '20.1.0', platform: 'linux/amd64' },
    });

    expect(labels[WRAPPED_LABELS.algorithm]).toBe('thumbs@1.0');
    expect(labels[WRAPPED_LABELS.manifestDigest]).toMatch(/^sha256:[a-f0-9]{64}$/);
    expect(JSON.parse(labels[WRAPPED_LABELS.manifestJson] ?? '')).toEqual(JSON.parse(manifestText));
    expect(labels[WRAPPED_LABELS.runtime]).toBe('node-20.1.0-linux-amd64');
  });

  it('adds the runner overhead to the memory limit of a local run', () => {
    expect(localMemoryLimitMiB(manifest)).toBe(512 + 128);
  });

  it('pins references to a digest, replacing any digest already there', () => {
    expect(withDigest('127.0.0.1:5000/sluice/thumbs:1.0', DIGEST)).toBe(
      `127.0.0.1:5000/sluice/thumbs:1.0@${DIGEST}`,
    );
    expect(withDigest(`r/x@sha256:${'d'.repeat(64)}`, DIGEST)).toBe(`r/x@${DIGEST}`);
    expect(() => withDigest('r/x', 'latest')).toThrow(ConfigurationError);
  });
});

/** An engine that keeps images in a map and snapshots every build context it is given. */
class FakeEngine implements ContainerEngine {
  readonly kind = 'podman' as const;
  readonly images = new Map<string, ImageDetails>();
  readonly builds: { options: BuildImageOptions; files: Record<string, string> }[] = [];
  readonly pulls: string[] = [];

  build(options: BuildImageOptions): Promise<string> {
    const files: Record<string, string> = {};
    const walk = (dir: string, prefix: string): void => {
      for (const entry of readdirSync(dir, { withFileTypes: true })) {
        const path = join(dir, entry.name);
        if (entry.isDirectory()) walk(path, `${prefix}${entry.name}/`);
        else files[`${prefix}${entry.name}`] = readFileSync(path, 'utf8');
      }
    };
    walk(options.context, '');
    this.builds.push({ options, files });
    const id = `sha256:${String(this.builds.length).repeat(64)}`;
    for (const tag of options.tags)
      this.images.set(tag, { ...BUSYBOX_DETAILS, id, labels: { ...options.labels } });
    return Promise.resolve(id);
  }

  inspectImage(image: string): Promise<ImageDetails> {
    const details = this.images.get(image);
    return details === undefined ? Promise.reject(new ImageNotFoundError(image)) : Promise.resolve(details);
  }

  imageExists(image: string): Promise<boolean> {
    return Promise.resolve(this.images.has(image));
  }

  pull(image: string): Promise<void> {
    this.pulls.push(image);
    this.images.set(image, BUSYBOX_DETAILS);
    return Promise.resolve();
  }

  push(): Promise<string> {
    return Promise.resolve(DIGEST);
  }

  tag(): Promise<void> {
    return Promise.resolve();
  }

  removeImages(): Promise<void> {
    return Promise.resolve();
  }

  run(): Promise<CommandResult> {
    return Promise.resolve({ exitCode: 0, stdout: '', stderr: '' });
  }

  runDetached(): Promise<string> {
    return Promise.resolve('c1');
  }

  stop(): Promise<void> {
    return Promise.resolve();
  }

  remove(): Promise<void> {
    return Promise.resolve();
  }

  logs(): Promise<{ stdout: string; stderr: string }> {
    return Promise.resolve({ stdout: '', stderr: '' });
  }

  wait(): Promise<number> {
    return Promise.resolve(0);
  }

  inspectContainer(): Promise<ContainerDetails> {
    return Promise.reject(new Error('not used'));
  }

  listContainers(): Promise<readonly ContainerDetails[]> {
    return Promise.resolve([]);
  }

  login(): Promise<void> {
    return Promise.resolve();
  }
}

/** `--version` and `ldd` for a fake host Node made of small files. */
class FakeHostTools implements CommandRunner {
  constructor(private readonly dir: string) {}

  run(_file: string, args: readonly string[], _options?: CommandOptions): Promise<CommandResult> {
    const stdout =
      args[0] === '--version'
        ? 'v20.99.1\n'
        : `\tlibc.so.6 => ${join(this.dir, 'libc.so.6')} (0x1)\n\t${join(this.dir, 'ld-linux-x86-64.so.2')} (0x1)\n`;
    return Promise.resolve({ exitCode: 0, stdout, stderr: '' });
  }
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

  function wrap(manifestText: string, engine: FakeEngine) {
    return wrapAlgorithm({
      manifest: parseManifest(manifestText, 'algorithm.json'),
      manifestText,
      manifestPath: join(dir, 'algo', 'algorithm.json'),
      engine,
      runnerDir,
      cacheDir: join(dir, 'cache'),
      runtime: { hostNode: join(dir, 'node'), runner: new FakeHostTools(dir) },
    });
  }

  it('builds the algorithm from `build`, then the wrapped image from it with everything under /sluice', async () => {
    const engine = new FakeEngine();
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
    const engine = new FakeEngine();
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
    const engine = new FakeEngine();
    const manifest = { name: 'x', version: '2', image: 'x:2', memory: 64, platform: hostPlatform() };

    await wrap(JSON.stringify(manifest), engine);
    const second = await wrap(JSON.stringify({ ...manifest, memory: 128 }), engine);

    expect(second.reused).toBe(false);
    expect(engine.builds).toHaveLength(2);
  });

  it('refuses an image of another platform than the manifest says', async () => {
    const engine = new FakeEngine();
    engine.images.set('other:1', {
      ...BUSYBOX_DETAILS,
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

    await expect(wrap(manifestText, new FakeEngine())).rejects.toThrow(/runner bundle .* is missing/);
  });
});

describe('imageCommand', () => {
  const image = { entrypoint: ['/bin/thumbs'], cmd: ['--help'], workingDir: '/app' };

  it('keeps the entrypoint and lets the manifest command replace cmd, as OCI does', () => {
    expect(imageCommand(image, ['{input}', '{output}'])).toEqual({
      command: ['/bin/thumbs', '{input}', '{output}'],
      workingDir: '/app',
    });
  });

  it("runs the image's own entrypoint and cmd when the manifest has no command", () => {
    expect(imageCommand(image, undefined).command).toEqual(['/bin/thumbs', '--help']);
    expect(imageCommand({ entrypoint: null, cmd: ['/run.sh'], workingDir: '' }, undefined)).toEqual({
      command: ['/run.sh'],
      workingDir: '/',
    });
  });

  it('says what to add when nothing says what to run', () => {
    expect(() => imageCommand({ entrypoint: null, cmd: null, workingDir: '' }, undefined)).toThrow(
      /no ENTRYPOINT or CMD and algorithm.json has no "command"/,
    );
  });
});

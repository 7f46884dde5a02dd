// `sluice try` in the image against the fake container engine: what it asks the engine to run for a
// manifest, and what it prints of the end. The fake's program plays the algorithm by writing into the
// directories mounted for it. A real engine: test/e2e/try-image.test.ts.
// The fake is a small one of its own: @sluice/testing does not export its FakeEngine to
// other packages yet (when it does, this one should go).
import { readFileSync, writeFileSync } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { afterEach, beforeEach, describe, expect, it } from '@jest/globals';
import { isConfigurationError } from '@sluice/core';
import {
  ImageNotFoundError,
  hostPlatform,
  type ContainerDetails,
  type ContainerEngine,
  type ImageDetails,
  type RunContainerOptions,
} from '@sluice/core/compute';
import { Command } from 'commander';

import type { CommandContext } from '../context.js';
import { ExitCode } from '../exit-codes.js';
import { registerTry } from './try.js';

const IMAGE = 'localhost/upper:1';
const SECRET = 'tok-try-unit-7Qx';

function imageDetails(fields: Partial<ImageDetails> = {}): ImageDetails {
  const [os = 'linux', architecture = 'amd64'] = hostPlatform().split('/');
  return {
    id: 'sha256:0123',
    repoDigests: [],
    repoTags: [IMAGE],
    entrypoint: ['/app/upper'],
    cmd: null,
    workingDir: '',
    user: '',
    env: [],
    labels: {},
    os,
    architecture,
    platform: `${os}/${architecture}`,
    ...fields,
  };
}

/** The host directory mounted at `target`, from the options' `--volume source:target:z`. */
function mounted(options: RunContainerOptions, target: string): string {
  const volume = (options.extraArgs ?? []).find((arg) => arg.endsWith(`:${target}:z`));
  if (volume === undefined) throw new Error(`nothing mounted at ${target}`);
  return volume.slice(0, -`:${target}:z`.length);
}

/** The algorithm: upper-cases /data/in/<file> into /data/out/upper.txt, prints the variables, exits `exitCode`. */
function upper(exitCode = 0): (options: RunContainerOptions) => FakeExit {
  return (options) => {
    const input = readFileSync(join(mounted(options, '/data/in'), 'words.txt'), 'utf8');
    if (exitCode === 0) writeFileSync(join(mounted(options, '/data/out'), 'upper.txt'), input.toUpperCase());
    return { exitCode, stdout: `SIZE=${options.env?.SIZE ?? ''} TOKEN=${options.env?.TOKEN ?? ''}\n` };
  };
}

/** How the fake algorithm ends: its exit code and what it printed. */
interface FakeExit {
  readonly exitCode: number;
  readonly stdout?: string;
}

/** A container engine with images in memory, whose containers run `program` at once and end. */
class FakeEngine implements ContainerEngine {
  readonly kind = 'podman' as const;
  readonly images = new Map<string, ImageDetails>();
  readonly started: RunContainerOptions[] = [];
  readonly pulls: string[] = [];
  readonly containers = new Map<string, { details: ContainerDetails; stdout: string }>();

  constructor(
    private readonly program: (options: RunContainerOptions) => FakeExit = () => ({ exitCode: 0 }),
  ) {}

  addImage(details: ImageDetails): void {
    for (const tag of details.repoTags) this.images.set(tag, details);
  }

  inspectImage(image: string): Promise<ImageDetails> {
    const found = this.images.get(image);
    return found === undefined ? Promise.reject(new ImageNotFoundError(image)) : Promise.resolve(found);
  }

  imageExists(image: string): Promise<boolean> {
    return Promise.resolve(this.images.has(image));
  }

  runDetached(options: RunContainerOptions): Promise<string> {
    this.started.push(options);
    const ended = this.program(options);
    const id = `container-${this.started.length}`;
    const details: ContainerDetails = {
      id,
      name: options.name ?? id,
      image: options.image,
      status: 'exited',
      running: false,
      exitCode: ended.exitCode,
      oomKilled: false,
      labels: options.labels ?? {},
    };
    this.containers.set(id, { details, stdout: ended.stdout ?? '' });
    return Promise.resolve(id);
  }

  wait(container: string): Promise<number> {
    return Promise.resolve(this.containers.get(container)?.details.exitCode ?? 0);
  }

  inspectContainer(container: string): Promise<ContainerDetails> {
    const found = this.containers.get(container);
    return found === undefined ? Promise.reject(new Error(container)) : Promise.resolve(found.details);
  }

  logs(container: string): Promise<{ stdout: string; stderr: string }> {
    return Promise.resolve({ stdout: this.containers.get(container)?.stdout ?? '', stderr: '' });
  }

  remove(containers: readonly string[]): Promise<void> {
    for (const container of containers) this.containers.delete(container);
    return Promise.resolve();
  }

  stop(): Promise<void> {
    return Promise.resolve();
  }

  pull(image: string): Promise<void> {
    this.pulls.push(image);
    return Promise.reject(new Error('the fake pulls nothing'));
  }

  build(): Promise<string> {
    return Promise.reject(new Error('the fake builds nothing'));
  }

  push(): Promise<string> {
    return Promise.reject(new Error('the fake pushes nothing'));
  }

  tag(): Promise<void> {
    return Promise.resolve();
  }

  removeImages(): Promise<void> {
    return Promise.resolve();
  }

  run(): Promise<never> {
    return Promise.reject(new Error('sluice try runs its containers detached'));
  }

  listContainers(): Promise<readonly ContainerDetails[]> {
    return Promise.resolve([...this.containers.values()].map((c) => c.details));
  }

  login(): Promise<void> {
    return Promise.resolve();
  }
}

let dir: string;

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'sluice-try-unit-'));
  await writeFile(join(dir, 'words.txt'), 'the quick brown fox\n');
});

afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function manifest(fields: Record<string, unknown> = {}): Promise<string> {
  const path = join(dir, 'algorithm.json');
  await writeFile(
    path,
    JSON.stringify({
      name: 'upper',
      version: '1.0',
      image: IMAGE,
      memory: 64,
      input: '/data/in/',
      output: '/data/out/',
      env: { SIZE: { default: '3' }, TOKEN: { secret: true } },
      retry: { permanentExitCodes: [3] },
      ...fields,
    }),
  );
  return path;
}

/** `sluice try ARGS` with the engine given; a user error becomes exit 2 with its message, as runCli does. */
async function sluiceTry(
  args: string[],
  engine: FakeEngine,
): Promise<{ code: ExitCode; out: string; err: string }> {
  let out = '';
  let err = '';
  const context: CommandContext = {
    io: {
      out: (text) => (out += text),
      err: (text) => (err += text),
      readFile: (path) => readFile(path, 'utf8'),
    },
    exitCode: ExitCode.ok,
  };
  const program = new Command().exitOverride();
  registerTry(program, context, { engine: () => Promise.resolve(engine) });
  try {
    await program.parseAsync(['try', ...args], { from: 'user' });
    return { code: context.exitCode, out, err };
  } catch (thrown) {
    if (!isConfigurationError(thrown)) throw thrown;
    return { code: ExitCode.invalid, out, err: `${err}${thrown.message}` };
  }
}

function engineWith(program: (options: RunContainerOptions) => FakeExit, image = imageDetails()): FakeEngine {
  const engine = new FakeEngine(program);
  engine.addImage(image);
  return engine;
}

describe('sluice try (in the image)', () => {
  it("runs an image-only manifest with the image's entrypoint and the runner's settings", async () => {
    const engine = engineWith(upper());
    const out = join(dir, 'out');

    const tried = await sluiceTry([await manifest(), join(dir, 'words.txt'), '--out', out], engine);

    expect(tried.code).toBe(ExitCode.ok);
    expect(engine.started).toEqual([
      expect.objectContaining({
        image: IMAGE,
        entrypoint: ['/app/upper'],
        user: '65532:65532',
        env: { SIZE: '3', HOME: '/tmp/sluice-home' },
        capDrop: ['ALL'],
        noNewPrivileges: true,
        memoryMiB: 64,
      }),
    ]);
    expect(await readFile(join(out, 'upper.txt'), 'utf8')).toBe('THE QUICK BROWN FOX\n');
    expect(tried.out).toContain('[stdout] SIZE=3 TOKEN=');
    expect(tried.out).toContain('"placedAt": "/data/in/words.txt"');
    expect(tried.out).toContain('"status": "succeeded"');
    expect(engine.containers.size).toBe(0);
  });

  it("puts the manifest's command after the entrypoint, with the container's paths", async () => {
    const engine = engineWith(upper());

    await sluiceTry(
      [
        await manifest({ command: ['--in', '{input}', '{output}'] }),
        join(dir, 'words.txt'),
        '--out',
        join(dir, 'o'),
      ],
      engine,
    );

    expect(engine.started[0]?.entrypoint).toEqual(['/app/upper', '--in', '/data/in/words.txt', '/data/out']);
  });

  it('prints a failure with its class, exit 1, and masks a secret value in the log', async () => {
    const engine = engineWith(upper(3));

    const tried = await sluiceTry(
      [await manifest(), join(dir, 'words.txt'), '--env', `TOKEN=${SECRET}`, '--out', join(dir, 'o')],
      engine,
    );

    expect(tried.code).toBe(ExitCode.fault);
    expect(tried.out).toContain('"failureClass": "algorithm-exit"');
    expect(tried.out).toContain('"retryable": false');
    expect(tried.out).toContain('TOKEN=***');
    expect(tried.out).not.toContain(SECRET);
  });

  it('refuses an image that is not here, without pulling, exit 2', async () => {
    const engine = new FakeEngine();

    const tried = await sluiceTry([await manifest(), join(dir, 'words.txt')], engine);

    expect(tried.code).toBe(ExitCode.invalid);
    expect(tried.err).toContain('sluice try does not pull');
    expect(engine.pulls).toEqual([]);
  });

  it('refuses an image built for another platform than the manifest says, exit 2', async () => {
    const engine = engineWith(
      upper(),
      imageDetails({ os: 'linux', architecture: 's390x', platform: 'linux/s390x' }),
    );

    const tried = await sluiceTry([await manifest(), join(dir, 'words.txt')], engine);

    expect(tried.code).toBe(ExitCode.invalid);
    expect(tried.err).toContain('is for linux/s390x, but algorithm.json says "platform"');
    expect(engine.started).toEqual([]);
  });

  it('checks --timeout and required variables before anything runs, exit 2', async () => {
    const engine = engineWith(upper());

    const timeout = await sluiceTry([await manifest(), join(dir, 'words.txt'), '--timeout', '0'], engine);
    const required = await sluiceTry(
      [await manifest({ env: { KEY: { required: true } } }), join(dir, 'words.txt')],
      engine,
    );

    expect(timeout).toMatchObject({ code: ExitCode.invalid });
    expect(timeout.err).toContain('--timeout must be a whole number of seconds, found 0');
    expect(required.err).toContain('the algorithm requires KEY: pass --env NAME=VALUE');
    expect(engine.started).toEqual([]);
  });
});

describe('sluice try --host', () => {
  it('uses no container engine, and needs a command', async () => {
    const engine = engineWith(upper());

    const tried = await sluiceTry([await manifest(), join(dir, 'words.txt'), '--host'], engine);

    expect(tried.code).toBe(ExitCode.invalid);
    expect(tried.err).toContain('has no "command"');
    expect(engine.started).toEqual([]);
  });
});

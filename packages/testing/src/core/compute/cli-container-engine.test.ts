import { writeFileSync } from 'node:fs';

import { describe, expect, it } from '@jest/globals';

import { ConfigurationError } from '../errors.js';
import {
  CommandNotFoundError,
  type CommandOptions,
  type CommandResult,
  type CommandRunner,
} from './command-runner.js';
import {
  CliContainerEngine,
  ContainerEngineError,
  ImageBuildError,
  ImageNotFoundError,
  detectContainerEngine,
  digestFromPushOutput,
  parseContainerInspect,
  parseImageInspect,
  repositoryOf,
  tailLines,
} from './container-engine.js';

interface Call {
  readonly file: string;
  readonly args: readonly string[];
  readonly options: CommandOptions;
}

type Script = (call: Call) => Partial<CommandResult> | 'missing';

/** A CommandRunner that answers from a script and remembers what it was asked. */
class FakeRunner implements CommandRunner {
  readonly calls: Call[] = [];

  constructor(private readonly script: Script) {}

  run(file: string, args: readonly string[], options: CommandOptions = {}): Promise<CommandResult> {
    const call = { file, args, options };
    this.calls.push(call);
    const answer = this.script(call);
    if (answer === 'missing') return Promise.reject(new CommandNotFoundError(file));
    return Promise.resolve({ exitCode: 0, stdout: '', stderr: '', ...answer });
  }
}

const DIGEST = `sha256:${'a'.repeat(64)}`;
const IMAGE_ID = 'b'.repeat(64);

/** Does what a real build does with `--iidfile`: writes the new image's id there. */
function writeIidFile(call: Call): Partial<CommandResult> {
  const at = call.args.indexOf('--iidfile');
  const file = call.args[at + 1];
  if (at >= 0 && file !== undefined) writeFileSync(file, `sha256:${IMAGE_ID}`);
  return {};
}

const PODMAN_INSPECT = `[
  {
    "Id": "bf14dbfc035fe6e4cf38933c92bed1c54d084732163396b7d911a623ab7edd85",
    "Digest": "sha256:55066563b5f7163357ad46214dda5c3124bf292f9740e71834c79d42fabdfacd",
    "RepoTags": ["localhost/exp1:1"],
    "RepoDigests": ["localhost/exp1@sha256:55066563b5f7163357ad46214dda5c3124bf292f9740e71834c79d42fabdfacd"],
    "Config": {
      "User": "1000:1000",
      "Env": ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"],
      "Entrypoint": ["/bin/sh", "-c"],
      "Cmd": ["echo hi"],
      "WorkingDir": "/work",
      "Labels": {"io.buildah.version": "1.28.2"}
    },
    "Architecture": "amd64",
    "Os": "linux",
    "Size": 2130204
  }
]`;

const DOCKER_INSPECT =
  '{"Id":"sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef","RepoTags":["algo:1"],"RepoDigests":[],' +
  '"Config":{"Env":null,"Entrypoint":null,"Cmd":["/app"],"WorkingDir":"","User":"","Labels":null},' +
  '"Architecture":"arm64","Variant":"v8","Os":"linux","Size":1234}\n';

describe('parseImageInspect', () => {
  it("reads podman's array output", () => {
    const details = parseImageInspect(PODMAN_INSPECT);

    expect(details).toMatchObject({
      id: 'sha256:bf14dbfc035fe6e4cf38933c92bed1c54d084732163396b7d911a623ab7edd85',
      entrypoint: ['/bin/sh', '-c'],
      cmd: ['echo hi'],
      workingDir: '/work',
      user: '1000:1000',
      labels: { 'io.buildah.version': '1.28.2' },
      platform: 'linux/amd64',
      sizeBytes: 2130204,
    });
    expect(details.repoDigests).toHaveLength(1);
  });

  it("reads docker's one-object-per-line output, keeping null entrypoint apart from an empty one", () => {
    const details = parseImageInspect(DOCKER_INSPECT);

    expect(details.entrypoint).toBeNull();
    expect(details.cmd).toEqual(['/app']);
    expect(details.env).toEqual([]);
    expect(details.labels).toEqual({});
    expect(details.platform).toBe('linux/arm64/v8');
  });

  it('refuses output that is not JSON', () => {
    expect(() => parseImageInspect('Error: oops')).toThrow(ContainerEngineError);
  });
});

describe('parseContainerInspect', () => {
  it('reads state, labels and names from either engine', () => {
    const output =
      '{"Id":"c1","Name":"/worker-1","State":{"Status":"exited","Running":false,"ExitCode":137,"OOMKilled":true},"Config":{"Image":"algo:1","Labels":{"org.sluice.run":"r1"}}}\n' +
      '{"Id":"c2","Name":"worker-2","State":{"Status":"running","Running":true,"ExitCode":0},"Config":{"Image":"algo:1"},"ImageName":"algo:1"}\n';

    const [first, second] = parseContainerInspect(output);

    expect(first).toEqual({
      id: 'c1',
      name: 'worker-1',
      image: 'algo:1',
      status: 'exited',
      running: false,
      exitCode: 137,
      oomKilled: true,
      labels: { 'org.sluice.run': 'r1' },
    });
    expect(second).toMatchObject({ name: 'worker-2', running: true, oomKilled: false, labels: {} });
  });
});

describe('small helpers', () => {
  it('finds the digest docker prints after a push', () => {
    expect(
      digestFromPushOutput(`The push refers to repository [r/x]\n1: digest: ${DIGEST} size: 528\n`),
    ).toBe(DIGEST);
    expect(digestFromPushOutput('nothing here')).toBeUndefined();
  });

  it('takes the repository out of references with registries, ports, tags and digests', () => {
    expect(repositoryOf('127.0.0.1:5000/team/app:1')).toBe('127.0.0.1:5000/team/app');
    expect(repositoryOf(`127.0.0.1:5000/team/app@${DIGEST}`)).toBe('127.0.0.1:5000/team/app');
    expect(repositoryOf('127.0.0.1:5000/app')).toBe('127.0.0.1:5000/app');
  });

  it('keeps the last lines of a log', () => {
    expect(tailLines('a\nb\nc\n\n', 2)).toBe('b\nc');
  });
});

describe('CliContainerEngine', () => {
  it('builds with podman build, passing every option as its own argument', async () => {
    const runner = new FakeRunner(writeIidFile);
    const engine = new CliContainerEngine({ kind: 'podman', runner });

    const id = await engine.build({
      context: '/ctx',
      containerfile: '/ctx/Dockerfile.prod',
      buildArgs: { VERSION: '1 2' },
      target: 'final',
      platform: 'linux/amd64',
      tags: ['localhost/a:1'],
      labels: { 'org.sluice.algorithm': 'a@1' },
    });

    const args = runner.calls[0]?.args ?? [];
    expect(id).toBe(`sha256:${IMAGE_ID}`);
    expect(runner.calls[0]?.file).toBe('podman');
    expect(args.slice(0, 2)).toEqual(['build', '--layers']);
    expect(args).toEqual(
      expect.arrayContaining([
        '--file',
        '/ctx/Dockerfile.prod',
        '--build-arg',
        'VERSION=1 2',
        '--target',
        'final',
      ]),
    );
    expect(args).toEqual(expect.arrayContaining(['--platform', 'linux/amd64', '--tag', 'localhost/a:1']));
    expect(args).toEqual(expect.arrayContaining(['--label', 'org.sluice.algorithm=a@1']));
    expect(args.at(-1)).toBe('/ctx');
  });

  it('builds with docker buildx build --load when buildx is there, plain docker build otherwise', async () => {
    const withBuildx = new FakeRunner(writeIidFile);
    const without = new FakeRunner((call) =>
      call.args[0] === 'buildx' && call.args[1] === 'version' ? { exitCode: 1 } : writeIidFile(call),
    );

    await new CliContainerEngine({ kind: 'docker', runner: withBuildx }).build({ context: '.', tags: ['a'] });
    await new CliContainerEngine({ kind: 'docker', runner: without }).build({ context: '.', tags: ['a'] });

    expect(withBuildx.calls[1]?.args.slice(0, 3)).toEqual(['buildx', 'build', '--load']);
    expect(without.calls[1]?.args[0]).toBe('build');
  });

  it('turns a failed build into an ImageBuildError ending with the build log', async () => {
    const log = Array.from({ length: 100 }, (_, i) => `step ${i}`).join('\n');
    const runner = new FakeRunner(() => ({ exitCode: 1, stderr: `${log}\nError: COPY failed: missing.txt` }));
    const engine = new CliContainerEngine({ kind: 'podman', runner });

    const error = await engine.build({ context: '/ctx', tags: ['x:1'] }).catch((e: unknown) => e);

    expect(error).toBeInstanceOf(ImageBuildError);
    expect(error).toBeInstanceOf(ConfigurationError);
    expect((error as ImageBuildError).message).toMatch(/building x:1 from \/ctx failed/);
    expect((error as ImageBuildError).logTail).toMatch(/COPY failed: missing.txt$/);
    expect((error as ImageBuildError).logTail).not.toMatch(/step 0\n/);
  });

  it('says what to install when the engine is missing', async () => {
    const engine = new CliContainerEngine({ kind: 'podman', runner: new FakeRunner(() => 'missing') });

    await expect(engine.inspectImage('x')).rejects.toThrow(
      /podman is not installed.*Install Docker .* or Podman/,
    );
  });

  it('reports a missing image as ImageNotFoundError', async () => {
    const runner = new FakeRunner(() => ({ exitCode: 125, stderr: 'Error: x: image not known' }));

    await expect(new CliContainerEngine({ kind: 'podman', runner }).inspectImage('x')).rejects.toThrow(
      ImageNotFoundError,
    );
  });

  it('passes variable values through the environment, never on the command line', async () => {
    const runner = new FakeRunner(() => ({ stdout: 'c0ffee\n' }));
    const engine = new CliContainerEngine({ kind: 'docker', runner, env: { DOCKER_HOST: 'unix:///x.sock' } });

    const id = await engine.runDetached({
      image: 'algo:1',
      name: 'w1',
      env: { API_TOKEN: 's3cr3t-value' },
      memoryMiB: 640,
      pidsLimit: 256,
      network: 'host',
      ulimits: [{ name: 'nofile', soft: 1024, hard: 1024 }],
      labels: { 'org.sluice.run': 'r1' },
      command: ['--once'],
    });

    const call = runner.calls[0];
    expect(id).toBe('c0ffee');
    expect(call?.args.join(' ')).not.toContain('s3cr3t-value');
    expect(call?.args).toEqual([
      'run',
      '--detach',
      '--name',
      'w1',
      '--env',
      'API_TOKEN',
      '--memory',
      '640m',
      '--memory-swap',
      '640m',
      '--pids-limit',
      '256',
      '--network',
      'host',
      '--ulimit',
      'nofile=1024:1024',
      '--label',
      'org.sluice.run=r1',
      'algo:1',
      '--once',
    ]);
    expect(call?.options.env).toEqual({ DOCKER_HOST: 'unix:///x.sock', API_TOKEN: 's3cr3t-value' });
  });

  it('runs an entrypoint override as --entrypoint plus arguments after the image', () => {
    const engine = new CliContainerEngine({ kind: 'podman', runner: new FakeRunner(() => ({})) });

    const { args } = engine.runArguments(
      { image: 'i', entrypoint: ['/bin/sh', '-c'], command: ['echo hi'], remove: true },
      false,
    );

    expect(args).toEqual(['run', '--rm', '--entrypoint', '/bin/sh', 'i', '-c', 'echo hi']);
  });

  it('gets the digest of a docker push from its output, or from the image once pushed', async () => {
    const printed = new FakeRunner(() => ({ stdout: `1: digest: ${DIGEST} size: 528` }));
    const silent = new FakeRunner((call) =>
      call.args[0] === 'image'
        ? {
            stdout: `{"Id":"x","RepoDigests":["other/x@sha256:${'b'.repeat(64)}","127.0.0.1:5000/x@${DIGEST}"]}`,
          }
        : { stdout: 'pushed' },
    );

    expect(await new CliContainerEngine({ kind: 'docker', runner: printed }).push('127.0.0.1:5000/x:1')).toBe(
      DIGEST,
    );
    expect(await new CliContainerEngine({ kind: 'docker', runner: silent }).push('127.0.0.1:5000/x:1')).toBe(
      DIGEST,
    );
  });

  it('logs in with the password on standard input and masks it', async () => {
    const runner = new FakeRunner(() => ({}));
    const secrets: string[] = [];
    const logger = {
      debug: () => undefined,
      info: () => undefined,
      warning: () => undefined,
      error: () => undefined,
      setSecret: (s: string) => secrets.push(s),
    };

    await new CliContainerEngine({ kind: 'podman', runner, logger }).login({
      registry: 'r.example',
      username: 'AWS',
      password: 'tok',
    });

    expect(runner.calls[0]?.args).toEqual(['login', '--username', 'AWS', '--password-stdin', 'r.example']);
    expect(runner.calls[0]?.options.input).toBe('tok');
    expect(secrets).toEqual(['tok']);
  });

  it('lists containers by label through ps and inspect', async () => {
    const runner = new FakeRunner((call) =>
      call.args[0] === 'ps'
        ? { stdout: 'c1\nc2\n' }
        : {
            stdout:
              '[{"Id":"c1","Name":"a","State":{"Status":"running","Running":true}},{"Id":"c2","Name":"b","State":{"Status":"exited"}}]',
          },
    );

    const found = await new CliContainerEngine({ kind: 'podman', runner }).listContainers(
      'org.sluice.run=r1',
    );

    expect(found.map((c) => c.name)).toEqual(['a', 'b']);
    expect(runner.calls[0]?.args).toEqual([
      'ps',
      '--all',
      '--quiet',
      '--no-trunc',
      '--filter',
      'label=org.sluice.run=r1',
    ]);
  });

  it('waits for a container and returns its exit code', async () => {
    const runner = new FakeRunner(() => ({ stdout: '3\n' }));

    expect(await new CliContainerEngine({ kind: 'docker', runner }).wait('c1')).toBe(3);
  });
});

describe('detectContainerEngine', () => {
  it('takes SLUICE_CONTAINER_ENGINE as given without probing', async () => {
    const runner = new FakeRunner(() => 'missing');

    const engine = await detectContainerEngine({
      environment: { SLUICE_CONTAINER_ENGINE: 'podman' },
      runner,
    });

    expect(engine.kind).toBe('podman');
    expect(runner.calls).toHaveLength(0);
  });

  it('refuses an engine it does not know', async () => {
    await expect(
      detectContainerEngine({
        environment: { SLUICE_CONTAINER_ENGINE: 'nerdctl' },
        runner: new FakeRunner(() => ({})),
      }),
    ).rejects.toThrow(/SLUICE_CONTAINER_ENGINE="nerdctl" is not an engine sluice can use/);
  });

  it('picks docker when a daemon answers', async () => {
    const engine = await detectContainerEngine({
      environment: {},
      runner: new FakeRunner(() => ({ stdout: '"28.2.2"' })),
    });

    expect(engine.kind).toBe('docker');
  });

  it('falls back to podman when docker is there but no daemon answers', async () => {
    const runner = new FakeRunner((call) =>
      call.file === 'docker'
        ? { exitCode: 1, stderr: 'Cannot connect to the Docker daemon' }
        : { stdout: 'podman version 4.3.1' },
    );

    const engine = await detectContainerEngine({ environment: {}, runner });

    expect(engine.kind).toBe('podman');
  });

  it('says what to install when there is neither', async () => {
    const runner = new FakeRunner((call) =>
      call.file === 'docker' ? { exitCode: 1, stderr: 'Cannot connect to the Docker daemon' } : 'missing',
    );

    const error = await detectContainerEngine({ environment: {}, runner }).catch((e: unknown) => e);

    expect(error).toBeInstanceOf(ConfigurationError);
    expect((error as Error).message).toMatch(
      /no Docker daemon answers \(Cannot connect to the Docker daemon\), and podman is not installed\. Install Docker/,
    );
  });
});

describe('CliContainerEngine.listImages', () => {
  it('lists images by label, each once, and skips one removed before it was inspected', async () => {
    const runner = new FakeRunner((call) => {
      if (call.args[0] === 'images')
        return { stdout: `sha256:${'1'.repeat(64)}\nsha256:${'1'.repeat(64)}\nsha256:${'2'.repeat(64)}\n` };
      if (call.args.includes(`sha256:${'2'.repeat(64)}`))
        return { exitCode: 125, stderr: 'Error: image not known' };
      return {
        stdout: JSON.stringify({ Id: '1'.repeat(64), Config: { Labels: { 'org.sluice.algorithm': 'a@1' } } }),
      };
    });

    const found = await new CliContainerEngine({ kind: 'docker', runner }).listImages(
      'org.sluice.algorithm=a@1',
    );

    expect(found.map((image) => [image.id, image.labels['org.sluice.algorithm']])).toEqual([
      [`sha256:${'1'.repeat(64)}`, 'a@1'],
    ]);
    expect(runner.calls[0]?.args).toEqual([
      'images',
      '--quiet',
      '--no-trunc',
      '--filter',
      'label=org.sluice.algorithm=a@1',
    ]);
  });
});

// CliContainerEngine's commands against a scripted CommandRunner: the arguments it passes, and how it
// reads the answers. Here rather than in packages/core because a core test importing @sluice/testing
// would make the two projects depend on each other (nx refuses the cycle); podman itself runs the
// same engine in test/integration/container-engine.test.ts.
import { writeFileSync } from 'node:fs';

import { describe, expect, it } from '@jest/globals';
import { ConfigurationError } from '@sluice/core';
import {
  CliContainerEngine,
  ImageBuildError,
  ImageNotFoundError,
  type CommandResult,
} from '@sluice/core/compute';

import { FakeCommandRunner, type CommandCall } from '../../fake-command-runner.js';
import { RecordingLogger } from '../../recording-logger.js';

const DIGEST = `sha256:${'a'.repeat(64)}`;
const IMAGE_ID = 'b'.repeat(64);

/** Does what a real build does with `--iidfile`: writes the new image's id there. */
function writeIidFile(call: CommandCall): Partial<CommandResult> {
  const at = call.args.indexOf('--iidfile');
  const file = call.args[at + 1];
  if (at >= 0 && file !== undefined) writeFileSync(file, `sha256:${IMAGE_ID}`);
  return {};
}

describe('CliContainerEngine', () => {
  it('builds with podman build, passing every option as its own argument', async () => {
    const runner = new FakeCommandRunner(writeIidFile);
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
    const withBuildx = new FakeCommandRunner(writeIidFile);
    const without = new FakeCommandRunner((call) =>
      call.args[0] === 'buildx' && call.args[1] === 'version' ? { exitCode: 1 } : writeIidFile(call),
    );

    await new CliContainerEngine({ kind: 'docker', runner: withBuildx }).build({ context: '.', tags: ['a'] });
    await new CliContainerEngine({ kind: 'docker', runner: without }).build({ context: '.', tags: ['a'] });

    expect(withBuildx.calls[1]?.args.slice(0, 3)).toEqual(['buildx', 'build', '--load']);
    expect(without.calls[1]?.args[0]).toBe('build');
  });

  it('turns a failed build into an ImageBuildError ending with the build log', async () => {
    const log = Array.from({ length: 100 }, (_, i) => `step ${i}`).join('\n');
    const runner = new FakeCommandRunner(() => ({
      exitCode: 1,
      stderr: `${log}\nError: COPY failed: missing.txt`,
    }));
    const engine = new CliContainerEngine({ kind: 'podman', runner });

    const error = await engine.build({ context: '/ctx', tags: ['x:1'] }).catch((e: unknown) => e);

    expect(error).toBeInstanceOf(ImageBuildError);
    expect(error).toBeInstanceOf(ConfigurationError);
    expect((error as ImageBuildError).message).toMatch(/building x:1 from \/ctx failed/);
    expect((error as ImageBuildError).logTail).toMatch(/COPY failed: missing.txt$/);
    expect((error as ImageBuildError).logTail).not.toMatch(/step 0\n/);
  });

  it('says what to install when the engine is missing', async () => {
    const engine = new CliContainerEngine({ kind: 'podman', runner: new FakeCommandRunner(() => 'missing') });

    await expect(engine.inspectImage('x')).rejects.toThrow(
      /podman is not installed.*Install Docker .* or Podman/,
    );
  });

  it('reports a missing image as ImageNotFoundError', async () => {
    const runner = new FakeCommandRunner(() => ({ exitCode: 125, stderr: 'Error: x: image not known' }));

    await expect(new CliContainerEngine({ kind: 'podman', runner }).inspectImage('x')).rejects.toThrow(
      ImageNotFoundError,
    );
  });

  it('passes variable values through the environment, never on the command line', async () => {
    const runner = new FakeCommandRunner(() => ({ stdout: 'c0ffee\n' }));
    const engine = new CliContainerEngine({ kind: 'docker', runner, env: { DOCKER_HOST: 'unix:///x.sock' } });

    const id = await engine.runDetached({
      image: 'algo:1',
      name: 'w1',
      env: { API_TOKEN: 's3cr3t-value' },
      memoryMiB: 640,
      pidsLimit: 256,
      network: 'bridge',
      addHosts: ['host.docker.internal:host-gateway'],
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
      'bridge',
      '--add-host=host.docker.internal:host-gateway',
      '--ulimit',
      'nofile=1024:1024',
      '--label',
      'org.sluice.run=r1',
      'algo:1',
      '--once',
    ]);
    expect(call?.options.env).toEqual({ DOCKER_HOST: 'unix:///x.sock', API_TOKEN: 's3cr3t-value' });
  });

  it('hardens a run: capabilities dropped, no new privileges, a read-only root with tmpfs and scratch volumes', () => {
    for (const kind of ['docker', 'podman'] as const) {
      const engine = new CliContainerEngine({ kind, runner: new FakeCommandRunner(() => ({})) });

      const { args } = engine.runArguments(
        {
          image: 'i',
          capDrop: ['ALL'],
          capAdd: ['DAC_OVERRIDE'],
          noNewPrivileges: true,
          pidsLimit: 2048,
          readOnlyRootFilesystem: true,
          tmpfs: ['/tmp'],
          scratchVolumes: ['/data/in', '/data/out'],
        },
        true,
      );

      expect(args).toEqual([
        'run',
        '--detach',
        '--pids-limit',
        '2048',
        '--cap-drop=ALL',
        '--cap-add=DAC_OVERRIDE',
        '--security-opt',
        'no-new-privileges',
        '--read-only',
        '--tmpfs',
        '/tmp:rw,exec,nosuid,nodev,mode=1777',
        '--volume',
        '/data/in',
        '--volume',
        '/data/out',
        'i',
      ]);
    }
  });

  it('bind-mounts a host directory read-only (relabelled for SELinux), and refuses paths the short syntax would misread', () => {
    for (const kind of ['docker', 'podman'] as const) {
      const engine = new CliContainerEngine({ kind, runner: new FakeCommandRunner(() => ({})) });

      const { args } = engine.runArguments(
        { image: 'i', readOnlyMounts: [{ source: '/state/run/broker', target: '/run/sluice/credentials' }] },
        true,
      );

      expect(args).toEqual([
        'run',
        '--detach',
        '--volume',
        '/state/run/broker:/run/sluice/credentials:ro,z',
        'i',
      ]);
      for (const source of ['relative/dir', '/a:b', '/a,b']) {
        expect(() =>
          engine.runArguments({ image: 'i', readOnlyMounts: [{ source, target: '/run/x' }] }, true),
        ).toThrow(ConfigurationError);
      }
    }
  });

  it('removes a container with its anonymous volumes', async () => {
    const runner = new FakeCommandRunner(() => ({}));

    await new CliContainerEngine({ kind: 'docker', runner }).remove(['w1']);

    expect(runner.calls.map((call) => call.args)).toEqual([['rm', '--force', '--volumes', 'w1']]);
  });

  it('runs an entrypoint override as --entrypoint plus arguments after the image', () => {
    const engine = new CliContainerEngine({ kind: 'podman', runner: new FakeCommandRunner(() => ({})) });

    const { args } = engine.runArguments(
      { image: 'i', entrypoint: ['/bin/sh', '-c'], command: ['echo hi'], remove: true },
      false,
    );

    expect(args).toEqual(['run', '--rm', '--entrypoint', '/bin/sh', 'i', '-c', 'echo hi']);
  });

  it('gets the digest of a docker push from its output, or from the image once pushed', async () => {
    const printed = new FakeCommandRunner(() => ({ stdout: `1: digest: ${DIGEST} size: 528` }));
    const silent = new FakeCommandRunner((call) =>
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
    const runner = new FakeCommandRunner(() => ({}));
    const logger = new RecordingLogger();

    await new CliContainerEngine({ kind: 'podman', runner, logger }).login({
      registry: 'r.example',
      username: 'AWS',
      password: 'tok',
    });

    expect(runner.calls[0]?.args).toEqual(['login', '--username', 'AWS', '--password-stdin', 'r.example']);
    expect(runner.calls[0]?.options.input).toBe('tok');
    expect(logger.secrets).toEqual(['tok']);
  });

  it('lists containers by label through ps and inspect', async () => {
    const runner = new FakeCommandRunner((call) =>
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
    const runner = new FakeCommandRunner(() => ({ stdout: '3\n' }));

    expect(await new CliContainerEngine({ kind: 'docker', runner }).wait('c1')).toBe(3);
  });
});

describe('CliContainerEngine.listImages', () => {
  it('lists images by label, each once, and skips one removed before it was inspected', async () => {
    const runner = new FakeCommandRunner((call) => {
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

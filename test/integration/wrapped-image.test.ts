// Integration: wrapping real algorithm images with podman. Two layouts, both FROM scratch with no
// Node: a busybox image (a shell, a non-root USER, a WORKDIR, ENTRYPOINT + CMD) built from the
// manifest's `build`, and a glibc C program copied in with its `ldd` libraries, named by `image`.
// The wrapped images must start the carried Node through its loader, run the runner entry, and
// survive a push to the local registry, removal and a pull by digest.
//
// The runner bundle is a stand-in written here (the real one is packages/runner's dist): it reads
// the manifest and /sluice/original-image.json and runs the algorithm as the image would have.
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { copyFileSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { promisify } from 'node:util';

import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import {
  CliContainerEngine,
  WRAPPED_LABELS,
  parseLdd,
  runtimeCommand,
  withDigest,
  wrapAlgorithm,
  type WrappedImage,
} from '@sluice/core/compute';
import { parseManifest } from '@sluice/core';
import { containerEngineEnv, testbedEndpoints } from '@sluice/testing';

const execFileAsync = promisify(execFile);

const STAND_IN_RUNNER = `
import { readFileSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
const manifest = JSON.parse(readFileSync(process.env.SLUICE_MANIFEST, 'utf8'));
const original = JSON.parse(readFileSync(process.env.SLUICE_ORIGINAL_IMAGE, 'utf8'));
const argv = [...(original.entrypoint ?? []), ...(manifest.command ?? original.cmd ?? [])];
const child = spawnSync(argv[0], argv.slice(1), { encoding: 'utf8' });
console.log(JSON.stringify({
  runner: 'stand-in',
  node: process.version,
  args: process.argv.slice(2),
  name: manifest.name,
  cwd: process.cwd(),
  uid: process.getuid(),
  algorithm: { status: child.status, stdout: child.stdout, error: child.error?.message },
}));
`;

const HELLO_C = `
#include <stdio.h>
#include <unistd.h>
int main(int argc, char **argv) {
  char cwd[256];
  if (getcwd(cwd, sizeof cwd) == NULL) return 2;
  printf("hello from C in %s as %d:", cwd, (int)getuid());
  for (int i = 1; i < argc; i++) printf(" %s", argv[i]);
  printf("\\n");
  return 0;
}
`;

interface StandInReport {
  runner: string;
  node: string;
  args: string[];
  name: string;
  cwd: string;
  uid: number;
  algorithm: { status: number | null; stdout: string; error?: string };
}

function report(stdout: string): StandInReport {
  const line = stdout.trim().split('\n').pop() ?? '';
  return JSON.parse(line) as StandInReport;
}

describe('wrapping algorithm images with podman', () => {
  const id = randomBytes(4).toString('hex');
  const engine = new CliContainerEngine({ kind: 'podman', env: { ...containerEngineEnv() } });
  const { registry } = testbedEndpoints();
  const work = mkdtempSync(join(tmpdir(), 'sluice-wrap-it-'));
  const cacheDir = join(work, 'cache');
  const runnerDir = join(work, 'runner');
  const busyboxDir = join(work, 'busybox');
  const helloDir = join(work, 'hello');
  const helloImage = `localhost/sluice-it-${id}/hello-c:1`;
  const busyboxManifest = JSON.stringify(
    {
      name: `it-busybox-${id}`,
      version: '1.0',
      build: { context: 'image', dockerfile: 'Containerfile' },
      memory: 64,
      platform: 'linux/amd64',
    },
    null,
    2,
  );
  const helloManifest = JSON.stringify({
    name: `it-hello-${id}`,
    version: '1.0',
    image: helloImage,
    memory: 32,
  });
  const images: string[] = [];
  let busybox: WrappedImage;
  let hello: WrappedImage;
  let secondWrapMs = 0;
  let secondTimings = '';

  function wrap(manifestText: string, dir: string): Promise<WrappedImage> {
    return wrapAlgorithm({
      manifest: parseManifest(manifestText, 'algorithm.json'),
      manifestText,
      manifestPath: join(dir, 'algorithm.json'),
      engine,
      runnerDir,
      cacheDir,
    });
  }

  beforeAll(async () => {
    mkdirSync(runnerDir);
    writeFileSync(join(runnerDir, 'index.js'), STAND_IN_RUNNER);
    writeFileSync(join(runnerDir, 'package.json'), '{"type":"module"}\n');

    // busybox: a shell and core tools, a non-root user, a working directory.
    mkdirSync(join(busyboxDir, 'image'), { recursive: true });
    copyFileSync('/bin/busybox', join(busyboxDir, 'image', 'busybox'));
    writeFileSync(
      join(busyboxDir, 'image', 'Containerfile'),
      [
        'FROM scratch',
        'COPY busybox /bin/busybox',
        'RUN ["/bin/busybox", "--install", "-s", "/bin"]',
        'RUN ["/bin/mkdir", "-p", "/work"]',
        'WORKDIR /work',
        'USER 1000:1000',
        'ENTRYPOINT ["/bin/sh", "-c"]',
        'CMD ["echo busybox says hi from $(pwd) as $(id -u)"]',
        '',
      ].join('\n'),
    );

    // A glibc program with its libraries at their usual paths, and no shell at all.
    mkdirSync(join(helloDir, 'rootfs', 'opt', 'hello', 'bin'), { recursive: true });
    writeFileSync(join(helloDir, 'hello.c'), HELLO_C);
    const program = join(helloDir, 'rootfs', 'opt', 'hello', 'bin', 'hello');
    await execFileAsync('gcc', ['-O2', '-o', program, join(helloDir, 'hello.c')]);
    const { libraries, loader } = parseLdd((await execFileAsync('ldd', [program])).stdout);
    for (const path of [...libraries.map(([, p]) => p), ...(loader !== undefined ? [loader] : [])]) {
      mkdirSync(join(helloDir, 'rootfs', dirname(path)), { recursive: true });
      copyFileSync(path, join(helloDir, 'rootfs', path));
    }
    writeFileSync(
      join(helloDir, 'Containerfile'),
      [
        'FROM scratch',
        'COPY rootfs/ /',
        'WORKDIR /opt/hello',
        'ENTRYPOINT ["/opt/hello/bin/hello"]',
        'CMD ["--greet", "world"]',
        '',
      ].join('\n'),
    );
    images.push(helloImage);
    await engine.build({
      context: helloDir,
      containerfile: join(helloDir, 'Containerfile'),
      tags: [helloImage],
    });

    busybox = await wrap(busyboxManifest, busyboxDir);
    images.push(busybox.image, busybox.algorithmImage);
    const again = Date.now();
    const second = await wrap(busyboxManifest, busyboxDir);
    secondWrapMs = Date.now() - again;
    secondTimings = JSON.stringify(second.timings);
    expect(second.runtime.cached).toBe(true);
    // Whatever Node runs the test (20 here), the image carries the current LTS.
    expect(busybox.runtime.nodeVersion).toMatch(/^24\./);
    expect(second.reused).toBe(true);
    hello = await wrap(helloManifest, helloDir);
    images.push(hello.image);
    console.info(
      `wrap timings (ms): first busybox ${JSON.stringify(busybox.timings)}, second busybox ${secondTimings}, hello ${JSON.stringify(hello.timings)}; runtime ${busybox.runtime.bytes} bytes from ${busybox.runtime.source}`,
    );
  }, 300000);

  afterAll(async () => {
    // vfs keeps a full copy of every layer: leave nothing behind.
    await engine.removeImages(images);
    rmSync(work, { recursive: true, force: true });
  }, 120000);

  it('runs the runner as root, keeps the working dir, makes the runner the entrypoint and labels the image', async () => {
    const details = await engine.inspectImage(busybox.image);

    // The runner is root (it hands each task to the algorithm's own uid, the image's USER 1000,
    // recorded for it: test/integration/execution/run-as.test.ts and the hostile e2e test).
    expect(details.user).toBe('0:0');
    expect(details.workingDir).toBe('/work');
    expect(details.entrypoint).toEqual(runtimeCommand(busybox.runtime, '/sluice/runner/index.js'));
    expect(details.cmd ?? []).toEqual([]);
    expect(details.labels[WRAPPED_LABELS.algorithm]).toBe(`it-busybox-${id}@1.0`);
    expect(details.labels[WRAPPED_LABELS.manifestDigest]).toMatch(/^sha256:[a-f0-9]{64}$/);
    expect(busybox.original).toMatchObject({
      entrypoint: ['/bin/sh', '-c'],
      cmd: ['echo busybox says hi from $(pwd) as $(id -u)'],
      workingDir: '/work',
      user: '1000:1000',
    });
  }, 60000);

  it('runs the carried node in a FROM-scratch image that has no libc', async () => {
    const [program, ...rest] = runtimeCommand(hello.runtime, '-e');
    const result = await engine.run({
      image: hello.image,
      remove: true,
      network: 'none',
      entrypoint: [program ?? '', ...rest],
      command: ['console.log(process.version)'],
    });

    expect(result.stderr).toBe('');
    expect(result.stdout.trim()).toBe(`v${hello.runtime.nodeVersion}`);
  }, 60000);

  it('starts the runner entry, which runs each algorithm exactly as its image would', async () => {
    const fromBusybox = await engine.run({
      image: busybox.image,
      remove: true,
      network: 'none',
      command: ['--flag'],
    });
    const fromHello = await engine.run({ image: hello.image, remove: true, network: 'none' });

    expect(report(fromBusybox.stdout)).toEqual({
      runner: 'stand-in',
      node: `v${busybox.runtime.nodeVersion}`,
      args: ['--flag'],
      name: `it-busybox-${id}`,
      cwd: '/work',
      // The stand-in runs the algorithm as itself, root; the real runner switches to USER 1000.
      uid: 0,
      algorithm: { status: 0, stdout: 'busybox says hi from /work as 0\n' },
    });
    expect(report(fromHello.stdout)).toMatchObject({
      args: [],
      cwd: '/opt/hello',
      uid: 0,
      algorithm: { status: 0, stdout: 'hello from C in /opt/hello as 0: --greet world\n' },
    });
  }, 60000);

  it('wraps an unchanged algorithm again in seconds, from the cached runtime and layers', () => {
    expect(secondWrapMs).toBeLessThan(15000);
    expect(busybox.runtime.cached).toBe(false);
  });

  it('pushes both to the registry, and runs them again pulled back by digest', async () => {
    const outputs: string[] = [];
    for (const wrapped of [busybox, hello]) {
      const remote = `${registry}/sluice-it-${id}/${wrapped.image.split('/').pop() ?? ''}`;
      await engine.tag(wrapped.image, remote);
      const digest = await engine.push(remote);
      const reference = withDigest(remote, digest);
      const pushed = (await (
        await fetch(
          `http://${registry}/v2/${remote.slice(registry.length + 1).split(':')[0] ?? ''}/manifests/${digest}`,
          {
            headers: {
              Accept:
                'application/vnd.oci.image.manifest.v1+json, application/vnd.docker.distribution.manifest.v2+json',
            },
          },
        )
      ).json()) as { layers?: { size: number }[] };
      console.info(
        `${reference}: compressed layer sizes ${JSON.stringify(pushed.layers?.map((l) => l.size))}`,
      );
      await engine.removeImages([wrapped.image, remote]);
      const goneLocally = !(await engine.imageExists(remote));
      await engine.pull(reference);
      images.push(reference, remote);
      const result = await engine.run({ image: reference, remove: true, network: 'none' });

      expect(reference).toMatch(
        new RegExp(`^${registry}/sluice-it-${id}/it-[a-z]+-${id}:1\\.0@sha256:[a-f0-9]{64}$`),
      );
      expect(goneLocally).toBe(true);
      outputs.push(report(result.stdout).algorithm.stdout);
    }

    expect(outputs).toEqual([
      'busybox says hi from /work as 0\n',
      'hello from C in /opt/hello as 0: --greet world\n',
    ]);
  }, 180000);
});

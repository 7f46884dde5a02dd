import { describe, expect, it } from '@jest/globals';
import { unzipSync } from 'fflate';

import { SluiceError } from '../errors.js';
import { watcherFunctionName, watcherRuleName } from './watcher-deployer.js';
import { WATCHER_PACKAGE_JSON, codeSha256, watcherZip } from './watcher-package.js';
import { MAX_RUN_ID_LENGTH } from '../ids/run-id.js';

const bundle = new TextEncoder().encode('export const handler = async () => "ok";\n');
const text = (bytes: Uint8Array | undefined): string => new TextDecoder().decode(bytes);

describe('watcherZip', () => {
  it('holds index.js and package.json, as Lambda unpacks them', () => {
    const files = unzipSync(watcherZip(bundle));

    expect(Object.keys(files)).toEqual(['index.js', 'package.json']);
    expect(text(files['index.js'])).toBe(text(bundle));
    expect(JSON.parse(text(files['package.json']))).toEqual({ type: 'module' });
  });

  it('gives the same bytes every time, so the code digest only changes with the code', async () => {
    const first = watcherZip(bundle);
    await new Promise((resolve) => setTimeout(resolve, 1100));
    const second = watcherZip(bundle, WATCHER_PACKAGE_JSON);

    expect(Buffer.from(second).equals(Buffer.from(first))).toBe(true);
    expect(codeSha256(second)).toBe(codeSha256(first));
    expect(codeSha256(watcherZip(new TextEncoder().encode('changed')))).not.toBe(codeSha256(first));
  });

  it('gives the same bytes in every time zone (zip times are local times)', () => {
    const saved = process.env.TZ;
    try {
      process.env.TZ = 'UTC';
      const utc = watcherZip(bundle);
      process.env.TZ = 'Pacific/Kiritimati';
      const plus14 = watcherZip(bundle);
      process.env.TZ = 'America/Los_Angeles';
      const minus8 = watcherZip(bundle);

      expect(Buffer.from(plus14).equals(Buffer.from(utc))).toBe(true);
      expect(Buffer.from(minus8).equals(Buffer.from(utc))).toBe(true);
    } finally {
      if (saved === undefined) delete process.env.TZ;
      else process.env.TZ = saved;
    }
  });

  it('is the base64 SHA-256 Lambda reports as CodeSha256', () => {
    expect(codeSha256(new TextEncoder().encode('abc'))).toBe('ungWv48Bz+pBQUDeXa4iI7ADYaOWF3qctBD/YfIAFa0=');
  });
});

describe('watcher names', () => {
  it('derives the function and rule names from the run id, within their 64-character limits', () => {
    const longest = `${'a'.repeat(MAX_RUN_ID_LENGTH - 9)}-0123abcd`;

    expect(watcherFunctionName('thumbs-3f9a0c12')).toBe('sluice-thumbs-3f9a0c12-watch');
    expect(watcherRuleName('thumbs-3f9a0c12')).toBe('sluice-thumbs-3f9a0c12-watch');
    expect(watcherFunctionName(longest).length).toBeLessThanOrEqual(64);
    expect(watcherRuleName(longest).length).toBeLessThanOrEqual(64);
  });

  it('refuses what is not a run id', () => {
    expect(() => watcherFunctionName('Not A Run')).toThrow(SluiceError);
  });
});

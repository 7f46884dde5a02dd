// `sluice init` refuses before it touches the container engine: these need none.
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { afterEach, beforeEach, describe, expect, it } from '@jest/globals';

import { ExitCode } from '../exit-codes.js';
import { processIo, type CliIo } from '../io.js';
import { runCli } from '../program.js';

async function init(args: readonly string[]): Promise<{ code: number; out: string; err: string }> {
  let out = '';
  let err = '';
  const io: CliIo = { ...processIo, out: (text) => (out += text), err: (text) => (err += text) };
  const code = await runCli(['init', ...args], io);
  return { code, out, err };
}

describe('sluice init', () => {
  let dir: string;

  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'sluice-init-unit-'));
  });
  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it.each(['algorithm.json', 'job.json'])(
    'refuses to overwrite %s (exit 2), naming it and --force',
    async (file) => {
      await writeFile(join(dir, file), '{"mine": true}\n');

      const run = await init(['localhost/edges:1', '--dir', dir]);

      expect(run.code).toBe(ExitCode.invalid);
      expect(run.err).toContain(join(dir, file));
      expect(run.err).toContain('--force');
      expect(await readFile(join(dir, file), 'utf8')).toBe('{"mine": true}\n');
    },
  );

  it('wants an image or a Dockerfile, one of the two (exit 2)', async () => {
    const neither = await init(['--dir', dir]);
    const both = await init(['localhost/edges:1', '--dockerfile', 'Dockerfile', '--dir', dir]);

    expect(neither.code).toBe(ExitCode.invalid);
    expect(both.code).toBe(ExitCode.invalid);
    expect(neither.err).toContain('--dockerfile');
  });
});

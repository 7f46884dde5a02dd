// `sluice validate` on documents the JSON text reader must refuse before anything else reads them.
import { describe, expect, it } from '@jest/globals';

import { ExitCode } from '../exit-codes.js';
import type { CliIo } from '../io.js';
import { runCli } from '../program.js';

async function validate(files: Record<string, string>): Promise<{ code: number; out: string; err: string }> {
  let out = '';
  let err = '';
  const io: CliIo = {
    out: (text) => (out += text),
    err: (text) => (err += text),
    readFile: (path) => {
      const text = files[path];
      return text === undefined
        ? Promise.reject(Object.assign(new Error('ENOENT'), { code: 'ENOENT' }))
        : Promise.resolve(text);
    },
  };
  const code = await runCli(['validate', ...Object.keys(files)], io);
  return { code, out, err };
}

describe('sluice validate', () => {
  it('refuses 5,000 levels of nesting as invalid input (exit 2), not a crash', async () => {
    const deep = `{"name": "x", "env": ${'['.repeat(5000)}${']'.repeat(5000)}}`;

    const run = await validate({ 'job.json': deep });

    expect(run.err).toBe('');
    expect(run.code).toBe(ExitCode.invalid);
    expect(run.out).toContain('job.json');
    expect(run.out).toMatch(/nested more than 64 levels deep/);
    expect(run.out).toMatch(/line 1, column \d+/);
  });

  it('refuses a key given twice, naming both lines (exit 2)', async () => {
    const text =
      '{\n  "name": "thumbnails",\n  "version": "1",\n  "image": "x:1",\n  "memory": 512,\n  "env": {\n    "X": {"default": "a"},\n    "X": {"default": "b"}\n  }\n}\n';

    const run = await validate({ 'algorithm.json': text });

    expect(run.code).toBe(ExitCode.invalid);
    expect(run.out).toContain('$.env.X');
    expect(run.out).toMatch(/line 7.*line 8/);
  });
});

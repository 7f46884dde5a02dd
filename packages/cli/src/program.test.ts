import { describe, expect, it } from '@jest/globals';

import type { CliIo } from './io.js';
import { runCli } from './program.js';
import { VERSION } from './version.js';

interface Captured {
  readonly io: CliIo;
  readonly out: () => string;
  readonly err: () => string;
}

function capture(files: Record<string, string> = {}): Captured {
  let out = '';
  let err = '';
  return {
    io: {
      out: (text) => {
        out += text;
      },
      err: (text) => {
        err += text;
      },
      readFile: (path) => {
        const text = files[path];
        return text === undefined
          ? Promise.reject(Object.assign(new Error('ENOENT'), { code: 'ENOENT' }))
          : Promise.resolve(text);
      },
    },
    out: () => out,
    err: () => err,
  };
}

describe('sluice', () => {
  it('prints help listing the commands, exit 0', async () => {
    const run = capture();

    const code = await runCli(['--help'], run.io);

    expect(code).toBe(0);
    expect(run.out()).toContain('Usage: sluice');
    expect(run.out()).toContain('validate');
    expect(run.out()).toContain('Examples:');
  });

  it('prints per-command help with examples', async () => {
    const run = capture();

    const code = await runCli(['help', 'validate'], run.io);

    expect(code).toBe(0);
    expect(run.out()).toContain('Usage: sluice validate [options] <files...>');
    expect(run.out()).toContain('$ sluice validate algorithm.json job.json');
  });

  it('prints the version, exit 0', async () => {
    const run = capture();

    expect(await runCli(['--version'], run.io)).toBe(0);
    expect(run.out().trim()).toBe(VERSION);
  });

  it.each([[['frobnicate']], [['validate']], [['validate', '--yaml', 'a.json']], [[]]])(
    'treats the bad command line %j as a user error, exit 2',
    async (args) => {
      const run = capture();

      expect(await runCli(args, run.io)).toBe(2);
      expect(run.err()).not.toBe('');
    },
  );

  it('reports files that cannot be read as problems, exit 2', async () => {
    const run = capture();

    const code = await runCli(['validate', 'missing.json'], run.io);

    expect(code).toBe(2);
    expect(run.out()).toContain('missing.json: $: cannot read the file: the file does not exist');
    expect(run.out()).toContain('1 file checked: 0 valid, 1 with 1 problem');
  });

  it('gives the JSON report on stdout with --json', async () => {
    const run = capture();

    const code = await runCli(['validate', '--json', 'missing.json'], run.io);

    expect(code).toBe(2);
    expect(JSON.parse(run.out())).toMatchObject({
      valid: false,
      documents: [{ file: 'missing.json', kind: null, problems: [{ path: '$' }] }],
    });
  });
});

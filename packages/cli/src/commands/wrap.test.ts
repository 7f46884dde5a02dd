import { fileURLToPath } from 'node:url';

import { describe, expect, it } from '@jest/globals';

import type { CliIo } from '../io.js';
import { runCli } from '../program.js';
import { cliRunnerDir } from './wrap.js';

function capture(): { io: CliIo; err: () => string } {
  let err = '';
  return {
    io: {
      out: () => undefined,
      err: (text) => {
        err += text;
      },
      readFile: () => Promise.reject(new Error('not read')),
    },
    err: () => err,
  };
}

describe('sluice wrap', () => {
  it('needs somewhere to push, exit 2', async () => {
    const run = capture();

    const code = await runCli(['wrap', 'algorithm.json', '--push'], run.io);

    expect(code).toBe(2);
    expect(run.err()).toContain('--push needs somewhere to push: --registry <host> or --ecr');
  });

  it('needs a region to register a task definition, unless told not to, exit 2', async () => {
    const saved = { AWS_REGION: process.env.AWS_REGION, AWS_DEFAULT_REGION: process.env.AWS_DEFAULT_REGION };
    delete process.env.AWS_REGION;
    delete process.env.AWS_DEFAULT_REGION;
    try {
      const run = capture();

      const code = await runCli(['wrap', 'algorithm.json', '--registry', 'localhost:5000'], run.io);

      expect(code).toBe(2);
      expect(run.err()).toContain('pass --no-task-definition to push without an ECS task definition');
    } finally {
      for (const [name, value] of Object.entries(saved)) if (value !== undefined) process.env[name] = value;
    }
  });

  it('refuses --registry with --ecr, exit 2', async () => {
    const run = capture();

    const code = await runCli(['wrap', 'algorithm.json', '--registry', 'r.example', '--ecr'], run.io);

    expect(code).toBe(2);
    expect(run.err()).toContain('--registry and --ecr both name where to push');
  });

  it('finds the runner next to its own bundle', () => {
    expect(cliRunnerDir('file:///usr/lib/sluice/dist/index.js')).toBe(
      fileURLToPath('file:///usr/lib/sluice/dist/runner/'),
    );
  });
});

// `make demo` in CI: runs scripts/demo.sh — the script `make demo` runs after bootstrap — as a new
// user would, and checks that it ends as it promises: 22 thumbnails made, the 2 broken samples
// reported as failed, the results copied to disk, and the timings printed. The script starts and
// stops its own test bed (its own moto and registry) unless one already runs from scripts/testbed.sh.
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { afterAll, describe, expect, it } from '@jest/globals';
import { REPOSITORY_ROOT, containerEngineEnv } from '@sluice/testing';

const demoDir = mkdtempSync(join(tmpdir(), 'sluice-demo-'));

function runDemo(): Promise<{ code: number | null; output: string; ms: number }> {
  const env: NodeJS.ProcessEnv = {};
  // A user's shell: no AWS settings of the test bed jest started (the demo brings its own).
  for (const [key, value] of Object.entries(process.env)) {
    if (!/^(AWS_|SLUICE_)/.test(key)) env[key] = value;
  }
  Object.assign(env, containerEngineEnv(), { SLUICE_DEMO_DIR: demoDir });
  const started = Date.now();
  return new Promise((resolve, reject) => {
    const child = spawn('bash', ['scripts/demo.sh'], {
      cwd: REPOSITORY_ROOT,
      env,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.on('error', reject);
    child.on('close', (code) => {
      resolve({ code, output, ms: Date.now() - started });
    });
  });
}

afterAll(() => {
  rmSync(demoDir, { recursive: true, force: true });
});

describe('make demo', () => {
  it('builds, wraps and runs the thumbnail example, and reports 22 done and the 2 broken samples failed', async () => {
    const demo = await runDemo();
    console.info(`scripts/demo.sh: exit ${String(demo.code)} in ${demo.ms} ms`);

    expect({ code: demo.code, tail: demo.output.split('\n').slice(-40).join('\n') }).toMatchObject({
      code: 0,
    });
    expect(demo.output).toContain('22 succeeded, 2 failed (expected 22 and 2');
    expect(demo.output).toMatch(/failed: .*broken\/.*: /);
    expect(demo.output).toMatch(/demo: timings\n(.*\n)*\s+total\s+[0-9.]+ s/);
    const stats = join(demoDir, 'results', 'thumbnails', 'patterns', 'rings-800x800.ppm', 'stats.json');
    expect(existsSync(stats)).toBe(true);
    expect(JSON.parse(readFileSync(stats, 'utf8'))).toMatchObject({ width: 800, height: 800 });
  });
});

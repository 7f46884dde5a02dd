// The thumbnail example as its docs tell it, in one file so that nothing else runs the same job (and
// so the same run id) at the same time:
// - `make demo` (README.md's block readme-make) as a new user would: it ends as it promises — 22
//   thumbnails made, the 2 broken samples reported as failed, the results copied to disk, timings
//   printed. The script starts and stops its own test bed.
// - README.md's CLI walkthrough (block readme-cli) and the example's README blocks (thumbnails-*), run
//   as they stand in the docs against a moto server of this file's own and the test bed's registry.
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { REPOSITORY_ROOT, TESTBED_CREDENTIALS, testbedEndpoints } from '@sluice/testing';

import {
  awsCliBin,
  docBlock,
  outputTail,
  runDocCommands,
  type DocCommandsRun,
} from '../docs/doc-commands.js';
import { startMoto, type StartedServer } from '../testbed/servers.js';
import { plainShellEnv } from './e2e-support.js';

const demoDir = mkdtempSync(join(tmpdir(), 'sluice-demo-'));

function runMakeDemo(): Promise<{ code: number | null; output: string; ms: number }> {
  const started = Date.now();
  return new Promise((resolve, reject) => {
    const child = spawn('make', ['--no-print-directory', 'demo'], {
      cwd: REPOSITORY_ROOT,
      env: { ...plainShellEnv(), SLUICE_DEMO_DIR: demoDir },
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
    const demo = await runMakeDemo();
    console.info(`make demo: exit ${String(demo.code)} in ${demo.ms} ms`);

    expect({ code: demo.code, tail: demo.output.split('\n').slice(-40).join('\n') }).toMatchObject({
      code: 0,
    });
    expect(demo.output).toContain('22 succeeded, 2 failed (expected 22 and 2');
    expect(demo.output).toMatch(/failed: .*broken\/.*: /);
    expect(demo.output).toMatch(/demo: timings\n(.*\n)*\s+total\s+[0-9.]+ s/);
    const stats = join(demoDir, 'results', 'thumbnails', 'patterns', 'rings-800x800.ppm', 'stats.json');
    expect(existsSync(stats)).toBe(true);
    expect(JSON.parse(readFileSync(stats, 'utf8'))).toMatchObject({ width: 800, height: 800 });
  }, 600_000);
});

describe("the thumbnail example's commands, as the docs show them", () => {
  let moto: StartedServer;
  const home = mkdtempSync(join(tmpdir(), 'sluice-docs-home-'));
  // What the blocks leave in the checkout: samples, outputs, `sluice try`'s default output folder.
  const scratch = ['tmp/samples', 'tmp/out', 'sluice-try-out'].map((dir) => join(REPOSITORY_ROOT, dir));

  /** The shell the docs assume: the test bed's variables (`testbed.sh env`), the aws CLI on PATH. */
  function docsEnv(): NodeJS.ProcessEnv {
    return {
      ...plainShellEnv(),
      HOME: home,
      PATH: `${awsCliBin()}:${process.env.PATH ?? ''}`,
      AWS_ENDPOINT_URL: moto.url,
      AWS_REGION: 'us-east-1',
      AWS_DEFAULT_REGION: 'us-east-1',
      AWS_ACCESS_KEY_ID: TESTBED_CREDENTIALS.accessKeyId,
      AWS_SECRET_ACCESS_KEY: TESTBED_CREDENTIALS.secretAccessKey,
      SLUICE_TEST_REGISTRY: testbedEndpoints().registry,
    };
  }

  /** Each block starts from empty buckets: the same job's ledger would make a second run skip its files. */
  async function resetMoto(): Promise<void> {
    const response = await fetch(`${moto.url}/moto-api/reset`, { method: 'POST' });
    expect(response.ok).toBe(true);
  }

  async function run(file: string, id: string, timeoutMs = 300_000): Promise<DocCommandsRun> {
    const result = await runDocCommands(docBlock(file, id), {
      cwd: REPOSITORY_ROOT,
      env: docsEnv(),
      timeoutMs,
    });
    console.info(`${file} ${id}: exit ${String(result.code)} in ${result.ms} ms`);
    return result;
  }

  beforeAll(async () => {
    moto = await startMoto(join(REPOSITORY_ROOT, '.venv'), join(home, 'moto.log'));
  }, 90_000);

  afterAll(async () => {
    await moto.stop();
    rmSync(home, { recursive: true, force: true });
    // tmp/out holds files the container wrote as root: this process is root on the test machines.
    for (const dir of scratch) rmSync(dir, { recursive: true, force: true });
  });

  it('README.md readme-cli: validate, try, wrap, run, and the same step by step', async () => {
    await resetMoto();
    const walkthrough = await run('README.md', 'readme-cli', 480_000);

    expect({ code: walkthrough.code, tail: outputTail(walkthrough) }).toMatchObject({ code: 0 });
    expect(walkthrough.output).toContain('Usage: sluice');
    expect(walkthrough.output).toMatch(/algorithm\.json: valid/);
    // run, then collect: each completes with the two broken samples failed.
    expect(walkthrough.output.match(/22 succeeded, 2 failed/g)?.length).toBeGreaterThanOrEqual(2);
    expect(existsSync(join(home, 'thumbnails', 'bin', 'thumbnail'))).toBe(true);
  }, 600_000);

  it('examples/algorithms/thumbnails/README.md: build, run directly, try, wrap and run, podman run', async () => {
    const file = 'examples/algorithms/thumbnails/README.md';
    await resetMoto();

    const build = await run(file, 'thumbnails-build');
    expect({ code: build.code, tail: outputTail(build) }).toMatchObject({ code: 0 });

    const direct = await run(file, 'thumbnails-direct');
    expect({ code: direct.code, tail: outputTail(direct) }).toMatchObject({ code: 0 });
    expect(JSON.parse(readFileSync(join(REPOSITORY_ROOT, 'tmp/out/stats.json'), 'utf8'))).toMatchObject({
      width: 320,
      height: 240,
    });

    const tried = await run(file, 'thumbnails-try');
    expect({ code: tried.code, tail: outputTail(tried) }).toMatchObject({ code: 0 });

    const broken = await run(file, 'thumbnails-try-broken');
    expect({ code: broken.code, tail: outputTail(broken) }).toMatchObject({ code: 1 });
    expect(broken.output).toContain('algorithm-exit');
    expect(broken.output).toContain('exited with code 2 (permanent: not retried)');

    const wrapped = await run(file, 'thumbnails-wrap-run', 480_000);
    expect({ code: wrapped.code, tail: outputTail(wrapped) }).toMatchObject({ code: 0 });
    expect(wrapped.output).toContain('22 succeeded, 2 failed');

    const podman = await run(file, 'thumbnails-podman');
    expect({ code: podman.code, tail: outputTail(podman) }).toMatchObject({ code: 0 });
    expect(existsSync(join(REPOSITORY_ROOT, 'tmp/out/rings/stats.json'))).toBe(true);
  }, 900_000);
});

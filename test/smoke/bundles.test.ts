// Runs every committed bundle as a real process, as GitHub's runner and a user's shell would, under
// the machine's Node and under Node 24 (`runs.using: node24`): bundling failures show only at run time.
// (actions/reusable-workflows checks dist the same way.) Node 24 comes from scripts/install-node24.sh; when
// it is missing this fails, loudly.
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';

const root = fileURLToPath(new URL('../../', import.meta.url));
const node24 = join(root, '.testbed/node24/bin/node');
const cli = join(root, 'packages/cli/dist/index.js');
/** The example documents the README and `make demo` use; both must be valid. */
const validManifest = join(root, 'examples/algorithms/thumbnails/algorithm.json');
const validJob = join(root, 'examples/jobs/thumbnails.json');
/** Invalid as a manifest and as a job: both need a string name. */
const INVALID_DOCUMENT = '{ "name": 42 }\n';

interface Run {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

function run(command: string, args: readonly string[], cwd: string, env: NodeJS.ProcessEnv): Promise<Run> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { cwd, env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    child.on('error', reject);
    child.on('close', (code) => {
      resolve({ code, stdout, stderr });
    });
  });
}

/** The environment of a step: this process's, minus anything GitHub-ish or AWS-ish that could leak in. */
function baseEnv(): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [name, value] of Object.entries(process.env)) {
    if (!/^(INPUT_|STATE_|GITHUB_|RUNNER_|ACTIONS_|AWS_)/.test(name)) env[name] = value;
  }
  // No AWS endpoint and no credentials anywhere: a step that reaches AWS fails at once, and says why.
  env.AWS_EC2_METADATA_DISABLED = 'true';
  env.AWS_SHARED_CREDENTIALS_FILE = '/nonexistent/sluice-smoke/credentials';
  env.AWS_CONFIG_FILE = '/nonexistent/sluice-smoke/config';
  return env;
}

interface ActionCase {
  readonly action: string;
  /** The input naming the document, and the document kind it wants. */
  readonly input: string;
  readonly valid: string;
  /**
   * How a valid document fails here, where there is no container engine and no AWS: at the engine
   * (wrap, and provision, which resolves the algorithm locally first) or at AWS.
   */
  readonly failsAt: 'engine' | 'aws';
  /** Further inputs every run of the step gets. */
  readonly inputs?: Readonly<Record<string, string>>;
}

const actions: readonly ActionCase[] = [
  // Only building (no push), so it needs no registry and no AWS region.
  {
    action: 'wrap-algorithm',
    input: 'manifest',
    valid: validManifest,
    failsAt: 'engine',
    inputs: { push: 'false' },
  },
  { action: 'provision-run', input: 'job', valid: validJob, failsAt: 'engine' },
  { action: 'dispatch-tasks', input: 'job', valid: validJob, failsAt: 'aws' },
  { action: 'collect-results', input: 'job', valid: validJob, failsAt: 'aws' },
  { action: 'teardown', input: 'job', valid: validJob, failsAt: 'aws' },
];

const nodes: readonly { readonly label: string; readonly path: string }[] = [
  { label: `the machine's Node (${process.version})`, path: process.execPath },
  { label: 'Node 24', path: node24 },
];

describe.each(nodes)('bundles under $label', ({ path: nodePath }) => {
  let dir: string;

  beforeAll(async () => {
    if (!existsSync(nodePath)) {
      throw new Error(`Node 24 is missing at ${nodePath}. Install it with: bash scripts/install-node24.sh`);
    }
    for (const file of [validManifest, validJob]) {
      if (!existsSync(file))
        throw new Error(`the example ${file} is missing: the smoke test needs a valid document`);
    }
    dir = await mkdtemp(join(tmpdir(), 'sluice-smoke-'));
    await writeFile(join(dir, 'bad.json'), INVALID_DOCUMENT);
  });

  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('runs on Node 24 when asked to', async () => {
    const version = await run(nodePath, ['--version'], root, baseEnv());

    expect(version.code).toBe(0);
    if (nodePath === node24) expect(version.stdout).toMatch(/^v24\./);
  });

  describe.each(actions)('action $action', ({ action, input, valid, failsAt, inputs: extra }) => {
    const bundle = join(root, 'actions', action, 'dist/index.js');

    async function step(
      inputs: Record<string, string>,
      environment: Record<string, string> = {},
    ): Promise<Run & { readonly outputs: string }> {
      const files = { GITHUB_OUTPUT: 'output', GITHUB_STEP_SUMMARY: 'summary', GITHUB_STATE: 'state' };
      const env = { ...baseEnv(), ...environment };
      for (const [name, value] of Object.entries(extra ?? {})) env[`INPUT_${name.toUpperCase()}`] = value;
      for (const [name, file] of Object.entries(files)) {
        env[name] = join(dir, `${action}-${file}`);
        await writeFile(env[name], '');
      }
      for (const [name, value] of Object.entries(inputs)) env[`INPUT_${name.toUpperCase()}`] = value;
      const result = await run(nodePath, [bundle], dir, env);
      return { ...result, outputs: await readFile(join(dir, `${action}-output`), 'utf8') };
    }

    it('annotates every problem of an invalid document on its file, and fails', async () => {
      const result = await step({ [input]: 'bad.json' });

      expect(result.stderr).toBe('');
      expect(result.stdout).toMatch(/^::error title=[^\n]*,file=bad\.json::bad\.json: \$/m);
      expect(result.stdout).toMatch(/^::error::Validation failed: \d+ problems? in bad\.json/m);
      expect(result.code).toBe(1);
      expect(result.outputs).toBe('');
    });

    it('checks a valid document, then starts its work, failing clearly with no engine and no AWS', async () => {
      // An engine that does not exist: a working step gets past the document to the container engine,
      // or (dispatch, collect, teardown) to AWS, which it cannot reach without credentials.
      const result = await step({ [input]: valid }, { SLUICE_CONTAINER_ENGINE: 'smoke-no-engine' });

      expect(result.stdout).not.toMatch(/^::error [^\n]*file=/m);
      expect(result.stdout).not.toContain('does not run in this version of sluice yet');
      if (failsAt === 'engine') {
        expect(result.stdout).toMatch(
          /^::error::SLUICE_CONTAINER_ENGINE="smoke-no-engine" is not an engine/m,
        );
      } else {
        expect(result.stdout).toMatch(
          /^::error::S3\.HeadBucket on s3:\/\/sluice-demo-out failed: [^\n]*Could not load credentials/m,
        );
      }
      expect(result.code).toBe(1);
      expect(result.outputs).toBe('');
    });

    it('names the input when the file does not exist', async () => {
      const result = await step({ [input]: 'missing.json' });

      expect(result.stdout).toContain(
        `::error::Input \`${input}\` names "missing.json", which does not exist`,
      );
      expect(result.code).toBe(1);
    });
  });

  describe('the sluice CLI', () => {
    it('prints help, exit 0', async () => {
      const result = await run(nodePath, [cli, '--help'], dir, baseEnv());

      expect(result.code).toBe(0);
      expect(result.stdout).toContain('Usage: sluice');
      expect(result.stdout).toContain('validate');
    });

    it('accepts the examples, exit 0', async () => {
      const result = await run(nodePath, [cli, 'validate', validManifest, validJob], dir, baseEnv());

      expect(result.stdout).toContain('2 files checked: 2 valid');
      expect(result.code).toBe(0);
    });

    it('rejects an invalid file with path-bearing problems, exit 2', async () => {
      const result = await run(nodePath, [cli, 'validate', validManifest, 'bad.json'], dir, baseEnv());

      expect(result.stdout).toMatch(/^ {2}bad\.json: \$/m);
      expect(result.stdout).toMatch(/2 files checked: 1 valid, 1 with \d+ problems?/);
      expect(result.code).toBe(2);
    });

    it('gives a JSON report with --json', async () => {
      const result = await run(
        nodePath,
        [cli, 'validate', '--json', 'bad.json', 'missing.json'],
        dir,
        baseEnv(),
      );
      const report = JSON.parse(result.stdout) as {
        valid: boolean;
        documents: { file: string; problems: { path: string }[] }[];
      };

      expect(report.valid).toBe(false);
      expect(report.documents.map((d) => d.file)).toEqual(['bad.json', 'missing.json']);
      expect(
        report.documents.every(
          (d) => d.problems.length > 0 && d.problems.every((p) => p.path.startsWith('$')),
        ),
      ).toBe(true);
      expect(result.code).toBe(2);
    });
  });
  describe('the watcher Lambda bundle', () => {
    // Where Lambda loads it from: the bundle itself, and the copies the CLI and provision-run ship.
    const bundles = ['packages/lambda/dist', 'packages/cli/dist/lambda', 'actions/provision-run/dist/lambda'];

    it.each(bundles)(
      '%s/index.js exports handler, which ignores an event that is not its schedule',
      async (dist) => {
        const script = [
          `const { handler } = await import(${JSON.stringify(join(root, dist, 'index.js'))});`,
          'const outcome = await handler({ Records: [] });',
          'console.log(JSON.stringify({ type: typeof handler, outcome }));',
        ].join('\n');
        const result = await run(nodePath, ['--input-type=module', '-e', script], dir, baseEnv());

        expect({ code: result.code, stderr: result.stderr }).toMatchObject({ code: 0 });
        const printed = JSON.parse(result.stdout.trim().split('\n').at(-1) ?? '{}') as { type?: string };
        expect(printed.type).toBe('function');
        expect(result.stdout).toContain('ignored');
      },
    );
  });
});

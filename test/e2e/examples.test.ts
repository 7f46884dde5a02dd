// The examples a user copies (examples/algorithm-repo, examples/jobs-repo, examples/continuous-intake,
// and the demo's examples/algorithms + examples/jobs): every manifest and job validates, each job
// against the manifest of the algorithm it names, through core and through the committed CLI bundle as
// the example READMEs tell users to run it; the files their workflows name exist; their calls of the
// reusable workflow pass only inputs it declares; and run-job.yml's script that picks the changed job
// files is run in a scratch git repository for each event it handles.
import { execFile, spawnSync } from 'node:child_process';
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  readdirSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, relative } from 'node:path';
import { promisify } from 'node:util';

import { afterAll, describe, expect, it } from '@jest/globals';
import { checkDocuments } from '@sluice/core';
import { REPOSITORY_ROOT } from '@sluice/testing';
import { parse } from 'yaml';

import { SLUICE_REPOSITORY, SLUICE_RUN_WORKFLOW } from './workflow-chain.js';

const execFileAsync = promisify(execFile);
const CLI = join(REPOSITORY_ROOT, 'packages', 'cli', 'dist', 'index.js');
const EXAMPLES = join(REPOSITORY_ROOT, 'examples');

/** Each example's manifest and the job files that run its algorithm. */
const SETS = [
  {
    manifest: 'examples/algorithms/thumbnails/algorithm.json',
    jobs: ['examples/jobs/thumbnails.json', 'examples/jobs/thumbnails-ecs.json'],
  },
  {
    manifest: 'examples/algorithm-repo/algorithm.json',
    jobs: [
      'examples/jobs-repo/jobs/holiday-photos.json',
      'examples/jobs-repo/jobs/nightly-scans.json',
      'examples/continuous-intake/jobs/intake.json',
    ],
  },
] as const;

/** Every file under examples/ (dot-directories included), relative to the repository root. */
function exampleFiles(dir: string = EXAMPLES): string[] {
  const found: string[] = [];
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) {
      if (entry.name !== 'bin') found.push(...exampleFiles(path));
    } else found.push(relative(REPOSITORY_ROOT, path));
  }
  return found;
}

interface WorkflowStep {
  readonly id?: string;
  readonly uses?: string;
  readonly run?: string;
  readonly with?: Record<string, unknown>;
  readonly env?: Record<string, unknown>;
}

interface WorkflowJob {
  readonly uses?: string;
  readonly with?: Record<string, unknown>;
  readonly steps?: WorkflowStep[];
}

function readWorkflow(file: string): { jobs: Record<string, WorkflowJob> } {
  return parse(readFileSync(join(REPOSITORY_ROOT, file), 'utf8')) as { jobs: Record<string, WorkflowJob> };
}

/** The example directory a workflow belongs to: the repository root a user copies it into. */
function exampleRoot(workflow: string): string {
  return dirname(dirname(dirname(workflow)));
}

const files = exampleFiles();
const workflows = files.filter((file) => /\/\.github\/workflows\/[^/]+\.ya?ml$/.test(file));

describe('every example manifest and job validates', () => {
  it('covers every algorithm.json and job file under examples/', () => {
    const listed = SETS.flatMap((set) => [set.manifest, ...set.jobs]).sort();
    const present = files
      .filter((file) => /\/algorithm\.json$|^examples\/(.+\/)?jobs\/[^/]+\.json$/.test(file))
      .sort();
    expect(listed).toEqual(present);
  });

  it.each(SETS.map((set) => ({ name: set.manifest, set })))('$name and its jobs, through core', ({ set }) => {
    const report = checkDocuments(
      [set.manifest, ...set.jobs].map((file) => ({
        file,
        text: readFileSync(join(REPOSITORY_ROOT, file), 'utf8'),
      })),
    );

    expect(report.problems).toEqual([]);
    expect(report.documents.map((document) => document.kind)).toEqual([
      'manifest',
      ...set.jobs.map(() => 'job'),
    ]);
  });

  it.each(SETS.map((set) => ({ name: set.manifest, set })))(
    'sluice validate $name and its jobs (the CLI bundle): exit 0',
    async ({ set }) => {
      const { stdout } = await execFileAsync(process.execPath, [CLI, 'validate', set.manifest, ...set.jobs], {
        cwd: REPOSITORY_ROOT,
      });

      expect(stdout).toContain(`${set.jobs.length + 1} files checked: ${set.jobs.length + 1} valid`);
    },
  );

  it('the jobs a user copies name a published schema, and the kept job keeps its run', () => {
    for (const file of SETS[1].jobs) {
      const job = JSON.parse(readFileSync(join(REPOSITORY_ROOT, file), 'utf8')) as {
        $schema: string;
        keep?: boolean;
      };
      expect(job.$schema).toBe(
        `https://raw.githubusercontent.com/${SLUICE_REPOSITORY}/v1/packages/core/schemas/job.schema.json`,
      );
      expect({ file, keep: job.keep === true }).toEqual({ file, keep: file.includes('continuous-intake') });
    }
  });
});

describe('the example algorithm repository', () => {
  const root = join(EXAMPLES, 'algorithm-repo');

  it('builds the thumbnails program from the same source as examples/algorithms/thumbnails', () => {
    expect(readFileSync(join(root, 'src', 'thumbnail.c'), 'utf8')).toBe(
      readFileSync(join(EXAMPLES, 'algorithms', 'thumbnails', 'thumbnail.c'), 'utf8'),
    );
  });

  it('names in algorithm.json a Dockerfile that exists, whose COPY sources exist', () => {
    const manifest = JSON.parse(readFileSync(join(root, 'algorithm.json'), 'utf8')) as {
      build: { context: string; dockerfile: string };
    };
    const context = join(root, manifest.build.context);
    const dockerfile = readFileSync(join(context, manifest.build.dockerfile), 'utf8');
    const sources = [...dockerfile.matchAll(/^COPY (?!--from)(\S+) /gm)].map((match) => match[1] ?? '');
    expect(sources).toEqual(['src/thumbnail.c']);
    for (const source of sources) expect(existsSync(join(context, source))).toBe(true);
  });
});

describe('the example workflows', () => {
  it('are the four of the three examples', () => {
    expect(workflows.sort()).toEqual([
      'examples/algorithm-repo/.github/workflows/wrap.yml',
      'examples/continuous-intake/.github/workflows/intake-report.yml',
      'examples/continuous-intake/.github/workflows/intake.yml',
      'examples/jobs-repo/.github/workflows/run-job.yml',
    ]);
  });

  it.each(workflows.map((file) => [file]))('%s names only files its repository has', (file) => {
    const root = join(REPOSITORY_ROOT, exampleRoot(file));
    const named: string[] = [];
    for (const job of Object.values(readWorkflow(file).jobs)) {
      for (const step of job.steps ?? []) {
        for (const key of ['job', 'manifest']) {
          const value = step.with?.[key];
          if (typeof value === 'string' && !value.includes('${{')) named.push(value);
        }
        const nightly = step.env?.NIGHTLY;
        if (typeof nightly === 'string') named.push(nightly);
      }
    }
    expect(named.length).toBeGreaterThan(0);
    for (const path of named)
      expect({ path, exists: existsSync(join(root, path)) }).toEqual({ path, exists: true });
  });

  it('call the reusable workflow with only the inputs it declares, and every required one', () => {
    const declared = (
      parse(readFileSync(join(REPOSITORY_ROOT, SLUICE_RUN_WORKFLOW), 'utf8')) as {
        on: { workflow_call: { inputs: Record<string, { required?: boolean }> } };
      }
    ).on.workflow_call.inputs;
    const required = Object.keys(declared).filter((name) => declared[name]?.required === true);
    const calls = workflows.flatMap((file) =>
      Object.values(readWorkflow(file).jobs)
        .filter((job) => job.uses?.includes('/.github/workflows/') === true)
        .map((job) => ({ file, job })),
    );

    expect(calls.length).toBeGreaterThan(0);
    for (const { file, job } of calls) {
      expect({ file, uses: job.uses }).toEqual({
        file,
        uses: `${SLUICE_REPOSITORY}/${SLUICE_RUN_WORKFLOW}@v1`,
      });
      const passed = Object.keys(job.with ?? {});
      expect({ file, unknown: passed.filter((name) => !(name in declared)) }).toEqual({ file, unknown: [] });
      expect({ file, missing: required.filter((name) => !passed.includes(name)) }).toEqual({
        file,
        missing: [],
      });
    }
  });
});

describe("run-job.yml's list of job files to run, in a scratch repository", () => {
  const workflow = 'examples/jobs-repo/.github/workflows/run-job.yml';
  const step = readWorkflow(workflow).jobs.changed?.steps?.find((s) => s.id === 'list');
  const script = step?.run ?? '';
  const nightlyValue = step?.env?.NIGHTLY;
  const nightly = typeof nightlyValue === 'string' ? nightlyValue : '';
  const repo = mkdtempSync(join(tmpdir(), 'sluice-run-job-'));

  afterAll(() => {
    rmSync(repo, { recursive: true, force: true });
  });

  function git(...args: string[]): string {
    const result = spawnSync('git', args, { cwd: repo, encoding: 'utf8' });
    if (result.status !== 0) throw new Error(`git ${args.join(' ')}: ${result.stderr}`);
    return result.stdout.trim();
  }

  function commit(message: string, change: () => void): string {
    change();
    git('add', '--all');
    git('-c', 'user.name=test', '-c', 'user.email=test@example.com', 'commit', '--quiet', '-m', message);
    return git('rev-parse', 'HEAD');
  }

  function write(path: string): void {
    mkdirSync(dirname(join(repo, path)), { recursive: true });
    writeFileSync(join(repo, path), `${JSON.stringify({ name: path })}\n`);
  }

  /** Runs the step as GitHub runs a `shell: bash` step; its `jobs` output, or its error. */
  function list(env: Record<string, string>): { jobs?: unknown; error?: string } {
    // As actions/checkout leaves it: the working tree at the pushed commit.
    if (env.GITHUB_SHA !== undefined) git('checkout', '--quiet', '--detach', env.GITHUB_SHA);
    const output = `${repo}.output`;
    writeFileSync(output, '');
    const result = spawnSync('bash', ['--noprofile', '--norc', '-eo', 'pipefail', '-c', script], {
      cwd: repo,
      encoding: 'utf8',
      env: { PATH: process.env.PATH, HOME: repo, GITHUB_OUTPUT: output, NIGHTLY: nightly, ...env },
    });
    const lines = readFileSync(output, 'utf8').split('\n');
    rmSync(output);
    if (result.status !== 0) return { error: result.stdout + result.stderr };
    const line = lines.find((text) => text.startsWith('jobs='));
    return { jobs: JSON.parse(line?.slice('jobs='.length) ?? 'null') as unknown };
  }

  git('init', '--quiet', '--initial-branch=main');
  const first = commit('first', () => {
    write('jobs/a.json');
    write('jobs/b.json');
    write('README.md');
  });
  const second = commit('second', () => {
    write('jobs/a.json'); // the same content: no change
    writeFileSync(join(repo, 'jobs/b.json'), '{"name": "b, changed"}\n');
    write('jobs/c.json');
    write('jobs/nested/d.json');
    write('jobs/notes.txt');
  });
  const third = commit('third', () => {
    rmSync(join(repo, 'jobs/c.json'));
    write('jobs/e.json');
  });

  it('runs the script the workflow holds', () => {
    expect(script).toContain('git -c core.quotePath=false diff --name-only');
    expect(nightly).toBe('jobs/nightly-scans.json');
  });

  it("on the branch's first push (before is all zeros): the job files of the pushed commit", () => {
    expect(list({ EVENT: 'push', BEFORE: '0'.repeat(40), GITHUB_SHA: first })).toEqual({
      jobs: ['jobs/a.json', 'jobs/b.json'],
    });
  });

  it('on a push: the job files added or changed since before, not deleted or nested ones', () => {
    expect(list({ EVENT: 'push', BEFORE: first, GITHUB_SHA: second })).toEqual({
      jobs: ['jobs/b.json', 'jobs/c.json'],
    });
    expect(list({ EVENT: 'push', BEFORE: first, GITHUB_SHA: third })).toEqual({
      jobs: ['jobs/b.json', 'jobs/e.json'],
    });
  });

  it('after a force-push whose old head is gone: the job files of the pushed commit', () => {
    expect(list({ EVENT: 'push', BEFORE: 'f'.repeat(40), GITHUB_SHA: third })).toEqual({
      jobs: ['jobs/e.json'],
    });
  });

  it('a push that changes no job file gives an empty list (the run job is skipped)', () => {
    const fourth = commit('fourth', () => {
      write('NOTES.md');
    });
    expect(list({ EVENT: 'push', BEFORE: third, GITHUB_SHA: fourth })).toEqual({ jobs: [] });
  });

  it('dispatched: the named job file, and an error for a path that is not one', () => {
    expect(list({ EVENT: 'workflow_dispatch', DISPATCHED: './jobs/a.json' })).toEqual({
      jobs: ['jobs/a.json'],
    });
    for (const bad of ['jobs/missing.json', 'jobs/nested/d.json', '../etc/passwd', 'jobs/a.json"; echo x']) {
      const result = list({ EVENT: 'workflow_dispatch', DISPATCHED: bad });
      expect(result.error).toContain('is not a job file of this repository');
    }
  });

  it('scheduled: the nightly batch job', () => {
    mkdirSync(join(repo, 'jobs'), { recursive: true });
    write(nightly);
    expect(list({ EVENT: 'schedule' })).toEqual({ jobs: [nightly] });
  });
});

describe('docs/github.md', () => {
  it('lists every input, secret and output of the reusable workflow, and no other', () => {
    const call = (
      parse(readFileSync(join(REPOSITORY_ROOT, SLUICE_RUN_WORKFLOW), 'utf8')) as {
        on: { workflow_call: Record<'inputs' | 'secrets' | 'outputs', Record<string, unknown>> };
      }
    ).on.workflow_call;
    const guide = readFileSync(join(REPOSITORY_ROOT, 'docs', 'github.md'), 'utf8');
    const section = guide.slice(guide.indexOf('## The reusable workflow'), guide.indexOf('## AWS access'));
    const rows = [...section.matchAll(/^\| `([\w-]+)` +\|/gm)].map((match) => match[1]);

    expect(rows).toEqual([
      ...Object.keys(call.inputs),
      ...Object.keys(call.secrets),
      ...Object.keys(call.outputs),
    ]);
  });
});

describe("sluice-run.yml's first step, on the example jobs", () => {
  const step = (
    parse(readFileSync(join(REPOSITORY_ROOT, SLUICE_RUN_WORKFLOW), 'utf8')) as {
      jobs: Record<string, WorkflowJob>;
    }
  ).jobs.run?.steps?.find((s) => s.id === 'job');
  const script = step?.run ?? '';
  const scratch = mkdtempSync(join(tmpdir(), 'sluice-run-step-'));

  afterAll(() => {
    rmSync(scratch, { recursive: true, force: true });
  });

  /** Runs the step in the examples directory, as the caller's checkout; its outputs, or its error. */
  function readJob(env: Record<string, string>): { outputs?: Record<string, string>; error?: string } {
    const output = join(scratch, 'output');
    writeFileSync(output, '');
    const result = spawnSync('bash', ['--noprofile', '--norc', '-eo', 'pipefail', '-c', script], {
      cwd: EXAMPLES,
      encoding: 'utf8',
      env: { PATH: process.env.PATH, GITHUB_OUTPUT: output, GITHUB_SHA: 'abc123', REGION: '', ...env },
    });
    if (result.status !== 0) return { error: result.stdout + result.stderr };
    const outputs = Object.fromEntries(
      readFileSync(output, 'utf8')
        .split('\n')
        .filter((line) => line.includes('='))
        .map((line) => [line.slice(0, line.indexOf('=')), line.slice(line.indexOf('=') + 1)]),
    );
    return { outputs };
  }

  const role = { ROLE: 'arn:aws:iam::123456789012:role/sluice-github', HAS_KEYS: 'false' };

  it('reads keep and the region from the job file', () => {
    expect(readJob({ ...role, JOB: 'jobs-repo/jobs/holiday-photos.json' })).toEqual({
      outputs: { keep: 'false', region: 'eu-west-1' },
    });
    expect(readJob({ ...role, JOB: 'continuous-intake/jobs/intake.json' })).toEqual({
      outputs: { keep: 'true', region: 'eu-west-1' },
    });
  });

  it('takes the aws-region input over the job file, and keys when no role is given', () => {
    expect(
      readJob({ ROLE: '', HAS_KEYS: 'true', REGION: 'us-east-2', JOB: 'jobs-repo/jobs/nightly-scans.json' }),
    ).toEqual({ outputs: { keep: 'false', region: 'us-east-2' } });
  });

  it('stops with a clear error: a missing job file, no credentials, no region', () => {
    expect(readJob({ ...role, JOB: 'jobs-repo/jobs/missing.json' }).error).toContain(
      'the job file "jobs-repo/jobs/missing.json" is not in this repository at abc123',
    );
    expect(
      readJob({ ROLE: '', HAS_KEYS: 'false', JOB: 'jobs-repo/jobs/holiday-photos.json' }).error,
    ).toContain('no AWS credentials: set role-to-assume');
    writeFileSync(join(scratch, 'job.json'), '{"name": "x"}\n');
    expect(readJob({ ...role, JOB: join(scratch, 'job.json') }).error).toContain('no AWS region');
    writeFileSync(join(scratch, 'broken.json'), '{"name": \n');
    expect(readJob({ ...role, JOB: join(scratch, 'broken.json') }).error).toContain('is not valid JSON');
  });
});

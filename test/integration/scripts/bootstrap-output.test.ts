// scripts/bootstrap.sh prints one line per step and a summary: an installer's output (apt-get, pip,
// npm) goes to a log through quiet_run (scripts/lib/quiet.sh), which prints the log's tail and path
// only when the installer fails, and everything as it runs with SLUICE_VERBOSE=1.
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { afterAll, describe, expect, it } from '@jest/globals';
import { REPOSITORY_ROOT } from '@sluice/testing';

const logs = mkdtempSync(join(tmpdir(), 'sluice-quiet-'));

afterAll(() => {
  rmSync(logs, { recursive: true, force: true });
});

/** A fake installer: 100 numbered lines, then the exit code given. */
const FAKE_INSTALLER = 'for i in $(seq 1 100); do echo "installer line $i"; done; exit "$1"';

function run(
  script: string,
  env: Record<string, string> = {},
): { code: number; stdout: string; stderr: string } {
  try {
    const stdout = execFileSync('bash', ['-c', script], {
      cwd: REPOSITORY_ROOT,
      encoding: 'utf8',
      env: { ...process.env, SLUICE_VERBOSE: '', ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    return { code: 0, stdout, stderr: '' };
  } catch (thrown: unknown) {
    const error = thrown as { status: number | null; stdout: string; stderr: string };
    return { code: error.status ?? -1, stdout: error.stdout, stderr: error.stderr };
  }
}

function quietRun(exitCode: number, env: Record<string, string> = {}) {
  return run(
    `QUIET_PREFIX=test QUIET_LOG_DIR='${logs}'; source scripts/lib/quiet.sh; ` +
      `quiet_run fake bash -c '${FAKE_INSTALLER}' fake ${exitCode}`,
    env,
  );
}

describe('quiet_run', () => {
  it('prints nothing when the installer succeeds, and keeps its output in the log', () => {
    expect(quietRun(0)).toEqual({ code: 0, stdout: '', stderr: '' });
    expect(readFileSync(join(logs, 'fake.log'), 'utf8')).toContain('installer line 100\n');
  });

  it("prints the log's last 30 lines and its path when the installer fails, with its exit code", () => {
    const result = quietRun(3);
    expect(result.code).toBe(3);
    expect(result.stdout).toBe('');
    const lines = result.stderr.trimEnd().split('\n');
    expect(lines[0]).toMatch(/^test: `bash -c .*` exited with 3; the last 30 lines of its output:$/);
    expect(lines.slice(1, -1)).toEqual(Array.from({ length: 30 }, (_, i) => `  | installer line ${i + 71}`));
    expect(lines.at(-1)).toBe(
      `test: full output: ${join(logs, 'fake.log')} (SLUICE_VERBOSE=1 shows it as it runs)`,
    );
    expect(readFileSync(join(logs, 'fake.log'), 'utf8').split('\n')[0]).toBe('installer line 1');
  });

  it('with SLUICE_VERBOSE=1 lets the installer print everything and writes no log', () => {
    rmSync(join(logs, 'fake.log'), { force: true });
    const result = quietRun(0, { SLUICE_VERBOSE: '1' });
    expect(result.code).toBe(0);
    expect(result.stdout.split('\n')).toHaveLength(101);
    expect(existsSync(join(logs, 'fake.log'))).toBe(false);
  });
});

describe('scripts/bootstrap.sh with everything present', () => {
  it('prints one line per step and a summary, nothing else', () => {
    const result = run('bash scripts/bootstrap.sh 2>&1');
    expect(result.code).toBe(0);
    const lines = result.stdout.trimEnd().split('\n');
    const steps = [
      'Debian packages',
      'moto',
      'SeaweedFS',
      'actionlint',
      'aws CLI',
      'node_modules',
      'Node 24',
    ];
    expect(lines.slice(0, -1).map((line) => /^bootstrap: ([^:]+): /.exec(line)?.[1])).toEqual(steps);
    expect(lines.at(-1)).toMatch(/^bootstrap: done in \d+s: /);
  });
});

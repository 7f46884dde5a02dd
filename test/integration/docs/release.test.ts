// scripts/release.mjs: one version everywhere, checked against the tag and the CHANGELOG before the
// release workflow publishes. Run on copies of the version-carrying files, never on the repository.
import { execFileSync } from 'node:child_process';
import { cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';

import { afterEach, describe, expect, it } from '@jest/globals';
import { REPOSITORY_ROOT } from '@sluice/testing';

const SCRIPT = join(REPOSITORY_ROOT, 'scripts', 'release.mjs');
const copies: string[] = [];

/** A copy of what the script reads: every package.json, the CLI's version.ts, the CHANGELOG. */
function copyOfRepository(): string {
  const root = mkdtempSync(join(tmpdir(), 'sluice-release-'));
  copies.push(root);
  const files = [
    'package.json',
    'CHANGELOG.md',
    'packages/cli/src/version.ts',
    ...['packages', 'actions'].flatMap((top) =>
      execFileSync('git', ['ls-files', `${top}/*/package.json`], { cwd: REPOSITORY_ROOT, encoding: 'utf8' })
        .split('\n')
        .filter((line) => line !== ''),
    ),
  ];
  for (const file of files) {
    mkdirSync(dirname(join(root, file)), { recursive: true });
    cpSync(join(REPOSITORY_ROOT, file), join(root, file));
  }
  return root;
}

function release(root: string, ...args: string[]): { code: number; out: string } {
  try {
    const out = execFileSync(process.execPath, [SCRIPT, ...args, '--root', root], {
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    return { code: 0, out };
  } catch (thrown: unknown) {
    const error = thrown as { status: number; stdout: string; stderr: string };
    return { code: error.status, out: `${error.stdout}${error.stderr}` };
  }
}

afterEach(() => {
  for (const root of copies.splice(0)) rmSync(root, { recursive: true, force: true });
});

describe('scripts/release.mjs', () => {
  it('finds one version across the repository as it is', () => {
    const result = release(REPOSITORY_ROOT, 'check');
    expect(result).toMatchObject({ code: 0 });
    expect(result.out).toMatch(/every version is \d+\.\d+\.\d+ \(14 places\)/);
  });

  it('prepare sets every version and opens the CHANGELOG section; check then accepts the tag', () => {
    const root = copyOfRepository();

    expect(release(root, 'prepare', '1.2.3', '--no-lock').code).toBe(0);

    expect(release(root, 'check', 'v1.2.3')).toMatchObject({ code: 0 });
    expect(JSON.parse(readFileSync(join(root, 'actions/teardown/package.json'), 'utf8'))).toMatchObject({
      version: '1.2.3',
    });
    expect(readFileSync(join(root, 'packages/cli/src/version.ts'), 'utf8')).toContain("VERSION = '1.2.3'");
    const changelog = readFileSync(join(root, 'CHANGELOG.md'), 'utf8');
    expect(changelog).toMatch(/## Unreleased\n\n## 1\.2\.3 — \d{4}-\d{2}-\d{2}\n/);
    // The notes are what was under Unreleased.
    expect(release(root, 'notes', 'v1.2.3').out).toContain('The ECS backend');
  });

  it('refuses a tag that is not the version, a version that differs somewhere, a bad version', () => {
    const root = copyOfRepository();
    release(root, 'prepare', '1.2.3', '--no-lock');
    const cli = join(root, 'packages/cli/package.json');
    writeFileSync(cli, readFileSync(cli, 'utf8').replace('"version": "1.2.3"', '"version": "1.2.4"'));

    const wrongTag = release(root, 'check', 'v1.3.0');
    expect(wrongTag.code).toBe(1);
    expect(wrongTag.out).toContain('package.json: version 1.2.3, expected 1.3.0');
    expect(wrongTag.out).toContain('CHANGELOG.md has no "## 1.3.0" section');
    const oneOff = release(root, 'check', 'v1.2.3');
    expect(oneOff.code).toBe(1);
    expect(oneOff.out).toContain('packages/cli/package.json: version 1.2.4, expected 1.2.3');
    expect(release(root, 'prepare', '1.2', '--no-lock')).toMatchObject({ code: 1 });
  });
});

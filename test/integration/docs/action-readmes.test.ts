// Each actions/<name>/README.md has its title, description, inputs and outputs tables generated from
// that action's action.yml by scripts/action-readmes.mjs. This test fails when a README differs from
// what the generator writes; `node scripts/action-readmes.mjs` rewrites them.
import { describe, expect, it } from '@jest/globals';
import { execFile } from 'node:child_process';
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

const root = fileURLToPath(new URL('../../..', import.meta.url));
const script = join(root, 'scripts', 'action-readmes.mjs');

/** Runs the generator with --check; its exit code and what it printed. */
async function check(repository: string): Promise<{ code: number; stderr: string }> {
  try {
    await promisify(execFile)(process.execPath, [script, '--check', '--root', repository]);
    return { code: 0, stderr: '' };
  } catch (error: unknown) {
    const failed = error as { code?: number; stderr?: string };
    return { code: failed.code ?? -1, stderr: failed.stderr ?? String(error) };
  }
}

/** A copy of the actions' action.yml and README.md files, for the generator to check. */
function copyOfActions(): string {
  const copy = mkdtempSync(join(tmpdir(), 'sluice-readmes-'));
  // The generator formats with the repository's Prettier settings, found from the file's directory.
  cpSync(join(root, '.prettierrc.json'), join(copy, '.prettierrc.json'));
  cpSync(join(root, 'actions'), join(copy, 'actions'), {
    recursive: true,
    filter: (source) => !/[/\\](dist|src|node_modules)$/.test(source),
  });
  return copy;
}

describe('actions/*/README.md', () => {
  it('match their action.yml', async () => {
    const result = await check(root);
    // On failure: run `node scripts/action-readmes.mjs` and commit the READMEs.
    expect(result).toEqual({ code: 0, stderr: '' });
  });

  it('drift is caught: an input added to action.yml, a table edited by hand', async () => {
    const copy = copyOfActions();
    try {
      const actionYml = join(copy, 'actions', 'teardown', 'action.yml');
      const withInput = readFileSync(actionYml, 'utf8').replace(
        /^inputs:\n/m,
        'inputs:\n  dry-run:\n    description: Only list what would be deleted.\n    required: false\n',
      );
      writeFileSync(actionYml, withInput);
      const readme = join(copy, 'actions', 'dispatch-tasks', 'README.md');
      writeFileSync(readme, readFileSync(readme, 'utf8').replace('How many files were enqueued', 'How many'));

      const result = await check(copy);

      expect(result.code).toBe(1);
      expect(result.stderr).toContain('actions/teardown/README.md');
      expect(result.stderr).toContain('actions/dispatch-tasks/README.md');
      expect(result.stderr).not.toContain('actions/provision-run/README.md');
      expect(result.stderr).toContain('Run `node scripts/action-readmes.mjs`');
    } finally {
      rmSync(copy, { recursive: true, force: true });
    }
  });
});

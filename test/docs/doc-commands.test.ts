// Every shell block in the docs is run by a test (or, for `make test`, by CI): each has a marker
// naming it and its runner (test/docs/doc-commands.ts), and each runner names the block.
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

import { describe, expect, it } from '@jest/globals';
import { REPOSITORY_ROOT } from '@sluice/testing';

import { allShellBlocks, docFiles, shellBlocks } from './doc-commands.js';

describe('the shell commands in the docs', () => {
  const blocks = allShellBlocks();

  it('are found in README.md, docs/ and the examples', () => {
    expect(docFiles()).toEqual(
      expect.arrayContaining(['README.md', 'docs/github.md', 'examples/jobs-repo/README.md']),
    );
    expect(blocks.map((b) => `${b.file}#${b.id ?? '?'}`)).toEqual(
      expect.arrayContaining([
        'README.md#readme-make',
        'README.md#readme-cli',
        'docs/github.md#github-oidc-setup',
      ]),
    );
  });

  it('each have a marker naming the block and what runs it', () => {
    const unmarked = blocks.filter((b) => b.id === undefined || b.runners.length === 0);
    expect(unmarked.map((b) => `${b.file}:${b.line}`)).toEqual([]);
  });

  it('have ids unique across the docs', () => {
    const ids = blocks.map((b) => b.id);
    expect(ids.filter((id, i) => ids.indexOf(id) !== i)).toEqual([]);
  });

  it('are run by files that exist and name the block', () => {
    const problems: string[] = [];
    for (const block of blocks) {
      for (const runner of block.runners) {
        const path = join(REPOSITORY_ROOT, runner);
        if (!existsSync(path)) problems.push(`${block.file}#${block.id ?? '?'}: ${runner} does not exist`);
        else if (!readFileSync(path, 'utf8').includes(block.id ?? '\0')) {
          problems.push(`${block.file}#${block.id ?? '?'}: ${runner} does not name "${block.id ?? ''}"`);
        }
      }
    }
    expect(problems).toEqual([]);
  });

  it('reads a marked block as the doc shows it, its indentation removed', () => {
    const [validate] = shellBlocks('docs/github.md').filter((b) => b.id === 'github-validate');
    expect(validate).toMatchObject({
      runners: ['test/e2e/docs-commands.test.ts'],
      text: 'sluice validate algorithm.json jobs/holiday-photos.json\n',
    });
  });
});

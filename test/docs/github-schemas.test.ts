// Every action.yml and every workflow (this repository's, the examples', and the complete workflows
// shown in the docs) validates against GitHub's published schemas: SchemaStore's github-action.json
// and github-workflow.json, as bundled in @action-validator/core.
//
// One allowance, for `runs.using: node24`: action-validator 0.6.0 (the newest on npm, December 2024)
// bundles a SchemaStore github-action.json whose `using` enum stops at node20. GitHub's runner runs
// node24 actions since v2.327.1 (actions/runner#3940, July 2025), and GitHub moves every JavaScript
// action to node24 in 2026 (github.blog changelog 2025-09-19, "Deprecation of Node 20 on GitHub
// Actions runners"). A node24 action has exactly the keys of a node20 one (main, pre, post, pre-if,
// post-if), so an action.yml is validated with its `using: node24` read as `node20`, and nothing else
// changed. Drop `asValidated` when action-validator's schema knows node24.
import { describe, expect, it } from '@jest/globals';
import { validateAction, validateWorkflow, type ValidationState } from '@action-validator/core';
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { basename, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parse } from 'yaml';
import { yamlBlocks, yamlFiles } from './uses-checker.js';

const root = fileURLToPath(new URL('../..', import.meta.url));
const read = (path: string): string => readFileSync(join(root, path), 'utf8');

/** The action.yml as validated: `runs.using: node24` read as node20 (see the top of this file). */
export function asValidated(actionYml: string): string {
  return actionYml.replace(/^(\s+using:\s*)(['"]?)node24\2(\s*(#.*)?)$/m, '$1$2node20$2$3');
}

/** The validator's errors as lines: path, title, detail, and the branches of a oneOf that failed. */
function messages(state: ValidationState, indent = ''): string[] {
  return state.errors.flatMap((error) => {
    const where = 'path' in error ? error.path || '/' : `line ${error.location?.line ?? '?'}`;
    const line = `${indent}${where}: ${error.title}${error.detail === undefined ? '' : ` (${error.detail})`}`;
    const branches =
      'states' in error
        ? error.states.flatMap((branch, i) => [
            `${indent}  branch ${i + 1}:`,
            ...messages({ actionType: state.actionType, errors: branch.errors }, `${indent}    `),
          ])
        : [];
    return [line, ...branches];
  });
}

/**
 * Runs the validator, muting its one expected warning: its Node API does not check that the globs of
 * `paths` filters match files (its CLI does, from the repository root); a workflow's globs name files
 * of the repository that uses it, which are not here anyway. Any other warning is a problem.
 */
function validated(validate: (text: string) => ValidationState, text: string): string[] {
  const warnings: string[] = [];
  const warn = console.warn;
  console.warn = (...args: unknown[]) => {
    const message = args.map(String).join(' ');
    if (!/^WARNING: Glob validation is not yet supported/.test(message)) warnings.push(`warning: ${message}`);
  };
  try {
    return [...messages(validate(text)), ...warnings];
  } finally {
    console.warn = warn;
  }
}

function checkAction(text: string): string[] {
  return validated(validateAction, asValidated(text));
}

function checkWorkflow(text: string): string[] {
  return validated(validateWorkflow, text);
}

/** A YAML file in examples/ is a workflow when it sits in .github/workflows/ or has jobs at its top. */
function isWorkflow(path: string, text: string): boolean {
  if (path.includes('.github/workflows/')) return true;
  try {
    const doc: unknown = parse(text);
    return typeof doc === 'object' && doc !== null && 'jobs' in doc;
  } catch {
    return true; // let the validator say what is wrong with it
  }
}

/** Every complete workflow (`on:` and `jobs:`) in a ```yaml block of the README, docs/ and action READMEs. */
function workflowsInDocs(): { where: string; text: string }[] {
  const files = ['README.md'];
  const walk = (dir: string): void => {
    for (const entry of readdirSync(join(root, dir), { withFileTypes: true }))
      if (entry.isDirectory()) walk(`${dir}/${entry.name}`);
      else if (entry.name.endsWith('.md')) files.push(`${dir}/${entry.name}`);
  };
  if (existsSync(join(root, 'docs'))) walk('docs');
  for (const entry of readdirSync(join(root, 'actions')))
    if (existsSync(join(root, 'actions', entry, 'README.md'))) files.push(`actions/${entry}/README.md`);
  return files.flatMap((file) =>
    yamlBlocks(read(file))
      .filter((block) => /^on:/m.test(block.text) && /^jobs:/m.test(block.text))
      .map((block) => ({ where: `${file}:${block.line}`, text: block.text })),
  );
}

const actionFiles = readdirSync(join(root, 'actions'))
  .map((name) => `actions/${name}/action.yml`)
  .filter((path) => existsSync(join(root, path)));

describe("GitHub's schemas", () => {
  it.each(actionFiles)('accept %s', (file) => {
    expect(checkAction(read(file))).toEqual([]);
  });

  it('accept every workflow in .github/workflows/', () => {
    const files = yamlFiles(root, '.github/workflows');
    expect(files).toContain('.github/workflows/ci.yml');
    expect(files.map((file) => ({ file, errors: checkWorkflow(read(file)) }))).toEqual(
      files.map((file) => ({ file, errors: [] })),
    );
  });

  it('accept every action.yml and workflow in examples/', () => {
    const results = yamlFiles(root, 'examples').flatMap((file) => {
      const text = read(file);
      if (/^action\.ya?ml$/.test(basename(file))) return [{ file, errors: checkAction(text) }];
      return isWorkflow(file, text) ? [{ file, errors: checkWorkflow(text) }] : [];
    });
    expect(results.filter((r) => r.errors.length > 0)).toEqual([]);
  });

  it('accept every complete workflow shown in the docs', () => {
    const shown = workflowsInDocs();
    expect(shown.some((w) => w.where.startsWith('actions/wrap-algorithm/README.md:'))).toBe(true);
    const results = shown.map((w) => ({ where: w.where, errors: checkWorkflow(w.text) }));
    expect(results.filter((r) => r.errors.length > 0)).toEqual([]);
  });
});

describe('the schema check', () => {
  const valid = read('actions/teardown/action.yml');

  it('rejects a broken action.yml, with the validator messages', () => {
    const broken = valid
      .replace(/^description:/m, 'summary:') // description is required; summary is not a key
      .replace('main: dist/index.js', 'entry: dist/index.js');
    const errors = checkAction(broken);
    expect(errors.join('\n')).toContain("Additional property 'summary' is not allowed");
    expect(errors.join('\n')).toMatch(/description/);
  });

  it('allows node24 and nothing else new for runs.using', () => {
    expect(checkAction(valid)).toEqual([]);
    expect(asValidated(valid)).toBe(valid.replace('using: node24', 'using: node20'));
    expect(checkAction(valid.replace('using: node24', 'using: node26'))).not.toEqual([]);
    expect(checkAction(valid.replace('using: node24', 'using: node24x'))).not.toEqual([]);
    // Without the allowance, the bundled schema rejects node24: drop it when this starts failing.
    expect(messages(validateAction(valid))).not.toEqual([]);
  });

  it('rejects a broken workflow', () => {
    const errors = checkWorkflow(
      'on: push\njobs:\n  build:\n    runs-on: ubuntu-latest\n    step:\n      - run: x\n',
    );
    expect(errors).not.toEqual([]);
  });
});

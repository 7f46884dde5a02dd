#!/usr/bin/env node
// Writes the generated parts of each actions/<name>/README.md from that action's action.yml: the title
// and description, the inputs table and the outputs table, each between `<!-- <part>:start -->` and
// `<!-- <part>:end -->` markers. Everything outside the markers (the usage example) is written by hand
// and kept. A README that does not exist yet is created with a usage stub to replace.
// test/integration/docs/action-readmes.test.ts runs this with --check and fails when a README has drifted.
//
// Usage: node scripts/action-readmes.mjs [--check] [--root DIR]
//   --check  write nothing; list the READMEs that differ and exit 1 when any does
//   --root   the repository root (default: this script's repository), for tests
import { existsSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as prettier from 'prettier';
import { parse } from 'yaml';

/** The owner/repo users write in `uses:` (one placeholder for every doc until the repository exists). */
export const REPOSITORY = 'sluice-dev/sluice';

const PARTS = ['header', 'inputs', 'outputs'];

/** A table cell: one line, pipes escaped. */
function cell(text) {
  return String(text ?? '')
    .replace(/\s*\n\s*/g, ' ')
    .replace(/\|/g, '\\|')
    .trim();
}

function code(text) {
  return text.includes('`') ? `\`\` ${text} \`\`` : `\`${text}\``;
}

/** The generated text of each part, from the parsed action.yml. */
export function renderParts(action) {
  const inputs = Object.entries(action.inputs ?? {});
  const outputs = Object.entries(action.outputs ?? {});
  return {
    header: [`# ${cell(action.name)}`, '', cell(action.description)].join('\n'),
    inputs:
      inputs.length === 0
        ? 'This action has no inputs.'
        : [
            '| name | required | default | description |',
            '| --- | --- | --- | --- |',
            ...inputs.map(
              ([name, input]) =>
                `| ${code(name)} | ${input.required === true ? 'yes' : 'no'} | ${
                  input.default === undefined ? '' : code(cell(input.default))
                } | ${cell(input.description)} |`,
            ),
          ].join('\n'),
    outputs:
      outputs.length === 0
        ? 'This action has no outputs.'
        : [
            '| name | description |',
            '| --- | --- |',
            ...outputs.map(([name, output]) => `| ${code(name)} | ${cell(output.description)} |`),
          ].join('\n'),
  };
}

const block = (part, text) => `<!-- ${part}:start -->\n\n${text}\n\n<!-- ${part}:end -->`;

/** A new README: the generated parts around a usage stub to replace by hand. */
function skeleton(dir) {
  return [
    block('header', ''),
    '<!-- The parts between `start` and `end` markers are generated from action.yml by',
    '     `node scripts/action-readmes.mjs`; edit action.yml, not them. The rest is written by hand. -->',
    '## Usage',
    '',
    '```yaml',
    `- uses: ${REPOSITORY}/actions/${dir}@v1`,
    '```',
    '',
    '## Inputs',
    '',
    block('inputs', ''),
    '',
    '## Outputs',
    '',
    block('outputs', ''),
    '',
  ].join('\n');
}

/**
 * The README the generator writes for one action: `existing` with each marked part replaced.
 * Throws when `existing` lacks a pair of markers, rather than guessing where the part goes.
 */
export async function renderReadme(actionYmlText, existing, dir, filepath) {
  const parts = renderParts(parse(actionYmlText));
  let text = existing ?? skeleton(dir);
  for (const part of PARTS) {
    const pattern = new RegExp(`<!-- ${part}:start -->[\\s\\S]*?<!-- ${part}:end -->`);
    if (!pattern.test(text))
      throw new Error(`${filepath}: no <!-- ${part}:start --> … <!-- ${part}:end --> markers`);
    text = text.replace(pattern, () => block(part, parts[part]));
  }
  const options = (await prettier.resolveConfig(filepath)) ?? {};
  return prettier.format(text, { ...options, filepath });
}

/** Every action directory (one with an action.yml) under root/actions. */
export function actionDirs(root) {
  const actions = join(root, 'actions');
  return readdirSync(actions, { withFileTypes: true })
    .filter((entry) => entry.isDirectory() && existsSync(join(actions, entry.name, 'action.yml')))
    .map((entry) => entry.name)
    .sort();
}

async function main(argv) {
  const check = argv.includes('--check');
  const rootIndex = argv.indexOf('--root');
  const root = rootIndex >= 0 ? argv[rootIndex + 1] : fileURLToPath(new URL('..', import.meta.url));
  const drifted = [];
  for (const dir of actionDirs(root)) {
    const readme = join(root, 'actions', dir, 'README.md');
    const actionYml = readFileSync(join(root, 'actions', dir, 'action.yml'), 'utf8');
    const existing = existsSync(readme) ? readFileSync(readme, 'utf8') : undefined;
    const expected = await renderReadme(actionYml, existing, dir, readme);
    if (expected === existing) continue;
    drifted.push(relative(root, readme));
    if (!check) writeFileSync(readme, expected);
  }
  if (check && drifted.length > 0) {
    console.error(
      `These READMEs differ from what scripts/action-readmes.mjs writes from action.yml:\n` +
        drifted.map((file) => `  ${file}\n`).join('') +
        'Run `node scripts/action-readmes.mjs` to regenerate them, and commit the result.',
    );
    process.exitCode = 1;
  } else if (!check) {
    for (const file of drifted) console.log(`wrote ${file}`);
  }
}

if (process.argv[1] !== undefined && fileURLToPath(import.meta.url) === process.argv[1]) {
  await main(process.argv.slice(2));
}

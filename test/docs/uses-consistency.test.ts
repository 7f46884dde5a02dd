// Every `uses:` of a sluice action in the workflows, the examples and the docs names an action that
// exists, passes only inputs it declares and every required one, and reads only outputs it declares;
// and where the YAML runs in (or is copied to) another repository, it names the action as
// <owner>/<repo>/actions/<name>@<ref>, not ./actions/<name>. The checks are in uses-checker.ts.
import { describe, expect, it } from '@jest/globals';
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  REPOSITORY,
  actionInterface,
  checkMarkdown,
  checkYaml,
  loadCatalogue,
  workflowCallInterface,
  yamlFiles,
  type Catalogue,
} from './uses-checker.js';

const root = fileURLToPath(new URL('../..', import.meta.url));
const catalogue = loadCatalogue(root);

/** Markdown files users read: the README, docs/ and each action's README. */
function markdownFiles(): string[] {
  const files = ['README.md'];
  const walk = (dir: string): void => {
    if (!existsSync(join(root, dir))) return;
    for (const entry of readdirSync(join(root, dir), { withFileTypes: true })) {
      const path = `${dir}/${entry.name}`;
      if (entry.isDirectory()) walk(path);
      else if (entry.name.endsWith('.md')) files.push(path);
    }
  };
  walk('docs');
  for (const name of catalogue.actions.keys())
    if (existsSync(join(root, 'actions', name, 'README.md'))) files.push(`actions/${name}/README.md`);
  return files;
}

const read = (path: string): string => readFileSync(join(root, path), 'utf8');

describe('uses: of sluice actions', () => {
  it('knows the five actions', () => {
    expect([...catalogue.actions.keys()].sort()).toEqual([
      'collect-results',
      'dispatch-tasks',
      'provision-run',
      'teardown',
      'wrap-algorithm',
    ]);
  });

  it('are consistent in .github/workflows/', () => {
    const problems = yamlFiles(root, '.github/workflows').flatMap((file) =>
      checkYaml(read(file), file, 'repo-workflow', catalogue),
    );
    expect(problems).toEqual([]);
  });

  it('are consistent in examples/', () => {
    const problems = yamlFiles(root, 'examples').flatMap((file) =>
      checkYaml(read(file), file, 'example', catalogue),
    );
    expect(problems).toEqual([]);
  });

  it('are consistent in the README, docs/ and the actions READMEs', () => {
    const problems = markdownFiles().flatMap((file) => checkMarkdown(read(file), file, catalogue));
    expect(problems).toEqual([]);
  });

  it('are checked in every action README (each shows its action with its outputs)', () => {
    for (const name of catalogue.actions.keys()) {
      const readme = read(`actions/${name}/README.md`);
      expect({ name, shows: readme.includes(`uses: ${REPOSITORY}/actions/${name}@v1`) }).toEqual({
        name,
        shows: true,
      });
    }
  });
});

describe('the uses: checker', () => {
  // An action with a required input and one output, to show each problem once.
  const fake: Catalogue = {
    actions: new Map([
      [
        'provision-run',
        actionInterface(`
name: fake
description: fake
inputs:
  job: { description: d, required: true }
  backend: { description: d, required: false }
  token: { description: d, required: true, default: x }
outputs:
  run-id: { description: d }
runs: { using: node24, main: dist/index.js }
`),
      ],
    ]),
    workflows: new Map([
      [
        'sluice-run.yml',
        workflowCallInterface(`
on:
  workflow_call:
    inputs:
      job: { type: string, required: true }
    secrets:
      aws-secret: { required: false }
    outputs:
      results: { value: x }
jobs: {}
`) ?? { inputs: {}, outputs: [] },
      ],
    ]),
  };

  const workflow = (on: string, steps: string): string => `
on: ${on}
jobs:
  run:
    runs-on: ubuntu-latest
    steps:
${steps.replace(/^/gm, '      ')}
`;

  it('accepts a consistent use', () => {
    const text = workflow(
      'push',
      `- id: provision\n  uses: ${REPOSITORY}/actions/provision-run@v1\n  with: { job: jobs/a.json }\n- run: echo \${{ steps.provision.outputs['run-id'] }}`,
    );
    expect(checkYaml(text, 'ok.yml', 'example', fake)).toEqual([]);
  });

  it('rejects an input the action does not declare', () => {
    const text = workflow(
      'push',
      `- uses: ${REPOSITORY}/actions/provision-run@v1\n  with: { job: a, jobs: b }`,
    );
    expect(checkYaml(text, 'w.yml', 'example', fake)).toEqual([
      expect.stringContaining('passes input jobs, which action provision-run does not declare'),
    ]);
  });

  it('rejects a missing required input (one with a default may be left out)', () => {
    const text = workflow('push', `- uses: ${REPOSITORY}/actions/provision-run@v1`);
    expect(checkYaml(text, 'w.yml', 'example', fake)).toEqual([
      expect.stringContaining('misses input job, which action provision-run requires'),
    ]);
  });

  it('rejects reading an output the action does not declare', () => {
    const text = workflow(
      'push',
      `- id: provision\n  uses: ${REPOSITORY}/actions/provision-run@v1\n  with: { job: a }\n- run: echo \${{ steps.provision.outputs.runid }}`,
    );
    expect(checkYaml(text, 'w.yml', 'example', fake)).toEqual([
      expect.stringContaining(
        'reads steps.provision.outputs.runid, which action provision-run does not declare',
      ),
    ]);
  });

  it('rejects an action that does not exist, and a reference without a version', () => {
    const text = workflow(
      'push',
      `- uses: ${REPOSITORY}/actions/provision@v1\n- uses: ${REPOSITORY}/actions/provision-run\n  with: { job: a }`,
    );
    expect(checkYaml(text, 'w.yml', 'example', fake)).toEqual([
      expect.stringContaining('there is no action provision under actions/'),
      expect.stringContaining('a remote reference needs a version'),
    ]);
  });

  it('rejects ./actions/X in a reusable workflow, an example and a doc, and allows it in this repository CI', () => {
    const local = `- uses: ./actions/provision-run\n  with: { job: a }`;
    expect(checkYaml(workflow('workflow_call', local), 'sluice-run.yml', 'repo-workflow', fake)).toEqual([
      expect.stringContaining('this is a reusable workflow (on: workflow_call)'),
    ]);
    expect(checkYaml(workflow('[push, workflow_call]', local), 'r.yml', 'repo-workflow', fake)).toHaveLength(
      1,
    );
    expect(checkYaml(workflow('push', local), 'example.yml', 'example', fake)).toEqual([
      expect.stringContaining(`write ${REPOSITORY}/actions/provision-run@v1`),
    ]);
    expect(checkMarkdown('Text.\n\n```yaml\n' + local + '\n```\n', 'doc.md', fake)).toEqual([
      expect.stringMatching(/^doc\.md:4: .*this doc shows what users write/),
    ]);
    expect(checkYaml(workflow('push', local), 'ci.yml', 'repo-workflow', fake)).toEqual([]);
  });

  it('rejects another owner/repo naming a sluice action', () => {
    expect(
      checkYaml(`- uses: acme/sluice/actions/provision-run@v1\n  with: { job: a }`, 's.yml', 'doc', fake),
    ).toEqual([expect.stringContaining(`sluice's actions are ${REPOSITORY}/actions/<name>@<ref>`)]);
  });

  it('checks a call of a reusable workflow: inputs, secrets and outputs', () => {
    const text = `
on: push
jobs:
  run:
    uses: ${REPOSITORY}/.github/workflows/sluice-run.yml@v1
    with: { jobs: a }
    secrets: { aws-key: x }
  after:
    needs: run
    runs-on: ubuntu-latest
    steps:
      - run: echo \${{ needs.run.outputs.result }}
`;
    expect(checkYaml(text, 'w.yml', 'example', fake)).toEqual([
      expect.stringContaining('passes input jobs, which workflow sluice-run.yml does not declare'),
      expect.stringContaining('misses input job, which workflow sluice-run.yml requires'),
      expect.stringContaining('passes secret aws-key, which workflow sluice-run.yml does not declare'),
      expect.stringContaining(
        'reads needs.run.outputs.result, which workflow sluice-run.yml does not declare',
      ),
    ]);
  });

  it('ignores other actions', () => {
    const text = workflow('push', `- uses: actions/checkout@v4\n  with: { anything: 1 }`);
    expect(checkYaml(text, 'w.yml', 'example', fake)).toEqual([]);
  });
});

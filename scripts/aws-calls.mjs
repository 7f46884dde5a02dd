#!/usr/bin/env node
// Lists every AWS API call sluice's code makes (each `new <Operation>Command(` of an AWS SDK client in
// packages/*/src and actions/*/src, tests excluded), the source file that sends it, and the
// integration or end-to-end tests (which run against the moto server) that use that file's exports,
// directly or through the run steps / CLI / action bundles. A call whose file no such test reaches is
// marked "not against moto".
//
// The link from a test to a source file is static: a test reaches a file when it names one of the
// file's exports, or when it drives a bundle (CLI, action, runner, Lambda) or a step that imports the
// file. It says which calls a test can reach, not that every branch ran.
//
// Usage: node scripts/aws-calls.mjs [--markdown | --json]
import { readFileSync, readdirSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const markdown = process.argv.includes('--markdown');
const asJson = process.argv.includes('--json');

function files(dir, keep) {
  const found = [];
  for (const name of readdirSync(dir)) {
    if (name === 'node_modules' || name === 'dist') continue;
    const path = join(dir, name);
    if (statSync(path).isDirectory()) found.push(...files(path, keep));
    else if (keep(path)) found.push(path);
  }
  return found;
}

const isSource = (path) => path.endsWith('.ts') && !/\.(test|test-support)\.ts$/.test(path);
// packages/testing is the test bed's own code, not sluice's.
const sources = ['packages', 'actions'].flatMap((top) =>
  files(
    join(root, top),
    (path) => isSource(path) && path.includes('/src/') && !path.includes('packages/testing/'),
  ),
);
const tests = ['test/integration', 'test/e2e'].flatMap((dir) =>
  files(join(root, dir), (path) => path.endsWith('.ts')),
);
const text = new Map([...sources, ...tests].map((path) => [path, readFileSync(path, 'utf8')]));

// Which SDK client each imported command comes from.
function calls(path) {
  const source = text.get(path);
  const clientOf = new Map();
  for (const match of source.matchAll(
    /import\s*(?:type\s*)?\{([^}]*)\}\s*from\s*'@aws-sdk\/client-([a-z0-9-]+)'/g,
  )) {
    for (const name of match[1].split(',').map((part) => part.trim().split(/\s+as\s+/)[0])) {
      if (name.endsWith('Command')) clientOf.set(name, match[2]);
    }
  }
  const found = new Set();
  for (const match of source.matchAll(/new (\w+)Command\(/g)) {
    const client = clientOf.get(`${match[1]}Command`);
    if (client !== undefined) found.add(`${client} ${match[1]}`);
  }
  // Paginators send their command too.
  for (const match of source.matchAll(/paginate(\w+)\(/g)) {
    const client = [...source.matchAll(/from '@aws-sdk\/client-([a-z0-9-]+)'/g)].map((m) => m[1])[0];
    if (client !== undefined) found.add(`${client} ${match[1]}`);
  }
  return found;
}

const exportsOf = (path) =>
  [...text.get(path).matchAll(/^export (?:async )?(?:function|class|const|interface|type) (\w+)/gm)].map(
    (match) => match[1],
  );

// Files that import a file (relative imports inside a package), to follow steps and bundles.
const importersOf = new Map();
for (const path of sources) {
  for (const match of text.get(path).matchAll(/from '(\.{1,2}\/[^']+)\.js'/g)) {
    const target = join(path, '..', `${match[1]}.ts`);
    if (!importersOf.has(target)) importersOf.set(target, new Set());
    importersOf.get(target).add(path);
  }
}
function reachers(path, seen = new Set()) {
  if (seen.has(path)) return seen;
  seen.add(path);
  for (const importer of importersOf.get(path) ?? []) reachers(importer, seen);
  return seen;
}

// Entry points a test drives as a process: the bundles of these packages.
const BUNDLES = [
  [/packages\/cli\/dist|sluice\(|runCli|CLI\b/, 'packages/cli/src'],
  [/actions\/[a-z-]+\/dist|runAction\(|actionBundle/, 'actions/'],
  [/packages\/runner\/dist|runnerBundle|wrapped|Runner/, 'packages/runner/src'],
  [/packages\/lambda\/src|handler\(/, 'packages/lambda/src'],
];

function testsReaching(path) {
  const chain = [...reachers(path)];
  const names = new Set(chain.flatMap(exportsOf));
  const reached = [];
  for (const test of tests) {
    const body = text.get(test);
    const byName = [...names].some((name) => new RegExp(`\\b${name}\\b`).test(body));
    const byBundle = BUNDLES.some(
      ([pattern, dir]) => pattern.test(body) && chain.some((file) => relative(root, file).startsWith(dir)),
    );
    if (byName || byBundle) reached.push(relative(root, test).replace(/^test\//, ''));
  }
  return reached;
}

const rows = [];
for (const path of sources) {
  const sent = calls(path);
  if (sent.size === 0) continue;
  const reached = testsReaching(path);
  for (const call of sent) rows.push({ call, file: relative(root, path), tests: reached });
}
rows.sort((a, b) => a.call.localeCompare(b.call) || a.file.localeCompare(b.file));

const untested = rows.filter((row) => row.tests.length === 0);
if (asJson) {
  // For tests: every call, the file that sends it and the tests that reach it.
  console.log(JSON.stringify(rows));
  process.exit(0);
}
if (markdown) {
  console.log('| service | operation | sent from | tests against moto |');
  console.log('|---|---|---|---|');
  for (const row of rows) {
    const [service, operation] = row.call.split(' ');
    const shown = row.tests.length === 0 ? '**not against moto**' : row.tests.slice(0, 3).join(', ');
    console.log(`| ${service} | ${operation} | ${row.file} | ${shown}${row.tests.length > 3 ? ', …' : ''} |`);
  }
} else {
  for (const row of rows) {
    const shown =
      row.tests.length === 0 ? 'NOT AGAINST MOTO' : `${row.tests.length} test file(s), e.g. ${row.tests[0]}`;
    console.log(`${row.call.padEnd(48)} ${row.file.padEnd(52)} ${shown}`);
  }
}
const operations = new Set(rows.map((row) => row.call));
console.log(
  `\n${operations.size} AWS operations in ${new Set(rows.map((row) => row.file)).size} files; ` +
    `${new Set(untested.map((row) => row.call)).size} sent from a file no moto test reaches.`,
);

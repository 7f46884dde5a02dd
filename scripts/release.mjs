#!/usr/bin/env node
// One version for everything: the root, every workspace package (the five actions, the CLI, the
// runner, the Lambda, core…), the CLI's VERSION and a CHANGELOG section. Releases are tags `vX.Y.Z`
// with a moving `vX` (what `uses: …@v1` follows); .github/workflows/release.yml runs `check` and
// `notes` on the tag.
//
//   node scripts/release.mjs prepare X.Y.Z   set every version, move "Unreleased" to "X.Y.Z — date",
//                                            sync package-lock.json (then rebuild the bundles and commit)
//   node scripts/release.mjs check [vX.Y.Z]  every version agrees (and equals the tag, whose CHANGELOG
//                                            section must exist); exit 1 listing what does not
//   node scripts/release.mjs notes X.Y.Z     print the CHANGELOG section of X.Y.Z (the release notes)
//
// --root DIR works on another checkout (tests use a copy); --no-lock skips the lock file sync.
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

const SEMVER = /^(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)$/;
const VERSION_FILE = 'packages/cli/src/version.ts';

function fail(message) {
  console.error(`release: ${message}`);
  process.exit(1);
}

/** Every package.json that carries the shared version: the root and each workspace. */
function packageFiles(root) {
  const files = [join(root, 'package.json')];
  for (const top of ['packages', 'actions']) {
    for (const name of readdirSync(join(root, top)).sort()) {
      const file = join(root, top, name, 'package.json');
      if (existsSync(file)) files.push(file);
    }
  }
  return files;
}

function readVersions(root) {
  const versions = packageFiles(root).map((file) => ({
    where: relative(root, file),
    version: JSON.parse(readFileSync(file, 'utf8')).version,
  }));
  const cli = /export const VERSION = '([^']*)'/.exec(readFileSync(join(root, VERSION_FILE), 'utf8'));
  versions.push({ where: VERSION_FILE, version: cli?.[1] });
  return versions;
}

/** The CHANGELOG section `## X.Y.Z…` up to the next `## `, without its heading. */
function changelogSection(root, version) {
  const text = readFileSync(join(root, 'CHANGELOG.md'), 'utf8');
  const lines = text.split('\n');
  const start = lines.findIndex((line) =>
    new RegExp(`^## ${version.replace(/\./g, '\\.')}(\\s|$)`).test(line),
  );
  if (start === -1) return undefined;
  const end = lines.findIndex((line, i) => i > start && line.startsWith('## '));
  return lines
    .slice(start + 1, end === -1 ? undefined : end)
    .join('\n')
    .trim();
}

function check(root, tag) {
  const versions = readVersions(root);
  const expected = tag === undefined ? versions[0].version : tag.replace(/^v/, '');
  const problems = [];
  if (tag !== undefined && !SEMVER.test(expected)) problems.push(`the tag ${tag} is not vX.Y.Z`);
  for (const { where, version } of versions) {
    if (version !== expected) problems.push(`${where}: version ${String(version)}, expected ${expected}`);
  }
  if (tag !== undefined && changelogSection(root, expected) === undefined) {
    problems.push(
      `CHANGELOG.md has no "## ${expected}" section: run node scripts/release.mjs prepare ${expected}`,
    );
  }
  if (problems.length > 0) fail(`versions disagree:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
  console.log(`release: every version is ${expected} (${versions.length} places)`);
}

function prepare(root, version, syncLock) {
  if (!SEMVER.test(version)) fail(`"${version}" is not X.Y.Z`);
  for (const file of packageFiles(root)) {
    const text = readFileSync(file, 'utf8');
    writeFileSync(file, text.replace(/^(\s*"version":\s*")[^"]*(")/m, `$1${version}$2`));
  }
  const versionFile = join(root, VERSION_FILE);
  writeFileSync(
    versionFile,
    readFileSync(versionFile, 'utf8').replace(
      /export const VERSION = '[^']*'/,
      `export const VERSION = '${version}'`,
    ),
  );
  const changelog = join(root, 'CHANGELOG.md');
  const text = readFileSync(changelog, 'utf8');
  if (!text.includes('\n## Unreleased\n')) fail('CHANGELOG.md has no "## Unreleased" section to release');
  const date = new Date().toISOString().slice(0, 10);
  writeFileSync(changelog, text.replace('\n## Unreleased\n', `\n## Unreleased\n\n## ${version} — ${date}\n`));
  if (syncLock) {
    execFileSync('npm', ['install', '--package-lock-only', '--ignore-scripts', '--no-audit', '--no-fund'], {
      cwd: root,
      stdio: 'inherit',
    });
  }
  console.log(
    `release: ${version} prepared. Next: bash scripts/check-dist.sh (bundles carry the version), commit, ` +
      `then git tag v${version} && git push origin v${version} (the release workflow moves v${version.split('.')[0]}).`,
  );
}

const args = process.argv.slice(2);
const rootAt = args.indexOf('--root');
const root = rootAt === -1 ? fileURLToPath(new URL('..', import.meta.url)) : args[rootAt + 1];
const positional = args.filter((arg, i) => !arg.startsWith('--') && (rootAt === -1 || i !== rootAt + 1));
const [command, value] = positional;
switch (command) {
  case 'check':
    check(root, value);
    break;
  case 'prepare':
    if (value === undefined) fail('prepare needs the version: node scripts/release.mjs prepare X.Y.Z');
    prepare(root, value, !args.includes('--no-lock'));
    break;
  case 'notes': {
    const section = value === undefined ? undefined : changelogSection(root, value.replace(/^v/, ''));
    if (section === undefined) fail(`no CHANGELOG.md section for ${String(value)}`);
    console.log(section);
    break;
  }
  default:
    fail('usage: node scripts/release.mjs prepare X.Y.Z | check [vX.Y.Z] | notes X.Y.Z');
}

// The unit tier touches nothing outside the jest process (docs/architecture.md, "Tests"): a test that
// starts a process (spawn, execFile, a `/bin/sh` or `node` algorithm, git, a script) or opens a
// socket (a server's listen, an HTTP request to a loopback stand-in) belongs in test/integration/<area>/.
// This test reads the unit project's testMatch from jest.config.js, scans every file it matches, and
// fails naming each file and what it uses. The scan is textual; it catches the direct uses and the
// helpers below that are known to run or listen, which is what such tests have looked like so far.
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';

import { describe, expect, it } from '@jest/globals';
import { REPOSITORY_ROOT } from '@sluice/testing';

interface JestProject {
  readonly displayName: string;
  readonly testMatch: readonly string[];
}

/** What gives a process or a socket away in a test file, with what it does. */
const FORBIDDEN: readonly { readonly pattern: RegExp; readonly what: string }[] = [
  {
    pattern: /from\s+'(node:)?(child_process|cluster)'/,
    what: 'imports child_process (starts processes)',
  },
  {
    pattern: /from\s+'(node:)?(net|http|https|http2|dgram|tls)'/,
    what: 'imports a networking module (opens sockets)',
  },
  { pattern: /\.listen\(/, what: 'calls .listen( (opens a server socket)' },
  { pattern: /\bFakeGitHubApi\b/, what: 'uses FakeGitHubApi (an HTTP server on a loopback port)' },
  { pattern: /\bProcessCommandRunner\b/, what: 'uses ProcessCommandRunner (runs programs)' },
  { pattern: /\brunAlgorithm\b/, what: 'uses runAlgorithm (runs the algorithm as a process)' },
  { pattern: /\bPortAlgorithm\b/, what: 'uses PortAlgorithm (a server process it connects to)' },
  { pattern: /\brunDocCommands\b/, what: "uses runDocCommands (runs the docs' shell blocks)" },
  {
    pattern: /command:\s*\[\s*(process\.execPath|'(\/bin\/|\/usr\/bin\/)?(sh|bash|node)')/,
    what: 'gives an algorithm a real command (/bin/sh, node), which the code under test runs',
  },
];

/**
 * Unit-tier files that may match anyway, each with the reason. Keep it empty if you can: move the
 * part that runs or listens to test/integration/<area>/ instead.
 */
const ALLOWED: Readonly<Record<string, string>> = {
  'test/docs/test-tiers.test.ts': 'this file: it names the patterns it looks for',
};

/** A jest glob (`*`, `**`) as a regular expression over paths relative to the repository root. */
function globToRegExp(glob: string): RegExp {
  let source = '';
  for (let i = 0; i < glob.length; i += 1) {
    const char = glob[i] ?? '';
    if (glob.startsWith('**/', i)) {
      source += '(?:.*/)?';
      i += 2;
    } else if (char === '*') source += '[^/]*';
    else source += char.replace(/[.+?^${}()|[\]\\]/g, '\\$&');
  }
  return new RegExp(`^${source}$`);
}

/** Every file under `dir` (relative to the root), skipping installed and built trees. */
function filesUnder(dir: string): string[] {
  if (!existsSync(join(REPOSITORY_ROOT, dir))) return [];
  return readdirSync(join(REPOSITORY_ROOT, dir), { withFileTypes: true }).flatMap((entry) => {
    const path = `${dir}/${entry.name}`;
    if (!entry.isDirectory()) return [path];
    return ['node_modules', 'dist', '.git'].includes(entry.name) ? [] : filesUnder(path);
  });
}

async function unitTierFiles(): Promise<string[]> {
  const config = (await import(pathToFileURL(join(REPOSITORY_ROOT, 'jest.config.js')).href)) as {
    default: { projects: JestProject[] };
  };
  const unit = config.default.projects.find((project) => project.displayName === 'unit');
  if (unit === undefined) throw new Error('jest.config.js has no project named unit');
  const globs = unit.testMatch.map((match) => match.replace(/^<rootDir>\//, ''));
  const patterns = globs.map(globToRegExp);
  // Walk only each glob's fixed leading folders, e.g. packages/ for packages/*/src/**/*.test.ts.
  const tops = [...new Set(globs.map((glob) => (glob.split('*')[0] ?? '').replace(/\/?[^/]*$/, '')))];
  const files = tops.flatMap(filesUnder).filter((file) => patterns.some((pattern) => pattern.test(file)));
  return [...new Set(files)].sort();
}

describe('the unit tier', () => {
  it('starts no process and opens no socket (those tests go to test/integration/<area>/)', async () => {
    const files = await unitTierFiles();
    // The scan is only worth something when it sees the tier: packages, actions and test/docs.
    expect(files.length).toBeGreaterThan(50);
    for (const top of ['packages/', 'actions/', 'test/docs/'])
      expect(files.some((file) => file.startsWith(top))).toBe(true);

    const found = files
      .filter((file) => !(file in ALLOWED))
      .flatMap((file) => {
        const text = readFileSync(join(REPOSITORY_ROOT, file), 'utf8');
        return FORBIDDEN.filter(({ pattern }) => pattern.test(text)).map(({ what }) => `${file} ${what}`);
      });

    // On failure: move the test (or the describe block that runs or listens, splitting the file) to
    // test/integration/<area>/, importing the packages as @sluice/... — or, with a reason, add the
    // file to ALLOWED above.
    expect(found).toEqual([]);
  });

  it('the scan finds what it looks for', () => {
    const scan = (text: string): string[] =>
      FORBIDDEN.filter(({ pattern }) => pattern.test(text)).map(({ what }) => what);
    expect(scan("import { execFile } from 'node:child_process';")).toHaveLength(1);
    expect(scan("import { createServer } from 'http';\nserver.listen(0);")).toHaveLength(2);
    expect(scan("manifest({ command: ['/bin/sh', '-c', 'exit 3'] })")).toHaveLength(1);
    expect(scan('new PortAlgorithm({ command: [process.execPath, script] })')).toHaveLength(2);
    expect(scan("{ entrypoint: ['/bin/sh', '-c'], command: ['echo hi'] }")).toEqual([]);
  });
});

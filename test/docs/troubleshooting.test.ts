// docs/github.md's "Troubleshooting, by error message" against the code: every message it lists is
// one sluice can print. A heading's fixed words must appear, in order, in one source file (TypeScript
// or workflow), where `<placeholder>` and `…` stand for what varies. Messages that come from AWS or
// another action are listed below with where they come from.
import { readFileSync, readdirSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';

import { describe, expect, it } from '@jest/globals';
import { REPOSITORY_ROOT } from '@sluice/testing';

const GUIDE = join(REPOSITORY_ROOT, 'docs', 'github.md');

/** Headings quoting someone else's words: where each comes from. */
const NOT_OURS: Readonly<Record<string, string>> = {
  'Not authorized to perform sts:AssumeRoleWithWebIdentity':
    'AWS STS, via aws-actions/configure-aws-credentials',
  'AWS.SimpleQueueService.QueueDeletedRecently': "SQS's error code, quoted in provision-run's message",
};

/** Longest stretch a placeholder may stand for in the source (an interpolation, a variable). */
const MAX_GAP = 400;

function sourceFiles(dir: string, out: string[] = []): string[] {
  for (const name of readdirSync(dir)) {
    if (name === 'node_modules' || name === 'dist') continue;
    const path = join(dir, name);
    if (statSync(path).isDirectory()) sourceFiles(path, out);
    else if (/\.(ts|yml)$/.test(name) && !/\.test\.ts$/.test(name)) out.push(path);
  }
  return out;
}

/**
 * The source as one string per file with string concatenations joined (`'a ' +\n 'b'` reads
 * `a b`) and escaped quotes unescaped, so a message split over lines reads as printed.
 */
function normalizedSource(path: string): string {
  return (
    readFileSync(path, 'utf8')
      .replace(/(['"`])\s*\+\s*(['"`])/g, '')
      // A problem at a place in the job prints as `<file>: <path>: <message>. <hint>` (formatProblem).
      .replace(
        /jobProblem\(\s*(['"`])([^]*?)\1,\s*(['"`])([^]*?)\3(?:,\s*(['"`])([^]*?)\5)?,?\s*\)/g,
        (_call, _q1, where: string, _q2, message: string, _q3, hint: string | undefined) =>
          `'${where}: ${message}${hint === undefined ? '' : `. ${hint}`}'`,
      )
      .replace(/\\(["'`])/g, '$1')
  );
}

/** The troubleshooting headings: the quoted message of each `**\`…\`**` entry. */
function headings(): string[] {
  const text = readFileSync(GUIDE, 'utf8');
  const section = text.slice(text.indexOf('## Troubleshooting, by error message'));
  const end = section.indexOf('\n## ', 3);
  return [...(end > 0 ? section.slice(0, end) : section).matchAll(/^\*\*`(.+?)`\*\*/gm)].map(
    (m) => m[1] ?? '',
  );
}

/** The heading's fixed words, split at placeholders (`<…>`, `…`) and quotes. */
function fragments(heading: string): string[] {
  return heading
    .split(/<[^>]+>|…|"/)
    .map((part) => part.trim().replace(/^[:.,]\s*/, ''))
    .filter((part) => part.length >= 3);
}

/** True when the fragments occur in order in `text`, each within MAX_GAP of the one before. */
function occursInOrder(text: string, parts: readonly string[]): boolean {
  const [first, ...rest] = parts;
  if (first === undefined) return false;
  for (let start = text.indexOf(first); start >= 0; start = text.indexOf(first, start + 1)) {
    let at = start + first.length;
    const matched = rest.every((part) => {
      const found = text.indexOf(part, at);
      if (found < 0 || found - at > MAX_GAP) return false;
      at = found + part.length;
      return true;
    });
    if (matched) return true;
  }
  return false;
}

describe('docs/github.md troubleshooting', () => {
  const sources = [
    ...['packages', 'actions'].flatMap((dir) => sourceFiles(join(REPOSITORY_ROOT, dir))),
    ...sourceFiles(join(REPOSITORY_ROOT, '.github', 'workflows')),
  ].map((path) => ({ path: relative(REPOSITORY_ROOT, path), text: normalizedSource(path) }));
  const listed = headings();

  it('lists messages (the section and its headings are found)', () => {
    expect(listed.length).toBeGreaterThanOrEqual(8);
    expect(sources.length).toBeGreaterThan(50);
  });

  it.each(listed.filter((heading) => !(heading in NOT_OURS)))(
    '"%s" is a message sluice prints',
    (heading) => {
      const parts = fragments(heading);
      const found = sources.filter((source) => occursInOrder(source.text, parts)).map((s) => s.path);
      // On failure: the code's message changed (or the heading has an example value where the code
      // has a variable: write it as <placeholder>). The fragments show what was looked for.
      expect({ heading, parts, found: found.length > 0 }).toEqual({ heading, parts, found: true });
    },
  );

  it('names where every message that is not sluice’s comes from, and each is still listed', () => {
    for (const heading of Object.keys(NOT_OURS)) expect(listed).toContain(heading);
  });
});

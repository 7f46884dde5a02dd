import { describe, expect, test } from '@jest/globals';
import fc from 'fast-check';
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ValidationError } from '../errors.js';
import { checkDocuments, parseJob, parseManifest } from './documents.js';

const root = join(dirname(fileURLToPath(import.meta.url)), '../../../..');
const manifest = JSON.parse(
  readFileSync(join(root, 'examples/algorithms/thumbnails/algorithm.json'), 'utf8'),
) as unknown;
const job = JSON.parse(readFileSync(join(root, 'examples/jobs/thumbnails-ecs.json'), 'utf8')) as unknown;

/** Replaces the value at a random path of a document with an arbitrary JSON value. */
function mutate(document: unknown, choices: readonly number[], replacement: unknown): unknown {
  if (document === null || typeof document !== 'object') return replacement;
  const [choice, ...rest] = choices;
  if (choice === undefined) return replacement;
  if (Array.isArray(document)) {
    if (document.length === 0) return replacement;
    const index = choice % document.length;
    return (document as unknown[]).map((item, i) => (i === index ? mutate(item, rest, replacement) : item));
  }
  const keys = Object.keys(document);
  const key = keys[choice % (keys.length + 1)];
  // One choice in keys.length + 1 adds or replaces an odd key instead of descending.
  if (key === undefined) return { ...document, [`extra${choice}`]: replacement };
  return { ...document, [key]: mutate((document as Record<string, unknown>)[key], rest, replacement) };
}

function mutants(base: unknown): fc.Arbitrary<unknown> {
  return fc
    .tuple(fc.array(fc.nat(), { maxLength: 5 }), fc.jsonValue({ maxDepth: 3 }))
    .map(([choices, replacement]) => mutate(base, choices, replacement));
}

function checkAll(text: string): void {
  const report = checkDocuments([{ file: 'doc.json', text }]);
  for (const problem of report.problems) {
    expect(problem.path.startsWith('$')).toBe(true);
    expect(problem.message.length).toBeGreaterThan(0);
  }
  for (const parse of [parseJob, parseManifest]) {
    try {
      parse(text, 'doc.json');
    } catch (thrown: unknown) {
      expect(thrown).toBeInstanceOf(ValidationError);
      if (thrown instanceof ValidationError) {
        expect(thrown.problems.length).toBeGreaterThan(0);
        expect(thrown.problems.every((p) => p.path.startsWith('$'))).toBe(true);
      }
    }
  }
}

describe('the validator never crashes', () => {
  test('on arbitrary JSON', () => {
    fc.assert(
      fc.property(fc.jsonValue(), (value) => {
        checkAll(JSON.stringify(value));
      }),
      { numRuns: 300 },
    );
  });

  test('on arbitrary text', () => {
    fc.assert(
      fc.property(fc.string(), (text) => {
        checkAll(text);
      }),
      { numRuns: 300 },
    );
  });

  test('on mutations of the valid examples', () => {
    fc.assert(
      fc.property(fc.oneof(mutants(manifest), mutants(job)), (value) => {
        checkAll(JSON.stringify(value));
      }),
      { numRuns: 500 },
    );
  });

  test('on the examples given together after mutation', () => {
    fc.assert(
      fc.property(mutants(manifest), mutants(job), (m, j) => {
        const report = checkDocuments([
          { file: 'algorithm.json', text: JSON.stringify(m) },
          { file: 'job.json', text: JSON.stringify(j) },
        ]);
        expect(report.problems.every((p) => p.path.startsWith('$'))).toBe(true);
      }),
      { numRuns: 300 },
    );
  });
});

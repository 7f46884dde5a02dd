import { describe, expect, it } from '@jest/globals';
import { readFile } from 'node:fs/promises';
import { checkDocuments, formatProblem } from '@sluice/core';

/** The JSON examples in the README: each block follows a line that names its file in backticks. */
async function readmeExamples(): Promise<{ file: string; text: string }[]> {
  const readme = await readFile(new URL('../../README.md', import.meta.url), 'utf8');
  return [...readme.matchAll(/^`(\S+\.json)`[^\n]*\n+```json\n([\s\S]*?)```/gm)].map((match) => ({
    file: `README.md (${match[1] ?? '?'})`,
    text: match[2] ?? '',
  }));
}

describe('README', () => {
  it('shows a manifest and a job that validate, together', async () => {
    const examples = await readmeExamples();
    expect(examples.map((e) => e.file)).toEqual(['README.md (algorithm.json)', 'README.md (job.json)']);
    const report = checkDocuments(examples);
    expect(report.problems.map(formatProblem)).toEqual([]);
    expect(report.documents.map((d) => d.kind)).toEqual(['manifest', 'job']);
  });
});

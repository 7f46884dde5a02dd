import { describe, expect, it } from '@jest/globals';
import type { CheckReport, Problem } from '@sluice/core';

import { buildReport, exitCodeFor, renderJson, renderText, summaryLine } from './report.js';

const retries: Problem = { file: 'job.json', path: '$.retries', message: 'must be >= 0', found: '-1' };
const envMissing: Problem = { file: 'job.json', path: '$.env', message: 'misses THRESHOLD', hint: 'Add it' };
const missing: Problem = {
  file: 'gone.json',
  path: '$',
  message: 'cannot read the file: the file does not exist',
};

const checked: CheckReport = {
  documents: [
    { file: 'algorithm.json', kind: 'manifest', problems: [] },
    { file: 'job.json', kind: 'job', problems: [retries] },
  ],
  problems: [retries, envMissing],
};

describe('validation report', () => {
  it('lists every file in the order given, with its own problems and the cross-checks naming it', () => {
    const report = buildReport(['algorithm.json', 'job.json', 'gone.json'], [missing], checked);

    expect(report).toEqual({
      valid: false,
      documents: [
        { file: 'algorithm.json', kind: 'manifest', problems: [] },
        { file: 'job.json', kind: 'job', problems: [retries, envMissing] },
        { file: 'gone.json', kind: null, problems: [missing] },
      ],
    });
    expect(exitCodeFor(report)).toBe(2);
  });

  it('is valid, exit 0, when no file has a problem', () => {
    const report = buildReport(['algorithm.json'], [], {
      documents: [{ file: 'algorithm.json', kind: 'manifest', problems: [] }],
      problems: [],
    });

    expect(report.valid).toBe(true);
    expect(exitCodeFor(report)).toBe(0);
    expect(summaryLine(report)).toBe('1 file checked: 1 valid');
  });

  it('prints each problem grouped by file and a summary line', () => {
    const report = buildReport(['algorithm.json', 'job.json'], [], checked);

    expect(renderText(report)).toBe(
      [
        'algorithm.json: valid manifest',
        'job.json: invalid job, 2 problems:',
        '  job.json: $.retries: must be >= 0 (found -1)',
        '  job.json: $.env: misses THRESHOLD. Add it',
        '',
        '2 files checked: 1 valid, 1 with 2 problems',
        '',
      ].join('\n'),
    );
  });

  it('prints JSON with a null kind when it could not be told', () => {
    const report = buildReport(['gone.json'], [missing], { documents: [], problems: [] });

    expect(JSON.parse(renderJson(report))).toEqual({
      valid: false,
      documents: [{ file: 'gone.json', kind: null, problems: [missing] }],
    });
  });
});

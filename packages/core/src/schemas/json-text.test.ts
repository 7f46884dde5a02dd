import { describe, expect, test } from '@jest/globals';

import { parseJsonText } from './json-text.js';

const nested = (levels: number): string => `${'['.repeat(levels)}${']'.repeat(levels)}`;

describe('parseJsonText', () => {
  test('reads JSON, a byte-order mark ignored', () => {
    expect(parseJsonText('\uFEFF{"a": [1, -2.5e3, true, null, "\\u0041"]}', 'f.json')).toEqual({
      ok: true,
      value: { a: [1, -2.5e3, true, null, 'A'] },
    });
  });

  test('says where a syntax error is', () => {
    const result = parseJsonText('{\n  "a": 1,\n}', 'f.json');
    expect(result).toEqual({
      ok: false,
      problems: [expect.objectContaining({ file: 'f.json', path: '$' })],
    });
    expect(!result.ok && result.problems[0]?.message).toContain('line 3, column 1');
  });

  test('refuses a key given twice, naming its path and both places', () => {
    const text = '{\n  "env": {\n    "X": "AKIA",\n    "X": "ok"\n  }\n}';
    const result = parseJsonText(text, 'job.json');
    expect(result).toEqual({
      ok: false,
      problems: [
        expect.objectContaining({
          file: 'job.json',
          path: '$.env.X',
          message: expect.stringContaining('at line 3, column 5 and line 4, column 5') as unknown,
          hint: expect.stringContaining('delete the others') as unknown,
        }),
      ],
    });
  });

  test('tells equal keys written differently, and lists every place and every duplicate', () => {
    const text = '{"a": 1, "\\u0061": 2, "a": 3, "list": [{"b": 1, "b": 2}], "c": {"a": 1}}';
    const result = parseJsonText(text, 'f.json');
    expect(!result.ok && result.problems.map((p) => [p.path, p.message])).toEqual([
      ['$.list[0].b', expect.stringContaining('2 times') as unknown],
      [
        '$.a',
        expect.stringContaining('line 1, column 2, line 1, column 10 and line 1, column 23') as unknown,
      ],
    ]);
  });

  test('reads 64 levels of nesting and refuses 65 before anything recursive runs', () => {
    expect(parseJsonText(nested(64), 'f.json').ok).toBe(true);
    const result = parseJsonText(`{"a": ${nested(65)}}`, 'f.json');
    expect(result).toEqual({
      ok: false,
      problems: [
        expect.objectContaining({
          path: `$.a${'[0]'.repeat(63)}`,
          message: expect.stringContaining('nested more than 64 levels deep') as unknown,
        }),
      ],
    });
    expect(!result.ok && result.problems[0]?.message).toContain('line 1, column 70');
  });

  test('refuses 100,000 levels without overflowing the stack', () => {
    const result = parseJsonText(nested(100_000), 'f.json');
    expect(!result.ok && result.problems[0]?.message).toContain('nested more than 64 levels deep');
  });
});

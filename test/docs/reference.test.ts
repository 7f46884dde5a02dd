// docs/reference.md is generated from the schemas; this test fails when it drifts and rewrites it
// with UPDATE_REFERENCE=1.
import { describe, expect, test } from '@jest/globals';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as prettier from 'prettier';
import { renderReference } from '@sluice/core';

const file = join(dirname(fileURLToPath(import.meta.url)), '../../docs/reference.md');

describe('docs/reference.md', () => {
  test('matches the schemas', async () => {
    const options = (await prettier.resolveConfig(file)) ?? {};
    const expected = await prettier.format(renderReference(), { ...options, filepath: file });
    if (process.env.UPDATE_REFERENCE === '1') writeFileSync(file, expected);
    const actual = existsSync(file) ? readFileSync(file, 'utf8') : '(missing)';
    // On failure: run `UPDATE_REFERENCE=1 npm run test:unit -- test/docs` and commit docs/reference.md.
    expect(actual).toBe(expected);
  });
});

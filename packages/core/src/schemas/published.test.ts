// The published schema files must match the TS schema objects. UPDATE_SCHEMAS=1 rewrites them.
import { describe, expect, test } from '@jest/globals';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as prettier from 'prettier';
import { PUBLISHED_SCHEMAS } from './published.js';

const schemasDir = join(dirname(fileURLToPath(import.meta.url)), '../../schemas');

async function render(schema: unknown, file: string): Promise<string> {
  const options = (await prettier.resolveConfig(file)) ?? {};
  return prettier.format(JSON.stringify(schema, null, 2), { ...options, filepath: file });
}

describe('published schema files', () => {
  test.each(PUBLISHED_SCHEMAS.map((entry) => [entry.file, entry] as const))(
    '%s matches its schema object',
    async (file, entry) => {
      const path = join(schemasDir, file);
      const expected = await render(entry.schema, path);
      if (process.env.UPDATE_SCHEMAS === '1') writeFileSync(path, expected);
      const actual = existsSync(path) ? readFileSync(path, 'utf8') : '(missing)';
      // On failure: run `UPDATE_SCHEMAS=1 npm run test:unit -- packages/core/src/schemas/published` and commit.
      expect(actual).toBe(expected);
    },
  );
});

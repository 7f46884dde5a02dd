import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';

import { checkDocumentFile } from './documents.js';
import { InputError } from './errors.js';

describe('checkDocumentFile', () => {
  let dir: string;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'sluice-action-kit-'));
  });

  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('names the input and what to do when the file does not exist', async () => {
    const path = join(dir, 'missing.json');

    const check = checkDocumentFile({ path, input: 'manifest', kind: 'manifest' });

    await expect(check).rejects.toThrow(InputError);
    await expect(checkDocumentFile({ path, input: 'manifest', kind: 'manifest' })).rejects.toThrow(
      `Input \`manifest\` names ${JSON.stringify(path)}, which does not exist`,
    );
  });

  it('says a directory cannot be read', async () => {
    await expect(checkDocumentFile({ path: dir, input: 'job', kind: 'job' })).rejects.toThrow(
      /which cannot be read \(EISDIR\)/,
    );
  });
});

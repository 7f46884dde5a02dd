import { describe, expect, it } from '@jest/globals';

import { readSources } from './read-sources.js';

function fsError(code: string): Error {
  return Object.assign(new Error(`${code}: failed`), { code });
}

describe('readSources', () => {
  it('reads each file once, and turns the unreadable ones into problems', async () => {
    const files: Record<string, string> = { 'a.json': '{}' };
    const readFile = (path: string): Promise<string> => {
      const text = files[path];
      return text === undefined
        ? Promise.reject(fsError(path === 'dir' ? 'EISDIR' : 'ENOENT'))
        : Promise.resolve(text);
    };

    const read = await readSources(['a.json', 'missing.json', 'a.json', 'dir'], readFile);

    expect(read.sources).toEqual([{ file: 'a.json', text: '{}' }]);
    expect(read.unreadable.map((p) => `${p.file}: ${p.message}`)).toEqual([
      'missing.json: cannot read the file: the file does not exist',
      'dir: cannot read the file: this is a directory, not a file',
    ]);
  });
});

import { describe, expect, it } from '@jest/globals';

import { inputFilter } from './input-selection.js';

describe('inputFilter', () => {
  const separate = inputFilter({
    input: { bucket: 'in', prefix: 'photos/', include: ['**/*.jpg', '*.png'] },
    output: { bucket: 'out', prefix: 'thumbs/' },
  });

  it('takes keys under the prefix that match a glob, relative to the prefix', () => {
    expect(separate('in', 'photos/2024/cat.jpg')).toEqual({ input: true });
    expect(separate('in', 'photos/cat.jpg')).toEqual({ input: true });
    expect(separate('in', 'photos/a.png')).toEqual({ input: true });
    expect(separate('in', 'photos/deep/a.png')).toEqual({ input: false, reason: 'not-included' });
    expect(separate('in', 'photos/notes.txt')).toEqual({ input: false, reason: 'not-included' });
  });

  it('refuses other buckets, other prefixes, folders and ledger keys', () => {
    expect(separate('other', 'photos/cat.jpg')).toEqual({ input: false, reason: 'other-bucket' });
    expect(separate('in', 'videos/cat.jpg')).toEqual({ input: false, reason: 'outside-prefix' });
    expect(separate('in', 'photos/album/')).toEqual({ input: false, reason: 'folder' });
    const root = inputFilter({
      input: { bucket: 'b', prefix: '', include: ['**'] },
      output: { bucket: 'o', prefix: '' },
    });
    expect(root('b', '_sluice/run-12345678/done/x.json')).toEqual({ input: false, reason: 'ledger' });
    expect(root('b', '.hidden/file')).toEqual({ input: true });
  });

  it('refuses a key whose results would land under the ledger root `_sluice/`', () => {
    const toRoot = inputFilter({
      input: { bucket: 'b', prefix: 'photos/', include: ['**'] },
      output: { bucket: 'b', prefix: '' },
    });
    expect(toRoot('b', 'photos/_sluice/thumbs-3f9a0c12/done/x.jpg')).toEqual({
      input: false,
      reason: 'result-in-ledger',
    });
    expect(toRoot('b', 'photos/_sluice/x')).toEqual({ input: false, reason: 'result-in-ledger' });
    expect(toRoot('b', 'photos/a/_sluice/x')).toEqual({ input: true });
    const underscore = inputFilter({
      input: { bucket: 'in', prefix: 'photos/', include: ['**'] },
      output: { bucket: 'out', prefix: '_' },
    });
    expect(underscore('in', 'photos/sluice/x.jpg')).toEqual({ input: false, reason: 'result-in-ledger' });
    expect(underscore('in', 'photos/sluicer/x.jpg')).toEqual({ input: true });
  });

  it("never takes the run's own results when input and output share a bucket", () => {
    const shared = inputFilter({
      input: { bucket: 'b', prefix: '', include: ['**'] },
      output: { bucket: 'b', prefix: 'results/' },
    });
    expect(shared('b', 'results/cat.jpg/thumb.png')).toEqual({ input: false, reason: 'output-prefix' });
    expect(shared('b', 'cat.jpg')).toEqual({ input: true });
  });

  it('does not let a `..` segment match', () => {
    const all = inputFilter({
      input: { bucket: 'b', prefix: 'in/', include: ['**'] },
      output: { bucket: 'o', prefix: '' },
    });
    expect(all('b', 'in/x/../y.txt').input).toBe(false);
  });
});

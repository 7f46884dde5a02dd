import { describe, expect, it } from '@jest/globals';

import { SecretMask } from './secret-mask.js';

describe('SecretMask', () => {
  it('masks every occurrence, the longer value first, and ignores empty values', () => {
    const mask = new SecretMask(['abc', '', 'abcdef']);
    expect(mask.values).toEqual(['abcdef', 'abc']);
    expect(mask.text('key=abcdef, abc, abcabc')).toBe('key=***, ***, ******');
  });

  it('masks strings at any depth and keeps other values', () => {
    const mask = new SecretMask();
    mask.add('s3cr3t');
    expect(mask.deep({ message: 'x s3cr3t', n: 2, list: ['s3cr3t', null], nested: { a: 's3cr3t' } })).toEqual(
      {
        message: 'x ***',
        n: 2,
        list: ['***', null],
        nested: { a: '***' },
      },
    );
  });

  it('moves a cut that falls inside a secret to its end, and leaves other cuts alone', () => {
    const mask = new SecretMask(['secret']);
    expect(mask.safeCut('aaa secret bbb', 6)).toBe(10);
    expect(mask.safeCut('aaa secret bbb', 4)).toBe(4);
    expect(mask.safeCut('aaa secret bbb', 11)).toBe(11);
    // Only the start has arrived: nothing to move over.
    expect(mask.safeCut('aaa secr', 6)).toBe(6);
  });
});

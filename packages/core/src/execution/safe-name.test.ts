import { describe, expect, it } from '@jest/globals';
import fc from 'fast-check';
import { relativePathSegments, safeFileName } from './safe-name.js';

describe('safeFileName', () => {
  it.each([
    ['photos/2026/cat 1.jpg', 'cat 1.jpg'],
    ['../../etc/passwd', 'passwd'],
    ['a/..', '_..'],
    ['.', '_.'],
    ['dir/', 'dir'],
    ['', '_'],
    ['/', '_'],
    ['bad\u0000name\n.txt', 'bad_name_.txt'],
    ['A.png', 'A.png'],
    ['a.png', 'a.png'],
    ['ünïcødé ✓.tif', 'ünïcødé ✓.tif'],
  ])('%j becomes %j', (key, expected) => {
    expect(safeFileName(key)).toBe(expected);
  });

  it('cuts over-long names to 255 bytes and keeps the extension', () => {
    const name = safeFileName(`${'é'.repeat(300)}.png`);
    expect(Buffer.byteLength(name)).toBeLessThanOrEqual(255);
    expect(name.endsWith('.png')).toBe(true);
  });

  it('always yields one safe segment, whatever the key', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'binary', maxLength: 600 }), (key) => {
        const name = safeFileName(key);
        expect(name.length).toBeGreaterThan(0);
        expect(name).not.toContain('/');
        expect(name).not.toContain('\0');
        expect(['.', '..']).not.toContain(name);
        expect(Buffer.byteLength(name)).toBeLessThanOrEqual(255);
        // eslint-disable-next-line no-control-regex -- asserting there are none
        expect(/[\u0000-\u001f\u007f]/.test(name)).toBe(false);
      }),
      { numRuns: 2000 },
    );
  });
});

describe('relativePathSegments', () => {
  it('splits a plain relative path', () => {
    expect(relativePathSegments('thumbs/small.png')).toEqual(['thumbs', 'small.png']);
  });

  it.each([
    ['/etc/passwd', 'absolute'],
    ['a/../../b', '".."'],
    ['a//b', 'empty'],
    ['a/\u0000', 'NUL'],
    ['a/\u001b[31m', 'control characters'],
    ['x'.repeat(256), 'longer than 255 bytes'],
  ])('refuses %j (%s)', (path, reason) => {
    expect(() => relativePathSegments(path)).toThrow(reason);
  });

  it('never accepts a path that leaves its directory', () => {
    fc.assert(
      fc.property(
        fc.array(fc.constantFrom('a', '..', '.', '', 'b c', '\u0000'), { maxLength: 6 }),
        (parts) => {
          const path = parts.join('/');
          let segments: string[];
          try {
            segments = relativePathSegments(path);
          } catch {
            return;
          }
          expect(segments.every((s) => s !== '..' && s !== '.' && s !== '')).toBe(true);
        },
      ),
    );
  });
});

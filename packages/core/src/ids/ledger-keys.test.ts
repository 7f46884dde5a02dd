import { describe, expect, test } from '@jest/globals';
import { ConfigurationError, SluiceError } from '../errors.js';
import {
  completionMarkerKey,
  isLedgerKey,
  ledgerPrefix,
  outputKey,
  outputPrefixFor,
  relativeInputKey,
  relativeOutputPath,
  resultsKey,
  stagingPrefix,
  taskLogKey,
  taskRecordKey,
} from './ledger-keys.js';

const RUN = 'thumbnails-3f9a0c12';
const TASK = '0123456789abcdef01234567';
const prefixes = { input: { prefix: 'photos/' }, output: { prefix: 'thumbs/' } };

describe('ledger keys', () => {
  test('sit under _sluice/<run-id>/', () => {
    expect(ledgerPrefix(RUN)).toBe(`_sluice/${RUN}/`);
    expect(taskRecordKey(RUN, TASK)).toBe(`_sluice/${RUN}/tasks/${TASK}.json`);
    expect(completionMarkerKey(RUN, TASK)).toBe(`_sluice/${RUN}/done/${TASK}.json`);
    expect(taskLogKey(RUN, TASK, 2)).toBe(`_sluice/${RUN}/logs/${TASK}/2.log`);
    expect(stagingPrefix(RUN, TASK, 1)).toBe(`_sluice/${RUN}/staging/${TASK}/1/`);
    expect(resultsKey(RUN)).toBe(`_sluice/${RUN}/results.json`);
    expect(isLedgerKey(taskRecordKey(RUN, TASK))).toBe(true);
    expect(isLedgerKey('photos/_sluice/x')).toBe(false);
  });

  test('refuse malformed ids', () => {
    expect(() => taskRecordKey('../x', TASK)).toThrow(SluiceError);
    expect(() => taskRecordKey(RUN, 'abc/../..')).toThrow(SluiceError);
    expect(() => taskLogKey(RUN, TASK, 0)).toThrow(SluiceError);
  });
});

describe('output keys', () => {
  test('put each input under its own folder', () => {
    expect(outputPrefixFor(prefixes, 'photos/2024/cat.jpg')).toBe('thumbs/2024/cat.jpg/');
    expect(outputKey(prefixes, 'photos/cat.jpg', 'small/cat.png')).toBe('thumbs/cat.jpg/small/cat.png');
    expect(outputKey({ input: { prefix: '' }, output: { prefix: '' } }, 'cat.jpg', 'out.png')).toBe(
      'cat.jpg/out.png',
    );
  });

  test.each([
    ['a key outside the input prefix', () => relativeInputKey('photos/', 'other/cat.jpg'), SluiceError],
    ['a folder key', () => relativeInputKey('photos/', 'photos/2024/'), ConfigurationError],
    ['the prefix itself', () => relativeInputKey('photos/', 'photos/'), ConfigurationError],
    [
      'a .. segment in the output path',
      () => outputKey(prefixes, 'photos/cat.jpg', '../x'),
      ConfigurationError,
    ],
    [
      'an absolute output path',
      () => outputKey(prefixes, 'photos/cat.jpg', '/etc/passwd'),
      ConfigurationError,
    ],
    ['a NUL in the output path', () => outputKey(prefixes, 'photos/cat.jpg', 'a\u0000b'), ConfigurationError],
    [
      'a key over 1024 bytes',
      () => outputKey(prefixes, 'photos/cat.jpg', 'é'.repeat(600)),
      ConfigurationError,
    ],
  ] as const)('refuse %s', (_name, act, kind) => {
    expect(act).toThrow(kind);
  });

  test('map container files to relative output paths', () => {
    expect(relativeOutputPath({ path: '/data/out', kind: 'directory' }, '/data/out/small/cat.png')).toBe(
      'small/cat.png',
    );
    expect(relativeOutputPath({ path: '/data/out/result.json', kind: 'file' }, '/data/out/result.json')).toBe(
      'result.json',
    );
    expect(() => relativeOutputPath({ path: '/data/out', kind: 'directory' }, '/data/outside.png')).toThrow(
      ConfigurationError,
    );
  });
});

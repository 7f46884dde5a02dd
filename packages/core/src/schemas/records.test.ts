import { describe, expect, test } from '@jest/globals';
import { ValidationError } from '../errors.js';
import {
  validateCompletionMarker,
  validateTaskRecord,
  type CompletionMarker,
  type TaskRecord,
} from './records.js';

const DIGEST = `sha256:${'a'.repeat(64)}`;
const RECORD: TaskRecord = {
  schemaVersion: 1,
  runId: 'thumbnails-3f9a0c12',
  taskId: '0123456789abcdef01234567',
  input: { bucket: 'in-bucket', key: 'photos/cat.jpg', etag: '9b2cf535f27731c974343645a3985328', size: 1234 },
  status: 'failed',
  algorithmDigest: DIGEST,
  attempts: [
    {
      attempt: 1,
      workerId: 'worker-1',
      startedAt: '2025-01-31T12:00:00.000Z',
      endedAt: '2025-01-31T12:00:05.000Z',
      phases: { downloadMs: 10, runMs: 4900 },
      exitCode: 137,
      failureClass: 'out-of-memory',
      logKey: '_sluice/thumbnails-3f9a0c12/logs/0123456789abcdef01234567/1.log',
      message: 'killed: out of memory',
    },
  ],
  outputs: [],
  updatedAt: '2025-01-31T12:00:05.000Z',
};
const MARKER: CompletionMarker = {
  schemaVersion: 1,
  runId: 'thumbnails-3f9a0c12',
  taskId: '0123456789abcdef01234567',
  input: {
    bucket: 'in-bucket',
    key: 'photos/cat.jpg',
    etag: '9b2cf535f27731c974343645a3985328',
    versionId: 'v1',
  },
  algorithmDigest: DIGEST,
  outputs: [{ key: 'thumbs/cat.jpg/cat.png', size: 99, etag: 'abc' }],
  committedAt: '2025-01-31T12:00:06Z',
};

describe('task records', () => {
  test('a complete record validates', () => {
    expect(validateTaskRecord(structuredClone(RECORD), 'record.json')).toEqual(RECORD);
  });

  test.each([
    [
      'an unknown failure class',
      { attempts: [{ ...RECORD.attempts[0], failureClass: 'oops' }] },
      '$.attempts[0].failureClass',
    ],
    ['a status not known', { status: 'done' }, '$.status'],
    ['a local time', { updatedAt: '2025-01-31 12:00' }, '$.updatedAt'],
    ['a digest without algorithm', { algorithmDigest: 'a'.repeat(64) }, '$.algorithmDigest'],
  ] as const)('refuses %s', (_name, patch, path) => {
    const record = { ...RECORD, ...patch };
    expect(() => validateTaskRecord(record, 'record.json')).toThrow(ValidationError);
    try {
      validateTaskRecord(record, 'record.json');
    } catch (thrown: unknown) {
      expect(thrown instanceof ValidationError ? thrown.problems.map((p) => p.path) : []).toEqual([path]);
    }
  });
});

describe('completion markers', () => {
  test('a marker validates', () => {
    expect(validateCompletionMarker(structuredClone(MARKER), 'done.json')).toEqual(MARKER);
  });

  test('a marker needs its outputs', () => {
    const { outputs: _outputs, ...marker } = MARKER;
    expect(() => validateCompletionMarker(marker, 'done.json')).toThrow('$.outputs');
  });
});

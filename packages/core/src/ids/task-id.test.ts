import { describe, expect, test } from '@jest/globals';
import { SluiceError } from '../errors.js';
import { isTaskId, normalizeEtag, taskId } from './task-id.js';

const object = { bucket: 'in-bucket', key: 'photos/cat.jpg', etag: '9b2cf535f27731c974343645a3985328' };

describe('taskId', () => {
  test('is stable, and the same from a listing (quoted ETag) and an event (bare ETag)', () => {
    const id = taskId(object);
    expect(isTaskId(id)).toBe(true);
    expect(taskId({ ...object, etag: `"${object.etag.toUpperCase()}"` })).toBe(id);
    expect(taskId({ ...object, versionId: 'abc' })).toBe(id);
    expect(id).toMatchInlineSnapshot(`"6a8a1325f8a258a0678fc016"`);
  });

  test('changes with bucket, key and content', () => {
    const id = taskId(object);
    expect(taskId({ ...object, bucket: 'other-bucket' })).not.toBe(id);
    expect(taskId({ ...object, key: 'photos/dog.jpg' })).not.toBe(id);
    expect(taskId({ ...object, etag: 'ffff' })).not.toBe(id);
  });

  test('falls back to the version id, ignoring S3\'s "null" version', () => {
    expect(isTaskId(taskId({ bucket: 'b', key: 'k', versionId: 'v1' }))).toBe(true);
    expect(() => taskId({ bucket: 'b', key: 'k', versionId: 'null' })).toThrow(SluiceError);
    expect(() => taskId({ bucket: 'b', key: 'k' })).toThrow(SluiceError);
  });

  test('does not mix up fields that join into the same text', () => {
    expect(taskId({ bucket: 'ab', key: 'c', etag: 'x' })).not.toBe(
      taskId({ bucket: 'a', key: 'bc', etag: 'x' }),
    );
  });
});

describe('normalizeEtag', () => {
  test.each([
    ['"ABC-3"', 'abc-3'],
    ['W/"abc"', 'abc'],
    ['abc', 'abc'],
  ])('%p → %p', (given, etag) => {
    expect(normalizeEtag(given)).toBe(etag);
  });
});

// Parsing of task-queue messages. Fixtures named `moto-*` are bodies captured from the moto server
// (5.2.5) delivering S3 notifications to SQS; `aws-encoded-*` are written by hand in the shape and
// encoding AWS documents and sends (keys form-encoded with `/` kept, versionId, sequencer,
// userIdentity...). See fixtures/README.md.
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

import { describe, expect, it } from '@jest/globals';
import fc from 'fast-check';

import { formatTaskMessage } from '../schemas/task-message.js';
import {
  decodeS3EventKey,
  encodeS3EventKey,
  isObjectCreated,
  parseQueueMessage,
  type QueueMessage,
  type S3EventRecord,
} from './s3-event.js';

const fixture = (name: string): string =>
  readFileSync(fileURLToPath(new URL(`./fixtures/${name}.json`, import.meta.url)), 'utf8');

function records(message: QueueMessage): readonly S3EventRecord[] {
  if (message.kind !== 's3-event') throw new Error(`expected an s3-event, got ${JSON.stringify(message)}`);
  return message.records;
}

describe('parseQueueMessage on S3 events captured from moto', () => {
  it.each([
    ['moto-put-plain', 'plain.txt', 15],
    ['moto-put-space', 'with space.txt', 20],
    ['moto-put-plus', 'a+b.txt', 13],
    ['moto-put-nested-space-plus', 'nested/deeper/dir/file name+plus.csv', 42],
    ['moto-put-unicode', 'unicode/naïve café 日本.txt', 37],
    ['moto-put-empty', 'empty.bin', 0],
    ['moto-put-reserved-chars', 'weird/100%=&?#.txt', 24],
    ['moto-copy-nested', 'copied/plain.txt', 15],
    ['moto-put-versioned-bucket', 'versioned.txt', 2],
  ])('%s gives key %j', (name, key, size) => {
    const [record, ...others] = records(parseQueueMessage(fixture(name)));
    expect(others).toEqual([]);
    expect(record).toMatchObject({ key, size, awsRegion: 'us-east-1', configurationId: 'sluice' });
    expect(record?.bucket).toMatch(/^capture-/);
    expect(record !== undefined && isObjectCreated(record)).toBe(true);
  });

  it('moto-put-versioned-bucket: moto leaves versionId and sequencer out (AWS sends both)', () => {
    const [record] = records(parseQueueMessage(fixture('moto-put-versioned-bucket')));
    expect(record?.versionId).toBeUndefined();
    expect(record?.sequencer).toBeUndefined();
  });

  it('moto-removed-delete is an event, but not a created object', () => {
    const [record] = records(parseQueueMessage(fixture('moto-removed-delete')));
    expect(record).toMatchObject({ eventName: 'ObjectRemoved:Delete', key: 'plain.txt' });
    expect(record !== undefined && isObjectCreated(record)).toBe(false);
  });

  it('moto-test-event is recognised', () => {
    expect(parseQueueMessage(fixture('moto-test-event'))).toMatchObject({ kind: 's3-test-event' });
  });
});

describe('parseQueueMessage on S3 events as AWS encodes them', () => {
  it('decodes `+` as space and `%2B` as plus, keeping `/`', () => {
    const [record] = records(parseQueueMessage(fixture('aws-encoded-put-nested-space-plus')));
    expect(record).toMatchObject({
      key: 'nested/deeper/dir/file name+plus.csv',
      encodedKey: 'nested/deeper/dir/file+name%2Bplus.csv',
      size: 42,
      etag: 'c87c7be5c846f2a999a47d540752e9fc',
      sequencer: '0055AED6DCD90281E5',
      bucket: 'sluice-input-example',
    });
  });

  it('decodes percent-encoded UTF-8 and keeps the version id', () => {
    const [record] = records(parseQueueMessage(fixture('aws-encoded-put-unicode-versioned')));
    expect(record).toMatchObject({
      key: 'unicode/naïve café 日本.txt',
      versionId: '096fKKXTRTtl3on89fVO.nfljtsv6qko',
      awsRegion: 'eu-west-1',
    });
  });

  it('returns every record of a message that holds several', () => {
    const parsed = records(parseQueueMessage(fixture('aws-encoded-multiple-records')));
    expect(parsed.map((r) => [r.eventName, r.key, r.size, r.etag])).toEqual([
      [
        'ObjectCreated:CompleteMultipartUpload',
        'big/scan 2024 (final).tif',
        20971520,
        '9b2cf535f27731c974343645a3985328-3',
      ],
      ['ObjectCreated:Copy', 'a+b c.txt', 0, 'd41d8cd98f00b204e9800998ecf8427e'],
    ]);
    expect(parsed.every(isObjectCreated)).toBe(true);
  });

  it('accepts a delete event without size or ETag, as AWS sends it', () => {
    const [record] = records(parseQueueMessage(fixture('aws-encoded-removed-delete')));
    expect(record).toMatchObject({ eventName: 'ObjectRemoved:Delete', key: 'with space.txt' });
    expect(record?.size).toBeUndefined();
    expect(record !== undefined && isObjectCreated(record)).toBe(false);
  });

  it('recognises the s3:TestEvent S3 sends when notifications are configured', () => {
    expect(parseQueueMessage(fixture('aws-encoded-test-event'))).toEqual({
      kind: 's3-test-event',
      bucket: 'sluice-input-example',
      time: '2025-03-14T09:20:00.000Z',
    });
  });
});

describe('parseQueueMessage on sluice task messages', () => {
  const task = {
    sluice: 1 as const,
    runId: 'run-1',
    bucket: 'sluice-input',
    key: 'a b+c/ü.txt',
    etag: 'abc',
    size: 3,
  };

  it('reads back what formatTaskMessage wrote, key unencoded', () => {
    expect(parseQueueMessage(formatTaskMessage(task))).toEqual({ kind: 'task', task });
    const versioned = { ...task, versionId: 'v1' };
    expect(parseQueueMessage(formatTaskMessage(versioned))).toEqual({ kind: 'task', task: versioned });
  });

  it.each([
    [{ ...task, sluice: 2 }, '$.sluice'],
    [{ ...task, size: -1 }, '$.size'],
    [{ ...task, size: 1.5 }, '$.size'],
    [{ ...task, key: '' }, '$.key'],
    [{ ...task, extra: true }, 'unexpected property extra'],
    [{ sluice: 1, runId: 'r' }, 'missing required property'],
  ])('refuses %j, naming %s', (value, fragment) => {
    const parsed = parseQueueMessage(JSON.stringify(value));
    expect(parsed.kind).toBe('malformed');
    expect(parsed.kind === 'malformed' && parsed.reason).toContain(fragment);
  });
});

describe('parseQueueMessage on malformed bodies', () => {
  const event = JSON.parse(fixture('aws-encoded-put-nested-space-plus')) as {
    Records: Record<string, unknown>[];
  };
  const withObject = (object: unknown): string =>
    JSON.stringify({ Records: [{ ...event.Records[0], s3: { bucket: { name: 'b' }, object } }] });

  it.each([
    ['', 'not JSON'],
    ['{"Records":', 'not JSON'],
    ['[1,2]', 'expected a JSON object, found an array'],
    ['"text"', 'expected a JSON object'],
    ['null', 'expected a JSON object'],
    ['{}', 'neither an S3 event notification'],
    ['{"Records": []}', '$.Records: expected a non-empty array'],
    ['{"Records": {}}', '$.Records: expected a non-empty array'],
    ['{"Records": [1]}', '$.Records[0]: expected an object'],
    ['{"Records": [{"eventSource": "aws:sqs"}]}', '$.Records[0].eventSource'],
    [
      withObject({ key: 'bad%zzkey', size: 1, eTag: 'e' }),
      '$.Records[0].s3.object.key: not a URL-encoded key',
    ],
    [withObject({ key: 'k', size: '1', eTag: 'e' }), '$.Records[0].s3.object.size'],
    [withObject({ key: 'k', size: 1 }), '$.Records[0].s3.object.eTag'],
    [withObject({ size: 1, eTag: 'e' }), '$.Records[0].s3.object.key'],
    ['{"Event": "s3:TestEvent"}', 's3:TestEvent needs'],
    ['{"Type": "Notification", "Message": "{}"}', 'SNS envelope'],
  ])('%j is malformed: %s', (body, fragment) => {
    const parsed = parseQueueMessage(body);
    expect(parsed.kind).toBe('malformed');
    expect(parsed.kind === 'malformed' && parsed.reason).toContain(fragment);
  });

  it('never throws, whatever the body', () => {
    fc.assert(
      fc.property(
        fc.oneof(
          fc.string(),
          fc.json(),
          fc.jsonValue().map((v) => JSON.stringify({ Records: [v] })),
        ),
        (body) => {
          expect(['s3-event', 's3-test-event', 'task', 'malformed']).toContain(parseQueueMessage(body).kind);
        },
      ),
    );
  });
});

describe('parseQueueMessage on an S3 event with good and bad records', () => {
  const event = JSON.parse(fixture('aws-encoded-multiple-records')) as { Records: unknown[] };
  const [first, second] = event.Records as Record<string, unknown>[];
  const noETag = {
    ...second,
    s3: { bucket: { name: 'b' }, object: { key: 'no-etag.txt', size: 3 } },
  };

  it('keeps the good records and names each bad one by its index and JSON path', () => {
    const parsed = parseQueueMessage(JSON.stringify({ Records: [first, noETag, 7, second] }));
    expect(parsed.kind).toBe('s3-event');
    if (parsed.kind !== 's3-event') return;
    expect(parsed.records.map((r) => r.key)).toEqual(['big/scan 2024 (final).tif', 'a+b c.txt']);
    expect(parsed.invalid).toEqual([
      {
        index: 1,
        reason: expect.stringContaining('$.Records[1].s3.object.eTag: expected a non-empty string'),
      },
      { index: 2, reason: '$.Records[2]: expected an object, found a number' },
    ]);
  });

  it('has no invalid records when every record is good', () => {
    const parsed = parseQueueMessage(fixture('aws-encoded-multiple-records'));
    expect(parsed.kind === 's3-event' && parsed.invalid).toEqual([]);
  });

  it('is malformed only when no record is good, naming every bad one', () => {
    const parsed = parseQueueMessage(JSON.stringify({ Records: [noETag, 7] }));
    expect(parsed.kind).toBe('malformed');
    expect(parsed.kind === 'malformed' && parsed.reason).toMatch(
      /^\$\.Records\[0\]\.s3\.object\.eTag: .*; \$\.Records\[1\]: expected an object/,
    );
  });
});

describe('S3 event key encoding', () => {
  it('decodes as AWS encodes: `+` is a space, `%2B` a plus', () => {
    expect(decodeS3EventKey('my+file%2B1.txt')).toBe('my file+1.txt');
    expect(encodeS3EventKey('dir/my file+1.txt')).toBe('dir/my+file%2B1.txt');
  });

  it('round-trips any key', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'grapheme', minLength: 1 }), (key) => {
        expect(decodeS3EventKey(encodeS3EventKey(key))).toBe(key);
      }),
    );
  });
});

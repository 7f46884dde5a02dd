import { readFileSync } from 'node:fs';

import { describe, expect, it } from '@jest/globals';
import { inputFilter } from '../ids/input-selection.js';

import { decideMessage } from './message-decision.js';

const fixture = (name: string): string =>
  readFileSync(new URL(`../queue/fixtures/${name}`, import.meta.url), 'utf8');

const RUN = 'thumbs-0123abcd';

describe('decideMessage on real S3 notification bodies', () => {
  const all = (bucket: string) =>
    inputFilter({
      input: { bucket, prefix: '', include: ['**'] },
      output: { bucket: 'elsewhere', prefix: '' },
    });

  it('runs a task from a moto event, with its key decoded', () => {
    const body = fixture('moto-put-nested-space-plus.json');
    const bucket =
      (JSON.parse(body) as { Records: { s3: { bucket: { name: string } } }[] }).Records[0]?.s3.bucket.name ??
      '';
    expect(decideMessage(body, RUN, all(bucket))).toEqual({
      action: 'run',
      task: expect.objectContaining({
        sluice: 1,
        runId: RUN,
        key: 'nested/deeper/dir/file name+plus.csv',
        size: 42,
      }),
    });
  });

  it('drops the test event and deletes, and removed objects', () => {
    expect(decideMessage(fixture('moto-test-event.json'), RUN, all('x'))).toEqual({
      action: 'drop',
      dropped: [{ reason: 's3:TestEvent' }],
    });
    const removed = decideMessage(fixture('aws-encoded-removed-delete.json'), RUN, all('x'));
    expect(removed.action).toBe('drop');
  });

  it('fans several records out into one task each', () => {
    const body = fixture('aws-encoded-multiple-records.json');
    const buckets = (JSON.parse(body) as { Records: { s3: { bucket: { name: string } } }[] }).Records.map(
      (r) => r.s3.bucket.name,
    );
    const decision = decideMessage(body, RUN, all(buckets[0] ?? ''));
    expect(['fan-out', 'run']).toContain(decision.action);
  });

  it('rejects malformed bodies and task messages of another run', () => {
    expect(decideMessage('nope', RUN, all('b'))).toEqual({
      action: 'reject',
      reason: expect.stringContaining('not JSON'),
    });
    const other = JSON.stringify({
      sluice: 1,
      runId: 'other-0123abcd',
      bucket: 'bkt',
      key: 'k',
      etag: 'e',
      size: 1,
    });
    expect(decideMessage(other, RUN, all('bkt'))).toEqual({
      action: 'reject',
      reason: expect.stringContaining('other-0123abcd'),
    });
  });

  it('drops task messages that are not inputs', () => {
    const message = JSON.stringify({
      sluice: 1,
      runId: RUN,
      bucket: 'bkt',
      key: '_sluice/x',
      etag: 'e',
      size: 1,
    });
    expect(decideMessage(message, RUN, all('bkt'))).toEqual({
      action: 'drop',
      dropped: [{ key: '_sluice/x', reason: 'ledger' }],
    });
  });

  it('drops an event or a task message whose results would land in the ledger', () => {
    const nested = inputFilter({
      input: { bucket: 'bkt', prefix: 'photos/', include: ['**'] },
      output: { bucket: 'bkt', prefix: '' },
    });
    const key = `photos/_sluice/${RUN}/done/x.json`;
    const task = JSON.stringify({ sluice: 1, runId: RUN, bucket: 'bkt', key, etag: 'e', size: 1 });
    const event = JSON.stringify({
      Records: [
        {
          eventSource: 'aws:s3',
          eventName: 'ObjectCreated:Put',
          eventTime: '2024-01-01T00:00:00.000Z',
          awsRegion: 'eu-west-1',
          s3: { bucket: { name: 'bkt' }, object: { key: encodeURIComponent(key), size: 1, eTag: 'e' } },
        },
      ],
    });

    expect(decideMessage(task, RUN, nested)).toEqual({
      action: 'drop',
      dropped: [{ key, reason: 'result-in-ledger' }],
    });
    expect(decideMessage(event, RUN, nested)).toEqual({
      action: 'drop',
      dropped: [{ key, reason: 'result-in-ledger' }],
    });
  });
});

describe('decideMessage on an S3 event with a bad record', () => {
  const filter = inputFilter({
    input: { bucket: 'bkt', prefix: '', include: ['**'] },
    output: { bucket: 'elsewhere', prefix: '' },
  });
  const record = (key: string, object: Record<string, unknown> = { size: 1, eTag: 'e' }) => ({
    eventSource: 'aws:s3',
    eventName: 'ObjectCreated:Put',
    eventTime: '2024-01-01T00:00:00.000Z',
    awsRegion: 'eu-west-1',
    s3: { bucket: { name: 'bkt' }, object: { key, ...object } },
  });
  const bad = record('bad.txt', { size: 'big', eTag: 'e' });

  it('still makes a task of every good record, and sets the bad one aside with its path and a hint', () => {
    const body = JSON.stringify({ Records: [record('a.txt'), bad, record('b.txt')] });
    const decision = decideMessage(body, RUN, filter);
    expect(decision).toEqual({
      action: 'fan-out',
      tasks: [
        expect.objectContaining({ runId: RUN, key: 'a.txt' }),
        expect.objectContaining({ runId: RUN, key: 'b.txt' }),
      ],
      dropped: [],
      rejected: {
        records: [{ index: 1, reason: expect.stringContaining('$.Records[1].s3.object.size') }],
        reason: expect.stringContaining('1 of the 3 records of this S3 event cannot be read'),
      },
    });
    expect(decision.action === 'fan-out' && decision.rejected?.reason).toContain('sluice dispatch');
  });

  it('sends even a single good record as a task message of its own, so the bad one is reported', () => {
    const decision = decideMessage(JSON.stringify({ Records: [bad, record('a.txt')] }), RUN, filter);
    expect(decision).toMatchObject({
      action: 'fan-out',
      tasks: [{ key: 'a.txt' }],
      rejected: { records: [{ index: 0 }] },
    });
  });

  it('rejects the event when the records that can be read make no task', () => {
    const removed = { ...record('gone.txt', {}), eventName: 'ObjectRemoved:Delete' };
    const decision = decideMessage(JSON.stringify({ Records: [removed, bad] }), RUN, filter);
    expect(decision).toEqual({
      action: 'reject',
      reason: expect.stringContaining(
        '1 of the 2 records of this S3 event cannot be read and was set aside (no other record made a task): $.Records[1].s3.object.size',
      ),
    });
  });
});

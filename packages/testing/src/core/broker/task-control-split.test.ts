// The task control splitting an S3 event with fakes of our own interfaces: one bad record among good
// ones no longer sends the whole event away (issue 16). The good records become tasks at once; the
// bad one is logged and set aside under `rejected/` with its JSON path, what is wrong and what to do.
import { describe, expect, it } from '@jest/globals';
import { JsonLog, type PutResult } from '@sluice/core';
import { TaskControl, type ControlSettings } from '@sluice/core/broker';

import { FakeObjectStore } from '../../fake-object-store.js';
import { FakeTaskQueue } from '../../fake-task-queue.js';

const RUN = 'unit-0123abcd';

function settings(): ControlSettings {
  return {
    config: {
      runId: RUN,
      queueUrl: 'http://fake/tasks',
      deadLetterQueueUrl: 'http://fake/dlq',
      input: { bucket: 'input', prefix: '', include: ['**'] },
      output: { bucket: 'output', prefix: 'out/' },
      maxAttempts: 2,
      idleSeconds: 0,
      env: {},
      secretEnv: [],
    },
    manifest: {
      retry: { permanentExitCodes: [], retryOnTimeout: true, retryOnOutOfMemory: false },
      allowEmptyOutput: false,
    },
    timeoutSeconds: 60,
    heartbeatSeconds: 10,
    retryDelaySeconds: 0,
    algorithmDigest: `sha256:${'0'.repeat(64)}`,
  };
}

/** An S3 record of a created object, as S3 writes it. */
function created(key: string, put: PutResult): Record<string, unknown> {
  return {
    eventVersion: '2.1',
    eventSource: 'aws:s3',
    awsRegion: 'eu-west-1',
    eventTime: '2026-01-01T00:00:00.000Z',
    eventName: 'ObjectCreated:Put',
    s3: { bucket: { name: 'input' }, object: { key, size: 5, eTag: put.etag } },
  };
}

describe('TaskControl splitting an S3 event with a bad record', () => {
  it('runs the good records and sets the bad one aside, logged with its path and a hint', async () => {
    const store = new FakeObjectStore();
    await store.ensureBucket('input');
    await store.ensureBucket('output');
    const queue = new FakeTaskQueue({ visibilityTimeoutSeconds: 30 });
    const lines: string[] = [];
    const log = new JsonLog({}, [], (line) => {
      lines.push(line);
    });
    const control = new TaskControl({
      settings: settings(),
      store,
      queue,
      deadLetter: new FakeTaskQueue(),
      log,
    });
    const a = await store.put({ bucket: 'input', key: 'a.txt' }, 'hello');
    const b = await store.put({ bucket: 'input', key: 'b.txt' }, 'world');
    const broken = { ...created('c.txt', a), s3: { bucket: { name: 'input' }, object: { key: 'c.txt' } } };
    await queue.sendBatch([
      { body: JSON.stringify({ Records: [created('a.txt', a), broken, created('b.txt', b)] }) },
    ]);

    const first = await control.lease('w-1', { waitSeconds: 0 });
    const second = await control.lease('w-2', { waitSeconds: 0 });
    await control.flush();

    expect([first?.task.key, second?.task.key]).toEqual(['a.txt', 'b.txt']);
    const rejected = [];
    for await (const page of store.list('output', `_sluice/${RUN}/rejected/`)) rejected.push(...page);
    expect(rejected).toHaveLength(1);
    const record = await store.getJson({ bucket: 'output', key: rejected[0]?.key ?? '' });
    expect(record?.value).toMatchObject({
      reason: expect.stringMatching(
        /^1 of the 3 records of this S3 event cannot be read and was set aside \(the others made 2 task\(s\)\): \$\.Records\[1\]\.s3\.object\.size: expected an integer >= 0, found nothing\. .*sluice dispatch/,
      ),
    });
    const warning = lines
      .map((line) => JSON.parse(line) as Record<string, unknown>)
      .find((entry) => entry.event === 'records-rejected');
    expect(warning).toMatchObject({
      level: 'warning',
      records: [{ index: 1, reason: expect.stringContaining('$.Records[1].s3.object.size') }],
    });
    expect(control.stats).toMatchObject({ split: 1, rejected: 1 });
  });
});

// The TaskQueue contract against the in-memory fake (a manual clock makes visibility timeouts
// instant); the same suite runs against SQS on moto in test/integration/queue-sqs.test.ts. Also:
// the fake store's notifications reach the fake queue in the shape AWS sends. (It lives here, not
// in core, because a core test importing @sluice/testing would make an nx cycle.)
import { describe, expect, it } from '@jest/globals';
import { isObjectCreated, parseQueueMessage } from '@sluice/core';

import { describeTaskQueueContract } from './contract-task-queue.js';
import { ManualClock } from './fake-clock.js';
import { FakeObjectStore } from './fake-object-store.js';
import { FakeTaskQueue } from './fake-task-queue.js';

describeTaskQueueContract('FakeTaskQueue', () => {
  const clock = new ManualClock();
  const deadLetter = new FakeTaskQueue({ clock });
  const queue = new FakeTaskQueue({
    clock,
    visibilityTimeoutSeconds: 2,
    deadLetter: { queue: deadLetter, maxReceiveCount: 3 },
  });
  return Promise.resolve({
    queue,
    deadLetter,
    maxReceiveCount: 3,
    visibilityTimeoutSeconds: 2,
    now: () => clock.now(),
    advance: (seconds: number) => {
      clock.advance(seconds * 1000);
      return Promise.resolve();
    },
    cleanup: () => Promise.resolve(),
  });
});

describe('FakeObjectStore notifications into FakeTaskQueue', () => {
  it('sends a test event, then an AWS-encoded event per created object that matches the filters', async () => {
    const clock = new ManualClock();
    const queue = new FakeTaskQueue({ clock });
    const store = new FakeObjectStore({ clock });
    const arn = 'arn:aws:sqs:us-east-1:000000000000:tasks';
    store.connectQueue(arn, queue);
    await store.ensureBucket('input');
    await store.putQueueNotifications('input', {
      queues: [{ queueArn: arn, events: ['s3:ObjectCreated:*'], prefix: 'in/' }],
    });
    await store.put({ bucket: 'input', key: 'in/a b+c.txt' }, 'hello');
    await store.put({ bucket: 'input', key: 'elsewhere/ignored.txt' }, 'x');
    await store.deleteMany('input', ['in/a b+c.txt']);

    const bodies = queue.bodies();
    expect(bodies).toHaveLength(2);
    expect(parseQueueMessage(bodies[0] ?? '')).toMatchObject({ kind: 's3-test-event', bucket: 'input' });
    expect(bodies[1]).toContain('"key":"in/a+b%2Bc.txt"');
    const event = parseQueueMessage(bodies[1] ?? '');
    if (event.kind !== 's3-event') throw new Error(`expected an s3-event, got ${event.kind}`);
    expect(event.records.filter(isObjectCreated).map((r) => [r.key, r.size])).toEqual([['in/a b+c.txt', 5]]);
  });
});

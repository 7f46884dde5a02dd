// The one behaviour every TaskQueue must have, written once and run against the in-memory fake
// (unit tests) and the SQS adapter on moto (integration tests), so the fake cannot drift from SQS.
import { afterEach, beforeEach, describe, expect, it } from '@jest/globals';
import {
  MessageNotHeldError,
  PurgeInProgressError,
  type ReceivedMessage,
  type TaskQueue,
} from '@sluice/core';

/** A fresh queue with a dead-letter queue, for one test. */
/** Per test: generous, since against a real server these move real bytes and wait real time. */
const TIMEOUT_MS = 120_000;

export interface TaskQueueHarness {
  readonly queue: TaskQueue;
  readonly deadLetter: TaskQueue;
  /** The queue's redrive `maxReceiveCount`. */
  readonly maxReceiveCount: number;
  /** The queue's visibility timeout, in seconds (short: a few seconds). */
  readonly visibilityTimeoutSeconds: number;
  /** The queue's idea of now, in ms (a fake clock's, or `Date.now()`). */
  now(): number;
  /** Lets `seconds` pass: a fake clock moves, a real queue is waited on. */
  advance(seconds: number): Promise<void>;
  cleanup(): Promise<void>;
}

/** Receives until `count` messages came or a receive came back empty. */
async function receiveAll(queue: TaskQueue, count: number): Promise<ReceivedMessage[]> {
  const all: ReceivedMessage[] = [];
  while (all.length < count) {
    const batch = await queue.receive({ maxMessages: 10, waitSeconds: 1 });
    if (batch.length === 0) break;
    all.push(...batch);
  }
  return all;
}

/**
 * Registers the TaskQueue contract tests under `describe(name)`; `makeHarness` runs before each.
 *
 * @example
 * describeTaskQueueContract('FakeTaskQueue', async () => {
 *   const clock = new ManualClock();
 *   const deadLetter = new FakeTaskQueue({ clock });
 *   const queue = new FakeTaskQueue({ clock, visibilityTimeoutSeconds: 2, deadLetter: { queue: deadLetter, maxReceiveCount: 3 } });
 *   return { queue, deadLetter, maxReceiveCount: 3, visibilityTimeoutSeconds: 2, now: () => clock.now(), advance: async (s) => clock.advance(s * 1000), cleanup: async () => {} };
 * });
 */
export function describeTaskQueueContract(name: string, makeHarness: () => Promise<TaskQueueHarness>): void {
  describe(`TaskQueue contract: ${name}`, () => {
    let h: TaskQueueHarness;
    beforeEach(async () => {
      h = await makeHarness();
    }, TIMEOUT_MS);
    afterEach(async () => {
      await h.cleanup();
    }, TIMEOUT_MS);

    it(
      'delivers what was sent, with receive count, sent time and message id, until deleted',
      async () => {
        const before = h.now() - 60_000;
        const sent = await h.queue.sendBatch([{ body: 'one' }, { body: 'two ✓' }, { body: '{"sluice":1}' }]);
        expect(sent).toEqual({ sent: 3, failed: [] });

        const received = await receiveAll(h.queue, 3);
        expect(received.map((m) => m.body).sort()).toEqual(['one', 'two ✓', '{"sluice":1}'].sort());
        for (const message of received) {
          expect(message.receiveCount).toBe(1);
          expect(message.messageId).not.toBe('');
          expect(message.sentAt.getTime()).toBeGreaterThan(before);
          expect(message.sentAt.getTime()).toBeLessThan(before + 120_000);
          await h.queue.delete(message.receiptHandle);
        }
        await h.advance(h.visibilityTimeoutSeconds + 1);
        expect(await h.queue.receive({ waitSeconds: 0 })).toEqual([]);
      },
      TIMEOUT_MS,
    );

    it(
      'sends many entries in batches of ten and receives at most ten at a time',
      async () => {
        const bodies = Array.from({ length: 25 }, (_, i) => `task-${i}`);
        expect(await h.queue.sendBatch(bodies.map((body) => ({ body })))).toEqual({ sent: 25, failed: [] });
        const first = await h.queue.receive({ maxMessages: 10, waitSeconds: 1 });
        expect(first.length).toBeGreaterThan(0);
        expect(first.length).toBeLessThanOrEqual(10);
        const rest = await receiveAll(h.queue, 25 - first.length);
        expect([...first, ...rest].map((m) => m.body).sort()).toEqual([...bodies].sort());
      },
      TIMEOUT_MS,
    );

    it(
      'reports an entry too large to send, by position, and sends the others',
      async () => {
        const result = await h.queue.sendBatch([
          { body: 'ok-0' },
          { body: 'x'.repeat(1024 * 1024 + 1) },
          { body: 'ok-2' },
        ]);
        expect(result.sent).toBe(2);
        expect(result.failed).toHaveLength(1);
        expect(result.failed[0]).toMatchObject({ index: 1, senderFault: true });
        expect((await receiveAll(h.queue, 2)).map((m) => m.body).sort()).toEqual(['ok-0', 'ok-2']);
      },
      TIMEOUT_MS,
    );

    it(
      'hides a received message for the visibility timeout, then delivers it again with a higher count',
      async () => {
        await h.queue.sendBatch([{ body: 'again' }]);
        const [first] = await h.queue.receive({ waitSeconds: 1 });
        expect(first?.receiveCount).toBe(1);
        expect(await h.queue.receive({ waitSeconds: 0 })).toEqual([]);

        await h.advance(h.visibilityTimeoutSeconds + 1);
        const [second] = await h.queue.receive({ waitSeconds: 1 });
        expect(second?.body).toBe('again');
        expect(second?.receiveCount).toBe(2);
        expect(second?.messageId).toBe(first?.messageId);
      },
      TIMEOUT_MS,
    );

    it(
      'keeps a message hidden while its holder extends the visibility (heartbeat)',
      async () => {
        await h.queue.sendBatch([{ body: 'long task' }]);
        const [held] = await h.queue.receive({ waitSeconds: 1 });
        if (held === undefined) throw new Error('no message received');
        await h.queue.changeVisibility(held.receiptHandle, h.visibilityTimeoutSeconds + 30);
        await h.advance(h.visibilityTimeoutSeconds + 1);
        expect(await h.queue.receive({ waitSeconds: 0 })).toEqual([]);
        expect(await h.queue.counts()).toMatchObject({ visible: 0, inFlight: 1 });
      },
      TIMEOUT_MS,
    );

    it(
      'releases a message at once with a visibility of zero',
      async () => {
        await h.queue.sendBatch([{ body: 'released' }]);
        const [held] = await h.queue.receive({ waitSeconds: 1 });
        if (held === undefined) throw new Error('no message received');
        await h.queue.changeVisibility(held.receiptHandle, 0);
        const [again] = await h.queue.receive({ waitSeconds: 1 });
        expect(again?.body).toBe('released');
        expect(again?.receiveCount).toBe(2);
      },
      TIMEOUT_MS,
    );

    it(
      'moves a message to the dead-letter queue after maxReceiveCount receives',
      async () => {
        await h.queue.sendBatch([{ body: 'poison' }]);
        for (let attempt = 1; attempt <= h.maxReceiveCount; attempt++) {
          const [message] = await h.queue.receive({ waitSeconds: 1 });
          expect(message?.receiveCount).toBe(attempt);
          if (message === undefined) throw new Error(`receive ${attempt} got nothing`);
          await h.queue.changeVisibility(message.receiptHandle, 0);
        }
        expect(await h.queue.receive({ waitSeconds: 1 })).toEqual([]);
        const [dead] = await h.deadLetter.receive({ waitSeconds: 1 });
        expect(dead?.body).toBe('poison');
      },
      TIMEOUT_MS,
    );

    it(
      'counts visible, in-flight and delayed messages',
      async () => {
        await h.queue.sendBatch([{ body: 'now-1' }, { body: 'now-2' }, { body: 'later', delaySeconds: 300 }]);
        expect(await h.queue.counts()).toEqual({ visible: 2, inFlight: 0, delayed: 1 });
        await h.queue.receive({ waitSeconds: 1 });
        expect(await h.queue.counts()).toEqual({ visible: 1, inFlight: 1, delayed: 1 });
      },
      TIMEOUT_MS,
    );

    it(
      'says a message is no longer held once deleted, and refuses a made-up receipt handle',
      async () => {
        await h.queue.sendBatch([{ body: 'x' }]);
        const [held] = await h.queue.receive({ waitSeconds: 1 });
        if (held === undefined) throw new Error('no message received');
        await h.queue.delete(held.receiptHandle);
        // Deleting twice is fine, as in SQS; extending a deleted message is not.
        await h.queue.delete(held.receiptHandle);
        await expect(h.queue.changeVisibility(held.receiptHandle, 30)).rejects.toBeInstanceOf(
          MessageNotHeldError,
        );
        await expect(h.queue.delete('not-a-receipt-handle')).rejects.toBeInstanceOf(MessageNotHeldError);
      },
      TIMEOUT_MS,
    );

    it(
      'deletes several messages in one batch and reports a handle it does not know as not held',
      async () => {
        await h.queue.sendBatch([{ body: 'a' }, { body: 'b' }, { body: 'c' }]);
        const received = await receiveAll(h.queue, 3);
        const result = await h.queue.deleteBatch([
          ...received.map((m) => m.receiptHandle),
          'not-a-receipt-handle',
        ]);
        expect(result.notHeld.map((n) => n.receiptHandle)).toEqual(['not-a-receipt-handle']);
        expect(await h.queue.receive({ waitSeconds: 1, visibilityTimeoutSeconds: 0 })).toEqual([]);
        expect(await h.queue.counts()).toEqual({ visible: 0, inFlight: 0, delayed: 0 });
      },
      TIMEOUT_MS,
    );

    it(
      'returns nothing at once from a receive whose signal is aborted',
      async () => {
        await h.queue.sendBatch([{ body: 'stays' }]);
        const controller = new AbortController();
        controller.abort();
        expect(await h.queue.receive({ waitSeconds: 20, signal: controller.signal })).toEqual([]);
        expect((await h.queue.counts()).visible).toBe(1);
      },
      TIMEOUT_MS,
    );

    it(
      'purges every message',
      async () => {
        await h.queue.sendBatch([{ body: 'a' }, { body: 'b' }]);
        await h.queue.purge();
        expect(await h.queue.counts()).toEqual({ visible: 0, inFlight: 0, delayed: 0 });
        expect(await h.queue.receive({ waitSeconds: 0 })).toEqual([]);
      },
      TIMEOUT_MS,
    );

    it(
      'refuses a second purge within a minute with PurgeInProgressError',
      async () => {
        await h.queue.purge();
        await h.queue.sendBatch([{ body: 'queued after the purge' }]);
        await expect(h.queue.purge()).rejects.toBeInstanceOf(PurgeInProgressError);
        expect((await h.queue.counts()).visible).toBe(1);
      },
      TIMEOUT_MS,
    );
  });
}

// SqsTaskQueue.sendBatch's own logic (batching, retrying only failed entries, reporting the rest)
// against a scripted client: moto never fails single entries, so this is where retries are shown.
// Everything else about the adapter runs against moto in test/integration/queue-sqs.test.ts.
import { describe, expect, it } from '@jest/globals';
import type { SQSClient, SendMessageBatchCommand, SendMessageBatchCommandOutput } from '@aws-sdk/client-sqs';

import { ConfigurationError } from '../errors.js';
import { SqsQueues, SqsTaskQueue } from './sqs-task-queue.js';

type Reply = (ids: string[]) => Partial<SendMessageBatchCommandOutput> | Error;

/** A client whose SendMessageBatch answers come from `replies`, one per call; records the ids sent. */
function scriptedClient(replies: Reply[]): { client: SQSClient; calls: string[][] } {
  const calls: string[][] = [];
  const client = {
    send: (command: SendMessageBatchCommand) => {
      const ids = (command.input.Entries ?? []).map((e) => e.Id ?? '');
      calls.push(ids);
      const reply =
        replies.shift() ??
        ((all: string[]) => ({ Successful: all.map((Id) => ({ Id, MessageId: Id, MD5OfMessageBody: '' })) }));
      const result = reply(ids);
      return result instanceof Error ? Promise.reject(result) : Promise.resolve(result);
    },
  } as unknown as SQSClient;
  return { client, calls };
}

const ok = (ids: string[]): Partial<SendMessageBatchCommandOutput> => ({
  Successful: ids.map((Id) => ({ Id, MessageId: Id, MD5OfMessageBody: '' })),
});
const noSleep = (): Promise<void> => Promise.resolve();

describe('SqsTaskQueue.sendBatch', () => {
  it('sends in batches of ten', async () => {
    const { client, calls } = scriptedClient([]);
    const queue = new SqsTaskQueue(client, 'https://queue', { sleep: noSleep });
    const result = await queue.sendBatch(Array.from({ length: 23 }, (_, i) => ({ body: `m${i}` })));
    expect(result).toEqual({ sent: 23, failed: [] });
    expect(calls.map((c) => c.length)).toEqual([10, 10, 3]);
  });

  it('retries only the entries that failed for a transient reason, and reports sender faults at once', async () => {
    const { client, calls } = scriptedClient([
      (ids) => ({
        Successful: ok(ids.filter((id) => id !== '1' && id !== '2')).Successful ?? [],
        Failed: [
          { Id: '1', Code: 'InternalError', SenderFault: false, Message: 'try again' },
          { Id: '2', Code: 'InvalidMessageContents', SenderFault: true, Message: 'bad characters' },
        ],
      }),
      ok,
    ]);
    const queue = new SqsTaskQueue(client, 'https://queue', { sleep: noSleep });
    const result = await queue.sendBatch([{ body: 'a' }, { body: 'b' }, { body: 'c' }]);
    expect(calls).toEqual([['0', '1', '2'], ['1']]);
    expect(result.sent).toBe(2);
    expect(result.failed).toEqual([
      { index: 2, code: 'InvalidMessageContents', message: 'bad characters', senderFault: true },
    ]);
  });

  it('gives up after the attempts and reports what still fails', async () => {
    const failing: Reply = (ids) => ({
      Failed: ids.map((Id) => ({ Id, Code: 'ServiceUnavailable', SenderFault: false })),
    });
    const { client, calls } = scriptedClient([failing, failing, failing]);
    const queue = new SqsTaskQueue(client, 'https://queue', { sleep: noSleep, sendAttempts: 3 });
    const result = await queue.sendBatch([{ body: 'a' }]);
    expect(calls).toHaveLength(3);
    expect(result).toEqual({
      sent: 0,
      failed: [{ index: 0, code: 'ServiceUnavailable', message: '', senderFault: false }],
    });
  });

  it('retries a throttled call, and throws at once what the user must fix', async () => {
    const throttled = Object.assign(new Error('slow down'), {
      name: 'ThrottlingException',
      $metadata: { httpStatusCode: 400 },
    });
    const { client, calls } = scriptedClient([() => throttled, ok]);
    const queue = new SqsTaskQueue(client, 'https://queue', { sleep: noSleep });
    expect(await queue.sendBatch([{ body: 'a' }])).toEqual({ sent: 1, failed: [] });
    expect(calls).toHaveLength(2);

    const denied = Object.assign(new Error('no'), {
      name: 'AccessDeniedException',
      $metadata: { httpStatusCode: 403 },
    });
    const second = scriptedClient([() => denied]);
    await expect(
      new SqsTaskQueue(second.client, 'https://queue', { sleep: noSleep }).sendBatch([{ body: 'a' }]),
    ).rejects.toBeInstanceOf(ConfigurationError);
  });

  it('reports a body over the SQS limit without sending it', async () => {
    const { client, calls } = scriptedClient([]);
    const queue = new SqsTaskQueue(client, 'https://queue', { sleep: noSleep });
    const result = await queue.sendBatch([{ body: 'a' }, { body: 'x'.repeat(1024 * 1024 + 1) }]);
    expect(calls).toEqual([['0']]);
    expect(result).toMatchObject({
      sent: 1,
      failed: [{ index: 1, code: 'MessageTooLong', senderFault: true }],
    });
  });
});

describe('SqsQueues.ensureQueue after a deletion', () => {
  /** A client that has no queue, refuses the name `refusals` times as recently deleted, then creates it. */
  function recentlyDeleted(refusals: number): { client: SQSClient; calls: string[] } {
    const calls: string[] = [];
    const client = {
      send: (command: { constructor: { name: string } }) => {
        const name = command.constructor.name;
        calls.push(name);
        if (name === 'GetQueueUrlCommand') {
          return Promise.reject(Object.assign(new Error('no queue'), { name: 'QueueDoesNotExist' }));
        }
        if (name === 'CreateQueueCommand' && refusals-- > 0) {
          return Promise.reject(
            Object.assign(new Error('You must wait 60 seconds after deleting a queue'), {
              name: 'QueueDeletedRecently',
              $metadata: { httpStatusCode: 400 },
            }),
          );
        }
        if (name === 'CreateQueueCommand') return Promise.resolve({ QueueUrl: 'https://sqs/1/q' });
        return Promise.resolve({ Attributes: { QueueArn: 'arn:aws:sqs:r:1:q' } });
      },
    } as unknown as SQSClient;
    return { client, calls };
  }

  it('waits out the 60 s SQS keeps a deleted queue name, then creates the queue', async () => {
    const { client, calls } = recentlyDeleted(3);
    const sleeps: number[] = [];
    const queues = new SqsQueues(client, { sleep: (ms) => (sleeps.push(ms), Promise.resolve()) });

    await expect(queues.ensureQueue('sluice-r-tasks')).resolves.toMatchObject({ url: 'https://sqs/1/q' });
    expect(calls.filter((c) => c === 'CreateQueueCommand')).toHaveLength(4);
    expect(sleeps).toEqual([10_000, 10_000, 10_000]);
  });

  it('gives up after 80 s with the error SQS gave', async () => {
    const { client } = recentlyDeleted(100);
    const queues = new SqsQueues(client, { sleep: () => Promise.resolve() });

    await expect(queues.ensureQueue('sluice-r-tasks')).rejects.toThrow(/QueueDeletedRecently|60 seconds/);
  });
});

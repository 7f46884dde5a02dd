// Each failure class end to end on moto: what the record says, whether the task is retried, and the
// final record and dead-letter move after the last attempt; a poison message is set aside.
import { rm } from 'node:fs/promises';

import { afterAll, beforeAll, describe, expect, it, jest } from '@jest/globals';
import { checkTaskMessage, taskId, type FailureClass } from '@sluice/core';
import { TestAwsAccount } from '@sluice/testing';

import {
  createRun,
  listKeys,
  readRecord,
  runUntilIdle,
  runnerConfig,
  runnerEnv,
  writeManifest,
  type TestRun,
} from './runner-support.js';

jest.setTimeout(120_000);

describe('runner on moto: failures', () => {
  let aws: TestAwsAccount;
  let run: TestRun;

  beforeAll(async () => {
    aws = new TestAwsAccount({ label: 'runner-fail' });
    run = await createRun(aws, { visibilitySeconds: 3 });
  });
  afterAll(async () => {
    await rm(run.dir, { recursive: true, force: true });
    await aws.cleanup();
  });

  /** Puts one input, enqueues it as dispatch would, runs a runner until idle; returns the record. */
  async function runCase(
    name: string,
    mode: string,
    manifestFields: Record<string, unknown> = {},
    maxAttempts = 2,
  ) {
    const key = `${name}/input.txt`;
    const put = await run.store.put({ bucket: run.inputBucket, key }, `input for ${name}`);
    await run.queue.sendBatch([
      {
        body: JSON.stringify({
          sluice: 1,
          runId: run.runId,
          bucket: run.inputBucket,
          key,
          etag: put.etag,
          size: 20,
        }),
      },
    ]);
    const manifest = await writeManifest(
      run,
      { env: { MODE: {} }, timeoutSeconds: 2, ...manifestFields },
      `${name}.json`,
    );
    const config = runnerConfig(run, {
      input: { bucket: run.inputBucket, prefix: `${name}/`, include: ['**'] },
      env: { MODE: mode },
      maxAttempts,
      timeoutSeconds: 2,
      idleSeconds: 2,
    });
    const lines = await runUntilIdle(run, await runnerEnv(aws, run, config, manifest));
    return {
      lines,
      record: await readRecord(run, taskId({ bucket: run.inputBucket, key, etag: put.etag })),
      key,
    };
  }

  async function deadLetters(): Promise<string[]> {
    const bodies: string[] = [];
    for (;;) {
      const got = await run.deadLetter.receive({ waitSeconds: 0, maxMessages: 10 });
      if (got.length === 0) return bodies;
      for (const message of got) {
        bodies.push(message.body);
        await run.deadLetter.delete(message.receiptHandle);
      }
    }
  }

  it.each<[string, string, FailureClass, number, Record<string, unknown>]>([
    ['exit', 'exit-3', 'algorithm-exit', 2, {}],
    ['permanent', 'exit-42', 'algorithm-exit', 1, { retry: { permanentExitCodes: [42] } }],
    ['timeout', 'sleep', 'timeout', 1, { retry: { retryOnTimeout: false } }],
    ['empty', 'empty', 'no-output', 1, {}],
    ['oom', 'oom', 'out-of-memory', 1, {}],
    ['escape', 'escape', 'upload-failed', 1, {}],
  ])(
    '%s: records %s as %s after %i attempt(s), then moves the task to the dead-letter queue',
    async (name, mode, failureClass, attempts, fields) => {
      const { record, key, lines } = await runCase(name, mode, fields);
      expect(record.status).toBe('failed');
      expect(record.attempts).toHaveLength(attempts);
      for (const attempt of record.attempts) {
        expect(attempt.failureClass).toBe(failureClass);
        expect(attempt.log ?? attempt.logKey).toBeDefined();
      }
      expect(record.attempts.map((a) => a.attempt)).toEqual(
        Array.from({ length: attempts }, (_, i) => i + 1),
      );
      expect(lines.filter((l) => l.event === 'task-failed' && l.final === true)).toHaveLength(1);
      const dead = (await deadLetters()).map((body) => checkTaskMessage(JSON.parse(body)));
      expect(dead).toEqual([{ ok: true, message: expect.objectContaining({ key, attemptsUsed: attempts }) }]);
      expect(await listKeys(run.store, run.outputBucket, `results/input.txt/`)).toEqual([]);
    },
  );

  it('records an input that is gone as input-unreadable, without retrying', async () => {
    const key = 'gone/input.txt';
    await run.queue.sendBatch([
      {
        body: JSON.stringify({
          sluice: 1,
          runId: run.runId,
          bucket: run.inputBucket,
          key,
          etag: 'd41d8cd98f00b204e9800998ecf8427e',
          size: 1,
        }),
      },
    ]);
    const manifest = await writeManifest(run, {}, 'gone.json');
    const config = runnerConfig(run, {
      input: { bucket: run.inputBucket, prefix: 'gone/', include: ['**'] },
      idleSeconds: 2,
    });
    await runUntilIdle(run, await runnerEnv(aws, run, config, manifest));
    const record = await readRecord(
      run,
      taskId({ bucket: run.inputBucket, key, etag: 'd41d8cd98f00b204e9800998ecf8427e' }),
    );
    expect(record.status).toBe('failed');
    expect(record.attempts.map((a) => a.failureClass)).toEqual(['input-unreadable']);
    expect(await deadLetters()).toHaveLength(1);
  });

  it('sets a poison message aside with its reason and keeps going', async () => {
    await run.queue.sendBatch([
      { body: 'this is not json' },
      { body: JSON.stringify({ sluice: 1, runId: run.runId }) },
    ]);
    const manifest = await writeManifest(run, {}, 'poison.json');
    const lines = await runUntilIdle(
      run,
      await runnerEnv(aws, run, runnerConfig(run, { idleSeconds: 2 }), manifest),
    );
    const rejected = lines.filter((l) => l.event === 'message-rejected');
    expect(rejected).toHaveLength(2);
    const keys = await listKeys(run.store, run.outputBucket, `_sluice/${run.runId}/rejected/`);
    expect(keys).toHaveLength(2);
    const first = await run.store.getJson({ bucket: run.outputBucket, key: keys[0] ?? '' });
    expect(first?.value).toEqual(
      expect.objectContaining({ reason: expect.any(String), body: expect.any(String) }),
    );
    expect((await run.queue.counts()).visible).toBe(0);
  });
});

// The runner's decisions against the in-memory fakes: which events become tasks, poison messages,
// the last attempt's move to the dead-letter queue, permanent exit codes, and a release on stop
// that uses no attempt. The algorithm is a real /bin/sh command, so this is not a unit test.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { afterEach, beforeEach, describe, expect, it } from '@jest/globals';
import {
  JsonLog,
  checkTaskMessage,
  formatTaskMessage,
  parseManifest,
  taskId,
  validateTaskRecord,
  type RunnerConfig,
} from '@sluice/core';
import { FakeObjectStore, FakeTaskQueue, readTaskState } from '@sluice/testing';

import { assembleRunner, directSource } from '../../../packages/runner/src/assemble.js';
import type { RunnerSettings } from '../../../packages/runner/src/config/settings.js';

const RUN = 'unit-0123abcd';
const ARN = 'arn:aws:sqs:us-east-1:000000000000:tasks';

describe('runner with fakes', () => {
  let root: string;
  let store: FakeObjectStore;
  let queue: FakeTaskQueue;
  let deadLetter: FakeTaskQueue;
  let lines: Record<string, unknown>[];

  beforeEach(async () => {
    root = await mkdtemp(join(tmpdir(), 'sluice-runner-unit-'));
    store = new FakeObjectStore();
    deadLetter = new FakeTaskQueue();
    queue = new FakeTaskQueue({ visibilityTimeoutSeconds: 30 });
    await store.ensureBucket('input');
    await store.ensureBucket('output');
    store.connectQueue(ARN, queue);
    await store.putQueueNotifications('input', {
      queues: [{ queueArn: ARN, events: ['s3:ObjectCreated:*'] }],
    });
    lines = [];
  });
  afterEach(async () => {
    await rm(root, { recursive: true, force: true });
  });

  function settings(
    script: string,
    config: Partial<RunnerConfig> = {},
    manifestFields: Record<string, unknown> = {},
  ): RunnerSettings {
    const manifest = parseManifest(
      JSON.stringify({
        name: 'unit',
        version: '1',
        image: 'x.io/u:1',
        memory: 256,
        command: ['/bin/sh', '-c', script, 'sh', '{input}', '{output}'],
        ...manifestFields,
      }),
      'algorithm.json',
    );
    return {
      config: {
        runId: RUN,
        queueUrl: 'http://fake/tasks',
        deadLetterQueueUrl: 'http://fake/dlq',
        input: { bucket: 'input', prefix: 'in/', include: ['**/*.txt'] },
        output: { bucket: 'output', prefix: 'out/' },
        maxAttempts: 2,
        idleSeconds: 0,
        env: {},
        secretEnv: [],
        ...config,
      },
      manifest,
      algorithmValues: {},
      secrets: [],
      workerId: 'unit-worker',
      algorithmDigest: `sha256:${'0'.repeat(64)}`,
      timeoutSeconds: 10,
      heartbeatSeconds: 30,
      retryDelaySeconds: 0,
      pathRoot: root,
    };
  }

  async function runOnce(s: RunnerSettings, stop = new AbortController()) {
    const log = new JsonLog({}, [], (line) => lines.push(JSON.parse(line) as Record<string, unknown>));
    const source = directSource(s, { store, queue, deadLetter }, log);
    const assembled = await assembleRunner(s, source, log, { PATH: '/usr/bin:/bin' });
    try {
      await assembled.runner.run(stop.signal);
    } finally {
      await assembled.close();
    }
    return { ...assembled.runner.stats, ...source.stats };
  }

  async function record(key: string) {
    const head = await store.head({ bucket: 'input', key });
    const id = taskId({ bucket: 'input', key, etag: head?.etag ?? '' });
    const found = await readTaskState(store, 'output', RUN, id);
    return validateTaskRecord(found, key);
  }

  const COPY = 'cp "$1" "$2/result"';

  it('runs included keys from S3 events and drops the rest (test event, other globs, ledger keys)', async () => {
    await store.put({ bucket: 'input', key: 'in/a b+c.txt' }, 'hello');
    await store.put({ bucket: 'input', key: 'in/skip.csv' }, 'x');
    await store.put({ bucket: 'input', key: 'in/_sluice/not-ledger.txt' }, 'x');
    await queue.sendBatch([
      {
        body: JSON.stringify({
          Records: [
            {
              eventSource: 'aws:s3',
              eventName: 'ObjectCreated:Put',
              eventTime: 't',
              awsRegion: 'r',
              s3: { bucket: { name: 'input' }, object: { key: '_sluice/x/done/y.json', size: 1, eTag: 'e' } },
            },
          ],
        }),
      },
    ]);
    const stats = await runOnce(
      settings(COPY, { input: { bucket: 'input', prefix: '', include: ['**/*.txt', '**/*.json'] } }),
    );
    expect(stats.tasks.succeeded).toBe(2);
    expect(stats.dropped).toBe(3); // the test event, skip.csv, the ledger key
    expect((await store.getText({ bucket: 'output', key: 'out/in/a b+c.txt/result' }))?.text).toBe('hello');
    const dropped = lines.filter((l) => l.event === 'message-dropped').map((l) => JSON.stringify(l.dropped));
    expect(dropped.join()).toMatch(/s3:TestEvent.*not-included.*ledger/s);
    expect((await record('in/a b+c.txt')).status).toBe('succeeded');
  });

  it('sets a poison message aside and never crashes', async () => {
    await queue.sendBatch([
      { body: '{"Records": 5}' },
      {
        body: formatTaskMessage({
          sluice: 1,
          runId: 'other-0123abcd',
          bucket: 'input',
          key: 'in/a.txt',
          etag: 'e',
          size: 1,
        }),
      },
    ]);
    const stats = await runOnce(settings(COPY));
    expect(stats.rejected).toBe(2);
    const rejected = [];
    for await (const page of store.list('output', `_sluice/${RUN}/rejected/`)) rejected.push(...page);
    expect(rejected).toHaveLength(2);
    expect((await queue.counts()).visible + (await queue.counts()).inFlight).toBe(0);
  });

  it('retries a failing algorithm, then writes the final record and moves the task to the dead-letter queue', async () => {
    await store.put({ bucket: 'input', key: 'in/bad.txt' }, 'x');
    const s = settings('exit 3');
    // With retryDelaySeconds 0 the failed attempt is visible again at once: one run sees both.
    await runOnce(s);
    const current = await record('in/bad.txt');
    expect(current.status).toBe('failed');
    expect(current.attempts.map((a) => [a.attempt, a.failureClass, a.exitCode])).toEqual([
      [1, 'algorithm-exit', 3],
      [2, 'algorithm-exit', 3],
    ]);
    expect(lines.filter((l) => l.event === 'task-attempt-failed')).toHaveLength(1);
    const [dead] = await deadLetter.receive({ waitSeconds: 0 });
    const check = checkTaskMessage(JSON.parse(dead?.body ?? '{}'));
    expect(check).toEqual({
      ok: true,
      message: expect.objectContaining({ key: 'in/bad.txt', attemptsUsed: 2 }),
    });
    expect((await queue.counts()).visible + (await queue.counts()).inFlight).toBe(0);
  });

  it('does not retry a permanent exit code', async () => {
    await store.put({ bucket: 'input', key: 'in/never.txt' }, 'x');
    await runOnce(settings('exit 42', { maxAttempts: 5 }, { retry: { permanentExitCodes: [42] } }));
    const current = await record('in/never.txt');
    expect(current.status).toBe('failed');
    expect(current.attempts).toHaveLength(1);
    expect((await deadLetter.counts()).visible).toBe(1);
  });

  it('counts attempts across messages: attemptsUsed plus the receive count', async () => {
    await store.put({ bucket: 'input', key: 'in/late.txt' }, 'x');
    const head = await store.head({ bucket: 'input', key: 'in/late.txt' });
    await queue.purge();
    await queue.sendBatch([
      {
        body: formatTaskMessage({
          sluice: 1,
          runId: RUN,
          bucket: 'input',
          key: 'in/late.txt',
          etag: head?.etag ?? '',
          size: 1,
          attemptsUsed: 1,
        }),
      },
    ]);
    await runOnce(settings('exit 3', { maxAttempts: 2 }));
    const current = await record('in/late.txt');
    expect(current.attempts.map((a) => a.attempt)).toEqual([2]);
    expect(current.status).toBe('failed');
  });

  it('drops a duplicate message of a task that failed for good, unless it is a re-drive', async () => {
    await store.put({ bucket: 'input', key: 'in/dup.txt' }, 'x');
    const head = await store.head({ bucket: 'input', key: 'in/dup.txt' });
    await runOnce(settings('exit 42', { maxAttempts: 5 }, { retry: { permanentExitCodes: [42] } }));
    expect((await record('in/dup.txt')).attempts).toHaveLength(1);
    const again = (extra: { attemptsUsed?: number; retryFrom?: number }) =>
      queue.sendBatch([
        {
          body: formatTaskMessage({
            sluice: 1,
            runId: RUN,
            bucket: 'input',
            key: 'in/dup.txt',
            etag: head?.etag ?? '',
            size: 1,
            ...extra,
          }),
        },
      ]);

    await again({});
    await runOnce(settings('exit 0', { maxAttempts: 5 }));
    expect((await record('in/dup.txt')).attempts).toHaveLength(1);

    await again({ attemptsUsed: 1, retryFrom: 1 });
    await runOnce(settings('exit 42', { maxAttempts: 5 }, { retry: { permanentExitCodes: [42] } }));
    expect((await record('in/dup.txt')).attempts).toHaveLength(2);
  });

  it('gives a re-driven task a fresh budget and numbers its attempts after the earlier ones', async () => {
    await store.put({ bucket: 'input', key: 'in/redriven.txt' }, 'x');
    const head = await store.head({ bucket: 'input', key: 'in/redriven.txt' });
    await queue.purge();
    await queue.sendBatch([
      {
        body: formatTaskMessage({
          sluice: 1,
          runId: RUN,
          bucket: 'input',
          key: 'in/redriven.txt',
          etag: head?.etag ?? '',
          size: 1,
          attemptsUsed: 2,
          retryFrom: 2,
        }),
      },
    ]);
    await runOnce(settings('exit 3', { maxAttempts: 1 }));
    const current = await record('in/redriven.txt');
    // Attempt 3 is the first of the new round: with one attempt allowed it is the last, not "no attempts left".
    expect(current.attempts.map((a) => [a.attempt, a.failureClass])).toEqual([[3, 'algorithm-exit']]);
    expect(current.status).toBe('failed');
  });

  it('releases the task on stop without using an attempt', async () => {
    await store.put({ bucket: 'input', key: 'in/slow.txt' }, 'x');
    const stop = new AbortController();
    const running = runOnce(settings('sleep 30', { idleSeconds: 60 }), stop);
    for (let i = 0; i < 100 && !lines.some((l) => l.event === 'task-started'); i += 1)
      await new Promise((r) => setTimeout(r, 50));
    stop.abort();
    await running;
    expect(lines.some((l) => l.event === 'task-released')).toBe(true);
    const messages = await queue.receive({ waitSeconds: 0, maxMessages: 10 });
    const tasks = messages.map((m) => checkTaskMessage(JSON.parse(m.body))).filter((c) => c.ok);
    expect(tasks).toHaveLength(1);
    expect(tasks[0]?.ok === true && (tasks[0].message.attemptsUsed ?? 0)).toBe(0);
    expect((await record('in/slow.txt')).attempts[0]?.message).toMatch(/^released/);
  });

  it("stops an attempt whose lease was lost and reports nothing for it (the task is another worker's)", async () => {
    await store.put({ bucket: 'input', key: 'in/taken.txt' }, 'x');
    // A beat every second; the algorithm would write its result after 6 s.
    const running = runOnce({ ...settings('sleep 6; cp "$1" "$2/result"'), heartbeatSeconds: 1 });
    for (let i = 0; i < 100 && !lines.some((l) => l.event === 'task-started'); i += 1)
      await new Promise((r) => setTimeout(r, 50));
    const began = Date.now();
    // Someone else now holds the message (here: it is gone), so the next beat finds the lease lost.
    await queue.purge();
    const stats = await running;
    expect(Date.now() - began).toBeLessThan(5000);
    expect(stats.tasks).toMatchObject({ lost: 1, succeeded: 0, failed: 0, retry: 0, released: 0 });
    expect(lines.map((l) => l.event)).toEqual(expect.arrayContaining(['message-lost', 'task-abandoned']));
    // Nothing written for it: no result, no marker, and the record still names only the running attempt.
    expect(await store.getText({ bucket: 'output', key: 'out/in/taken.txt/result' })).toBeUndefined();
    const attempts = (await record('in/taken.txt')).attempts;
    expect(attempts).toHaveLength(1);
    expect(attempts[0]?.endedAt).toBeUndefined();
    expect(deadLetter.bodies()).toEqual([]);
  });
});

// The runner as a real process (the committed bundle) on moto: it exits 0 when idle, releases its
// task without using an attempt on SIGTERM, exits 2 on a bad configuration; and a port algorithm
// fed 50 tasks, whose server one task kills, is started again for the rest.
import { rm } from 'node:fs/promises';
import { join } from 'node:path';

import { afterAll, beforeAll, describe, expect, it, jest } from '@jest/globals';
import { taskId } from '@sluice/core';
import { TestAwsAccount, attemptLogText } from '@sluice/testing';

import { freeListenPort } from '../testbed/servers.js';

import {
  ALGORITHMS,
  createRun,
  listKeys,
  readRecord,
  runUntilIdle,
  runnerConfig,
  runnerEnv,
  spawnRunner,
  writeManifest,
  type TestRun,
} from './runner-support.js';

jest.setTimeout(120_000);

describe('runner process on moto', () => {
  let aws: TestAwsAccount;
  let run: TestRun;

  beforeAll(async () => {
    aws = new TestAwsAccount({ label: 'runner-proc' });
    run = await createRun(aws);
  });
  afterAll(async () => {
    await rm(run.dir, { recursive: true, force: true });
    await aws.cleanup();
  });

  it('exits 0 after idleSeconds with an empty queue', async () => {
    const manifest = await writeManifest(run, {}, 'idle.json');
    const started = Date.now();
    const runner = spawnRunner(await runnerEnv(aws, run, runnerConfig(run, { idleSeconds: 2 }), manifest));
    expect(await runner.exited).toBe(0);
    expect(Date.now() - started).toBeLessThan(15_000);
    expect(runner.lines.at(-1)).toEqual(expect.objectContaining({ event: 'runner-exiting', reason: 'idle' }));
  });

  it('exits 2 with a clear message when SLUICE_RUN is invalid', async () => {
    const manifest = await writeManifest(run, {}, 'bad.json');
    const env = await runnerEnv(aws, run, runnerConfig(run), manifest);
    const runner = spawnRunner({ ...env, SLUICE_RUN: JSON.stringify({ runId: 'x' }) });
    expect(await runner.exited).toBe(2);
    expect(String(runner.lines.at(-1)?.message)).toMatch(/SLUICE_RUN: \$\.queueUrl/);
  });

  it('on SIGTERM mid-task stops the algorithm, releases the task without using an attempt, and exits 0', async () => {
    const key = 'slow/input.txt';
    const put = await run.store.put({ bucket: run.inputBucket, key }, 'slow input');
    await run.queue.sendBatch([
      {
        body: JSON.stringify({
          sluice: 1,
          runId: run.runId,
          bucket: run.inputBucket,
          key,
          etag: put.etag,
          size: 10,
        }),
      },
    ]);
    const manifest = await writeManifest(run, { env: { MODE: {}, SLOW_SECONDS: {} } }, 'slow.json');
    const config = runnerConfig(run, {
      input: { bucket: run.inputBucket, prefix: 'slow/', include: ['**'] },
      env: { MODE: 'slow', SLOW_SECONDS: '60' },
      timeoutSeconds: 90,
      idleSeconds: 30,
    });
    const runner = spawnRunner(await runnerEnv(aws, run, config, manifest));
    await runner.waitFor('task-started');
    await new Promise((resolve) => setTimeout(resolve, 500));
    runner.child.kill('SIGTERM');
    expect(await runner.exited).toBe(0);
    expect(runner.lines.map((l) => l.event)).toEqual(
      expect.arrayContaining(['stopping', 'task-released', 'runner-exiting']),
    );

    expect(runner.lines.find((l) => l.event === 'task-released')).toEqual(
      expect.objectContaining({ attemptsUsed: 0 }),
    );
    expect((await run.queue.counts()).visible).toBe(1);

    // The next runner runs it as attempt 1 again, and it succeeds.
    const quick = runnerConfig(run, { ...config, env: { MODE: 'ok', SLOW_SECONDS: '0' }, idleSeconds: 2 });
    await runUntilIdle(run, await runnerEnv(aws, run, quick, manifest));
    const record = await readRecord(run, taskId({ bucket: run.inputBucket, key, etag: put.etag }));
    expect(record.status).toBe('succeeded');
    // Both entries are attempt 1: the released one (marked so) and the one that succeeded.
    expect(record.attempts.map((a) => a.attempt)).toEqual([1, 1]);
    expect(record.attempts[0]?.message).toMatch(/^released: the runner is stopping/);
    expect(record.attempts[1]?.exitCode).toBe(0);
  });

  it('feeds a port algorithm 50 tasks, starting its server once and again after a task kills it', async () => {
    const port = await freeListenPort();
    const keys = Array.from({ length: 50 }, (_, i) =>
      i === 20 ? `port/die-${i}.txt` : `port/file-${i}.txt`,
    );
    const entries = [];
    for (const key of keys) {
      const put = await run.store.put({ bucket: run.inputBucket, key }, `body ${key}`);
      entries.push({
        body: JSON.stringify({
          sluice: 1,
          runId: run.runId,
          bucket: run.inputBucket,
          key,
          etag: put.etag,
          size: 1,
        }),
      });
    }
    await run.queue.sendBatch(entries);
    const manifest = await writeManifest(
      run,
      { port, command: [process.execPath, join(ALGORITHMS, 'port-server.mjs'), String(port)] },
      'port.json',
    );
    const config = runnerConfig(run, {
      input: { bucket: run.inputBucket, prefix: 'port/', include: ['**'] },
      maxAttempts: 1,
      idleSeconds: 2,
    });
    const runner = spawnRunner(await runnerEnv(aws, run, config, manifest));
    expect(await runner.exited).toBe(0);
    const exit = runner.lines.find((l) => l.event === 'runner-exiting');
    expect(exit?.tasks).toEqual(expect.objectContaining({ succeeded: 49, failed: 1 }));
    const results = await listKeys(run.store, run.outputBucket, 'results/');
    expect(results.filter((k) => /^results\/(file|die)-/.test(k))).toHaveLength(49);
    const died = keys[20] ?? '';
    const head = await run.store.head({ bucket: run.inputBucket, key: died });
    const record = await readRecord(
      run,
      taskId({ bucket: run.inputBucket, key: died, etag: head?.etag ?? '' }),
    );
    expect(record.attempts[0]?.failureClass).toBe('algorithm-exit');
    expect(record.attempts[0]?.message).toMatch(/died/);
    const log = await attemptLogText(run.store, run.outputBucket, record.attempts[0]);
    expect(log).toContain('dying on');
    // Started once, then once more after the death: the start-up line is in exactly two task logs.
    let startLines = 0;
    for (const key of keys) {
      const h = await run.store.head({ bucket: run.inputBucket, key });
      const r = await readRecord(run, taskId({ bucket: run.inputBucket, key, etag: h?.etag ?? '' }));
      const text = await attemptLogText(run.store, run.outputBucket, r.attempts[0]);
      if (text?.includes('server starting') === true) startLines += 1;
    }
    expect(startLines).toBe(2);
  });
});

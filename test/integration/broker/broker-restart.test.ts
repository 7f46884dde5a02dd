// A sealed run's broker killed mid-run loses nothing: the runner's reports are retried until a new
// broker answers on the same address with the run's key (as `sluice collect` does after `sluice
// dispatch` ends), and leases granted by the old one stay valid — every file ends committed once.
import { rm } from 'node:fs/promises';
import { setTimeout as sleep } from 'node:timers/promises';

import { afterAll, beforeAll, describe, expect, it, jest } from '@jest/globals';
import { formatTaskMessage } from '@sluice/core';
import { TestAwsAccount } from '@sluice/testing';

import {
  createRun,
  inProcessRunner,
  listKeys,
  runnerConfig,
  runnerEnv,
  startTestBroker,
  writeManifest,
  type TestBroker,
  type TestRun,
} from '../runner-support.js';

jest.setTimeout(120_000);

const FILES = ['a.txt', 'b.txt', 'c.txt', 'd.txt'];

describe('a sealed run whose broker is killed and restarted', () => {
  let aws: TestAwsAccount;
  let run: TestRun;
  const brokers: TestBroker[] = [];

  beforeAll(async () => {
    aws = new TestAwsAccount({ label: 'broker-restart' });
    run = await createRun(aws, { visibilitySeconds: 30 });
  });
  afterAll(async () => {
    await Promise.all(brokers.map((broker) => broker.close().catch(() => undefined)));
    await rm(run.dir, { recursive: true, force: true });
    await aws.cleanup();
  });

  it('finishes every task exactly once', async () => {
    for (const name of FILES) {
      const put = await run.store.put({ bucket: run.inputBucket, key: `in/${name}` }, `content of ${name}`);
      await run.queue.sendBatch([
        {
          body: formatTaskMessage({
            sluice: 1,
            runId: run.runId,
            bucket: run.inputBucket,
            key: `in/${name}`,
            etag: put.etag,
            size: `content of ${name}`.length,
          }),
        },
      ]);
    }
    // Slow enough that the broker dies while a task runs.
    const manifest = await writeManifest(run, {
      command: ['/bin/sh', '-c', 'sleep 1.5; cp "$1" "$2/result"', 'sh', '{input}', '{output}'],
    });
    const env = await runnerEnv(aws, run, runnerConfig(run, { idleSeconds: 8 }), manifest);
    const first = await startTestBroker(run, aws.s3, env);
    brokers.push(first);
    const port = Number(new URL(first.url).port);
    const { assembled, lines } = await inProcessRunner(run, env, first);
    const running = assembled.runner.run(new AbortController().signal).finally(() => assembled.close());

    for (let i = 0; i < 100 && !lines.some((l) => l.event === 'task-started'); i += 1) await sleep(100);
    await first.close();
    // Back only once the runner has met the gap: one of its reports failed and is being retried.
    const retried = (): boolean => lines.some((l) => l.event === 'broker-request-retried');
    for (let i = 0; i < 300 && !retried(); i += 1) await sleep(100);
    expect(retried()).toBe(true);
    // The same address and key: what the run's broker file gives every sluice process of the run.
    brokers.push(await startTestBroker(run, aws.s3, env, { key: first.key, port, token: first.token }));
    await running;

    expect(lines.filter((l) => l.event === 'task-succeeded' && l.committedHere === true)).toHaveLength(
      FILES.length,
    );
    expect(await listKeys(run.store, run.outputBucket, 'results/')).toHaveLength(FILES.length);
    expect(await listKeys(run.store, run.outputBucket, `_sluice/${run.runId}/done/`)).toHaveLength(
      FILES.length,
    );
    expect(await listKeys(run.store, run.outputBucket, `_sluice/${run.runId}/staging/`)).toEqual([]);
    const counts = await run.queue.counts();
    expect(counts.visible + counts.inFlight).toBe(0);
  });
});

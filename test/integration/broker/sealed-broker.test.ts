// The sealed-mode broker on a real S3 that checks signatures (SeaweedFS) with moto's SQS: a runner
// holding no storage credential runs a run's files through presigned GETs and one POST policy per
// lease; and the broker's endpoint refuses what it must: no or another run's bearer token, a forged
// or altered lease token, another run's lease, an expired lease — recording nothing for them.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { afterAll, beforeAll, describe, expect, it, jest } from '@jest/globals';
import {
  S3ObjectStore,
  SqsQueues,
  SqsTaskQueue,
  formatTaskMessage,
  taskId,
  validateTaskRecord,
} from '@sluice/core';
import { LeaseSigner, newBrokerKey, type Lease } from '@sluice/core/broker';
import { TestAwsAccount, attemptLogText, readTaskState, seaweedAccount } from '@sluice/testing';

import {
  listKeys,
  runUntilIdle,
  runnerConfig,
  runnerEnv,
  startTestBroker,
  writeManifest,
  type TestBroker,
  type TestRun,
} from '../runner-support.js';

jest.setTimeout(120_000);

// loud.txt's log is too large for the record: it goes up through its own presigned POST.
const FILES = ['a.txt', 'dir/b c.txt', 'big.bin', 'loud.txt'];

describe('sealed mode on SeaweedFS (S3) and moto (SQS)', () => {
  let moto: TestAwsAccount;
  let seaweed: TestAwsAccount;
  let run: TestRun;
  let env: Record<string, string>;
  let broker: TestBroker;

  beforeAll(async () => {
    moto = new TestAwsAccount({ label: 'sealed-broker' });
    seaweed = seaweedAccount({ label: 'sealed-broker' });
    const store = new S3ObjectStore(seaweed.s3);
    const inputBucket = await seaweed.createBucket('in');
    const outputBucket = await seaweed.createBucket('out');
    const queues = new SqsQueues(moto.sqs);
    const ensured = await queues.ensureQueue(moto.queueName('tasks'), {
      visibilityTimeoutSeconds: 6,
      deadLetter: { maxReceiveCount: 10, name: moto.queueName('dlq') },
    });
    moto.trackQueue(ensured.url);
    if (ensured.deadLetter === undefined) throw new Error('no dead-letter queue');
    moto.trackQueue(ensured.deadLetter.url);
    run = {
      runId: `it-${moto.id.slice(0, 8)}`,
      inputBucket,
      outputBucket,
      queueUrl: ensured.url,
      deadLetterUrl: ensured.deadLetter.url,
      store,
      queue: new SqsTaskQueue(moto.sqs, ensured.url),
      deadLetter: new SqsTaskQueue(moto.sqs, ensured.deadLetter.url),
      dir: await mkdtemp(join(tmpdir(), 'sluice-sealed-')),
    };
    const manifest = await writeManifest(run, {});
    const config = runnerConfig(run, { input: { bucket: inputBucket, prefix: 'in/', include: ['**'] } });
    // The runner's environment names moto for SQS only; in sealed mode it uses neither.
    env = await runnerEnv(moto, run, config, manifest);
    broker = await startTestBroker(run, seaweed.s3, env);
  });
  afterAll(async () => {
    await broker.close();
    await rm(run.dir, { recursive: true, force: true });
    await seaweed.cleanup();
    await moto.cleanup();
  });

  it('runs every file through a runner that holds no storage credential', async () => {
    for (const name of FILES) {
      const body = name === 'big.bin' ? Buffer.alloc(12 * 1024 * 1024, 7) : `content of ${name}\n`;
      const put = await run.store.put({ bucket: run.inputBucket, key: `in/${name}` }, body);
      await run.queue.sendBatch([
        {
          body: formatTaskMessage({
            sluice: 1,
            runId: run.runId,
            bucket: run.inputBucket,
            key: `in/${name}`,
            etag: put.etag,
            size: Buffer.byteLength(body),
          }),
        },
      ]);
    }
    // No AWS variable at all: the runner reaches S3 only through what the broker presigns.
    const sealedEnv = Object.fromEntries(Object.entries(env).filter(([name]) => !name.startsWith('AWS_')));
    const lines = await runUntilIdle(run, sealedEnv, broker);
    expect(lines.filter((l) => l.event === 'task-succeeded')).toHaveLength(FILES.length);

    for (const name of FILES) {
      expect(await listKeys(run.store, run.outputBucket, `results/${name}/`)).toEqual([
        `results/${name}/meta/size.txt`,
        `results/${name}/result.bin`,
      ]);
      const head = await run.store.head({ bucket: run.inputBucket, key: `in/${name}` });
      const id = taskId({ bucket: run.inputBucket, key: `in/${name}`, etag: head?.etag ?? '' });
      const record = validateTaskRecord(
        await readTaskState(run.store, run.outputBucket, run.runId, id),
        name,
      );
      expect(record.status).toBe('succeeded');
      const last = record.attempts.at(-1);
      if (name === 'loud.txt') expect(last?.logKey).toBe(`_sluice/${run.runId}/logs/${id}/1.log`);
      else expect(last?.logKey).toBeUndefined();
      const log = await attemptLogText(run.store, run.outputBucket, last);
      expect(log).toContain(`processing ${name.split('/').at(-1) ?? ''}`);
      if (name === 'loud.txt') expect(log).toContain('line 299 of a long log');
    }
    expect(await listKeys(run.store, run.outputBucket, `_sluice/${run.runId}/staging/`)).toEqual([]);
  });

  async function call(operation: string, body: unknown, token = broker.token) {
    const response = await fetch(`${broker.url}/v1/${operation}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
      body: JSON.stringify(body),
    });
    return {
      status: response.status,
      body: (await response.json()) as { error?: { code: string; message: string } },
    };
  }

  /** A lease as the broker would grant it, for a task it never granted. */
  function lease(overrides: Partial<Lease> = {}): Lease {
    const now = Date.now();
    return {
      task: { sluice: 1, runId: run.runId, bucket: run.inputBucket, key: 'in/a.txt', etag: 'e', size: 1 },
      taskId: 'a'.repeat(24),
      attempt: 1,
      roundAttempt: 1,
      workerId: 'intruder',
      messageId: 'm-1',
      holder: '000000000000',
      outputPrefix: 'out/in/a.txt/',
      cleanup: false,
      logKey: `_sluice/${run.runId}/logs/${'a'.repeat(24)}/1.log`,
      receiptHandle: 'not-a-receipt',
      receivedAt: now,
      startedAt: new Date(now).toISOString(),
      visibleAt: now + 60_000,
      ...overrides,
    };
  }

  it('refuses a request without this run’s bearer token before reading it', async () => {
    expect((await call('lease', { workerId: 'w', waitSeconds: 0 }, 'another-runs-token')).status).toBe(401);
    const bare = await fetch(`${broker.url}/v1/lease`, { method: 'POST', body: '{}' });
    expect(bare.status).toBe(401);
  });

  it('refuses forged, altered, other-run and expired lease tokens, recording nothing', async () => {
    const before = await listKeys(run.store, run.outputBucket, `_sluice/${run.runId}/`);
    const complete = (token: string) =>
      call('complete', { token, outputs: [], phases: {}, logStaged: false });

    // Signed with a key this broker does not hold: a completion for a lease it never granted.
    const forged = new LeaseSigner(newBrokerKey(), run.runId).sign(lease());
    expect(await complete(forged)).toMatchObject({ status: 403, body: { error: { code: 'lease-refused' } } });

    // This broker's own signature over another payload: the signature no longer matches.
    const genuine = new LeaseSigner(broker.key, run.runId).sign(lease());
    const [payload = '', mac = ''] = genuine.split('.');
    const altered = Buffer.from(
      Buffer.from(payload, 'base64url').toString().replace('"attempt":1', '"attempt":2'),
    ).toString('base64url');
    expect(await complete(`${altered}.${mac}`)).toMatchObject({ status: 403 });

    // Another run's lease, even under the same key, is not this run's.
    const otherRun = new LeaseSigner(broker.key, 'other-0123abcd').sign(lease());
    expect(await call('heartbeat', { token: otherRun })).toMatchObject({ status: 403 });

    // Expired: visibility and grace are over.
    const expired = new LeaseSigner(broker.key, run.runId).sign(lease({ visibleAt: Date.now() - 120_000 }));
    const refused = await call('fail', {
      token: expired,
      failureClass: 'algorithm-exit',
      retryable: true,
      message: 'x',
      phases: {},
      logStaged: false,
    });
    expect(refused).toMatchObject({ status: 410, body: { error: { code: 'lease-expired' } } });

    // A malformed request is a 400 naming the field.
    const bad = await call('complete', {
      token: genuine,
      outputs: [{ relativePath: '../escape', size: 1 }],
      phases: {},
      logStaged: false,
    });
    expect(bad.status).toBe(400);
    expect(bad.body.error?.message).toContain('relativePath');

    expect(await listKeys(run.store, run.outputBucket, `_sluice/${run.runId}/`)).toEqual(before);
  });
});

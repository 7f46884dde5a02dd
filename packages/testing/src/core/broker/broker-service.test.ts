// The broker's decisions with fakes of our own interfaces: what a lease grants (a GET of the input, a
// POST policy bound to the input's output prefix, a token), that a heartbeat hands out a new token
// and fresh transfers, that the run's records come out as a direct runner's would, and what is
// refused; and the task control under it: the requests a fresh task costs, duplicates dropped, an
// earlier attempt's leftovers removed. The same broker against moto and SeaweedFS:
// test/integration/broker/.
import { describe, expect, it } from '@jest/globals';
import {
  JsonLog,
  completionMarkerKey,
  formatTaskMessage,
  taskId,
  validateTaskRecord,
  type Presigner,
} from '@sluice/core';
import {
  BrokerService,
  TaskControl,
  newBrokerKey,
  type ControlSettings,
  type GrantedLease,
} from '@sluice/core/broker';
import { AwsRequestError } from '@sluice/core/aws';

import { FakeObjectStore } from '../../fake-object-store.js';
import { FakeTaskQueue } from '../../fake-task-queue.js';
import { readTaskState } from '../../attempt-log.js';

const RUN = 'unit-0123abcd';

type PostScope = Parameters<Presigner['presignPost']>[0];

/** Presigns nothing: records what it was asked, so the test can check the scope of each grant. */
class RecordingPresigner implements Presigner {
  readonly posts: PostScope[] = [];
  presignGet(ref: { bucket: string; key: string }, expiresInSeconds: number) {
    return Promise.resolve({
      url: `https://get/${ref.bucket}/${ref.key}`,
      bucket: ref.bucket,
      key: ref.key,
      expiresAt: new Date(Date.now() + expiresInSeconds * 1000).toISOString(),
    });
  }
  presignPost(scope: PostScope) {
    this.posts.push(scope);
    return Promise.resolve({
      url: `https://post/${scope.bucket}`,
      fields: { key: `${scope.keyPrefix}\${filename}` },
      keyPrefix: scope.keyPrefix,
      maxBytes: scope.maxBytes,
      expiresAt: new Date(Date.now() + scope.expiresInSeconds * 1000).toISOString(),
    });
  }
}

/** A run with one queued task for `a.txt`; `calls` lists the control's store calls by method. */
async function setUp() {
  const store = new FakeObjectStore();
  const { store: controlStore, calls } = counted(store);
  await store.ensureBucket('input');
  await store.ensureBucket('output');
  const queue = new FakeTaskQueue({ visibilityTimeoutSeconds: 30 });
  const deadLetter = new FakeTaskQueue();
  const settings: ControlSettings = {
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
  const log = new JsonLog({}, [], () => undefined);
  const presigner = new RecordingPresigner();
  const control = new TaskControl({ settings, store: controlStore, queue, deadLetter, log });
  const service = new BrokerService({ settings, control, presigner, key: newBrokerKey(), log });
  const put = await store.put({ bucket: 'input', key: 'a.txt' }, 'hello');
  await queue.sendBatch([
    {
      body: formatTaskMessage({
        sluice: 1,
        runId: RUN,
        bucket: 'input',
        key: 'a.txt',
        etag: put.etag,
        size: 5,
      }),
    },
  ]);
  const id = taskId({ bucket: 'input', key: 'a.txt', etag: put.etag });
  return { store, queue, deadLetter, presigner, service, control, calls, id, etag: put.etag };
}

async function lease(service: BrokerService): Promise<GrantedLease> {
  const answer = await service.handle('lease', { workerId: 'w-1', waitSeconds: 0 });
  expect(answer.status).toBe(200);
  const granted = (answer.body as { lease: GrantedLease | null }).lease;
  if (granted === null) throw new Error('no lease');
  return granted;
}

describe('BrokerService', () => {
  it('grants a task with a GET of its input, a POST bound to its output prefix and one for its log', async () => {
    const { service, presigner, id } = await setUp();
    const granted = await lease(service);
    expect(granted.taskId).toBe(id);
    expect(granted.input.url).toBe('https://get/input/a.txt');
    expect(granted.outputPrefix).toBe('out/a.txt/');
    expect(granted.logKey).toBe(`_sluice/${RUN}/logs/${id}/1.log`);
    expect(presigner.posts).toEqual([
      expect.objectContaining({
        bucket: 'output',
        keyPrefix: granted.outputPrefix,
        maxBytes: 5 * 1024 ** 3,
        metadata: { 'sluice-task': `${RUN}/${id}` },
      }),
      expect.objectContaining({ bucket: 'output', keyPrefix: `_sluice/${RUN}/logs/${id}/1.` }),
    ]);
    // Expiring with the lease (three heartbeats plus the grace), not days later.
    expect(presigner.posts[0]?.expiresInSeconds).toBeLessThanOrEqual(30 + 60 + 1);
  });

  it('extends a lease with a new token and fresh transfers', async () => {
    const { service, presigner } = await setUp();
    const granted = await lease(service);
    const beat = await service.handle('heartbeat', { token: granted.token });
    expect(beat.body).toMatchObject({
      status: 'extended',
      upload: { keyPrefix: granted.outputPrefix },
      logUpload: { keyPrefix: granted.logKey.replace(/log$/, '') },
    });
    expect(presigner.posts).toHaveLength(4);
  });

  it('commits the uploaded outputs once and records the attempt as a direct runner would', async () => {
    const { service, store, queue, id } = await setUp();
    const granted = await lease(service);
    await store.put({ bucket: 'output', key: `${granted.outputPrefix}result.txt` }, 'HELLO');
    await store.put({ bucket: 'output', key: granted.logKey }, 'log line');
    const done = await service.handle('complete', {
      token: granted.token,
      outputs: [{ relativePath: 'result.txt', size: 5 }],
      phases: { downloadMs: 1, runMs: 2, uploadMs: 3 },
      exitCode: 0,
      logStaged: true,
    });
    expect(done).toMatchObject({ status: 200, body: { outcome: 'succeeded', committedHere: true } });
    expect((await store.getText({ bucket: 'output', key: 'out/a.txt/result.txt' }))?.text).toBe('HELLO');
    expect(await store.getJson({ bucket: 'output', key: completionMarkerKey(RUN, id) })).toBeDefined();
    const record = validateTaskRecord(await readTaskState(store, 'output', RUN, id), 'record');
    expect(record).toMatchObject({
      status: 'succeeded',
      attempts: [{ attempt: 1, workerId: 'w-1', exitCode: 0 }],
    });
    expect(record.attempts[0]?.logKey).toBe(`_sluice/${RUN}/logs/${id}/1.log`);
    expect((await queue.counts()).inFlight).toBe(0);
    // Nothing is staged: no copies to make or remove.
    const staged: string[] = [];
    for await (const page of store.list('output', `_sluice/${RUN}/staging/`))
      staged.push(...page.map((o) => o.key));
    expect(staged).toEqual([]);
    expect(record.heldBy).toBeUndefined();
  });

  it('records a final failure and moves the task to the dead-letter queue', async () => {
    const { service, store, deadLetter, id } = await setUp();
    const granted = await lease(service);
    const failed = await service.handle('fail', {
      token: granted.token,
      failureClass: 'algorithm-exit',
      retryable: false,
      message: 'the algorithm exited with code 3',
      exitCode: 3,
      phases: { runMs: 5 },
      logStaged: false,
    });
    expect(failed.body).toEqual({ outcome: 'failed' });
    const record = validateTaskRecord(await readTaskState(store, 'output', RUN, id), 'record');
    expect(record).toMatchObject({
      status: 'failed',
      attempts: [{ failureClass: 'algorithm-exit', exitCode: 3 }],
    });
    expect((await deadLetter.counts()).visible).toBe(1);
  });

  it('refuses an unknown operation, a malformed body and a token it did not sign', async () => {
    const { service } = await setUp();
    expect((await service.handle('steal', {})).status).toBe(404);
    const bad = await service.handle('lease', { workerId: '', waitSeconds: 99 });
    expect(bad.status).toBe(400);
    expect(JSON.stringify(bad.body)).toMatch(/waitSeconds/);
    expect((await service.handle('heartbeat', { token: 'x.y' })).status).toBe(403);
  });
});

/** The store's calls by method, counted: what a task costs in requests. */
function counted(store: FakeObjectStore): { store: FakeObjectStore; calls: string[] } {
  const calls: string[] = [];
  const proxy = new Proxy(store, {
    get(target, name, receiver) {
      const value: unknown = Reflect.get(target, name, receiver);
      if (typeof value !== 'function') return value;
      return (...args: unknown[]) => {
        calls.push(String(name));
        return (value as (...a: unknown[]) => unknown).apply(target, args);
      };
    },
  });
  return { store: proxy, calls };
}

describe('TaskControl', () => {
  const message = (etag: string) => ({
    body: formatTaskMessage({ sluice: 1, runId: RUN, bucket: 'input', key: 'a.txt', etag, size: 5 }),
  });

  it('leases a fresh task with one request and commits it with one (the marker), reading nothing', async () => {
    const { store, control, calls } = await setUp();
    const lease = await control.lease('w-1', { waitSeconds: 0 });
    if (lease === undefined) throw new Error('no lease');
    expect(calls).toEqual(['putIfAbsent']);
    const put = await store.put({ bucket: 'output', key: `${lease.outputPrefix}result.txt` }, 'HELLO');
    calls.length = 0;
    const done = await control.complete(lease, {
      outputs: [{ relativePath: 'result.txt', size: 5, etag: put.etag }],
      phases: {},
      logStaged: false,
    });
    expect(done).toMatchObject({ outcome: 'succeeded', committedHere: true });
    // The marker carries the attempts: the record is not rewritten.
    expect(calls).toEqual(['putIfAbsent']);
  });

  it('takes a marker PUT whose answer was lost (retried, then 412) as its own commit', async () => {
    const { store, control, id } = await setUp();
    const lease = await control.lease('w-1', { waitSeconds: 0 });
    if (lease === undefined) throw new Error('no lease');
    const put = await store.put({ bucket: 'output', key: `${lease.outputPrefix}result.txt` }, 'HELLO');
    // The marker is written, then the connection drops before the answer: the retry finds it there.
    const putIfAbsent = store.putIfAbsent.bind(store);
    let dropped = false;
    store.putIfAbsent = async (ref, body, options) => {
      const written = await putIfAbsent(ref, body, options);
      if (!dropped && ref.key.includes('/done/')) {
        dropped = true;
        throw new AwsRequestError('socket hang up', {
          operation: 'S3.PutObject',
          code: 'ECONNRESET',
          httpStatus: undefined,
          requestId: undefined,
          retryable: true,
        });
      }
      return written;
    };
    const done = await control.complete(lease, {
      outputs: [{ relativePath: 'result.txt', size: 5, etag: put.etag }],
      phases: {},
      logStaged: false,
    });
    expect(dropped).toBe(true);
    expect(done).toMatchObject({ outcome: 'succeeded', committedHere: true });
    const record = await readTaskState(store, 'output', RUN, id);
    expect(record?.attempts).toHaveLength(1);
    expect(record?.attempts[0]?.message).toBeUndefined();
  });

  it("caps a lease at the time limit plus the transfer margin, not counting the input's download", async () => {
    const { control } = await setUp();
    const lease = await control.lease('w-1', { waitSeconds: 0 });
    if (lease === undefined) throw new Error('no lease');
    // Received 60 s (the time limit) + 15 min (the margin) + 10 s ago.
    const late = { ...lease, receivedAt: Date.now() - (60 + 15 * 60 + 10) * 1000 };
    expect(await control.heartbeat(late)).toEqual({ kind: 'capped' });
    // Two minutes of it went to downloading the input: the algorithm still has its time.
    expect((await control.heartbeat(late, { downloadMs: 120_000 })).kind).toBe('extended');
  });

  it('drops a second message for a task another message holds, without running it or using an attempt', async () => {
    const { store, queue, control, id, etag } = await setUp();
    await queue.sendBatch([message(etag)]);
    const first = await control.lease('w-1', { waitSeconds: 0 });
    expect(await control.lease('w-2', { waitSeconds: 0 })).toBeUndefined();
    expect(control.stats.duplicates).toBe(1);
    if (first === undefined) throw new Error('no lease');
    await control.complete(first, { outputs: [], phases: {}, logStaged: false });
    const record = validateTaskRecord(await readTaskState(store, 'output', RUN, id), 'record');
    expect(record.attempts.map((a) => [a.attempt, a.workerId])).toEqual([[1, 'w-1']]);
    expect(await queue.counts()).toEqual({ visible: 0, inFlight: 0, delayed: 0 });
  });

  it("removes an earlier attempt's leftovers before the commit, and nothing another run or input wrote", async () => {
    const { store, control, id } = await setUp();
    const first = await control.lease('w-1', { waitSeconds: 0 });
    if (first === undefined) throw new Error('no lease');
    const mine = { metadata: { 'sluice-task': `${RUN}/${id}` } };
    await store.put({ bucket: 'output', key: 'out/a.txt/partial.bin' }, 'x', mine);
    await store.put({ bucket: 'output', key: 'out/a.txt/old-run.bin' }, 'x', {
      metadata: { 'sluice-task': `other-0123abcd/${id}` },
    });
    await store.put({ bucket: 'output', key: 'out/a.txt/b/of-input-a.txt-b.bin' }, 'x');
    expect(
      await control.fail(first, {
        failureClass: 'upload-failed',
        retryable: true,
        message: 'the results could not be uploaded',
        phases: {},
        logStaged: false,
      }),
    ).toBe('retry');
    const second = await control.lease('w-2', { waitSeconds: 0 });
    expect(second).toMatchObject({ attempt: 2, cleanup: true });
    if (second === undefined) throw new Error('no second lease');
    const put = await store.put({ bucket: 'output', key: 'out/a.txt/result.bin' }, 'y', mine);
    const done = await control.complete(second, {
      outputs: [{ relativePath: 'result.bin', size: 1, etag: put.etag }],
      phases: {},
      logStaged: false,
    });
    expect(done.outputs).toEqual([{ key: 'out/a.txt/result.bin', size: 1 }]);
    const left: string[] = [];
    for await (const page of store.list('output', 'out/')) left.push(...page.map((o) => o.key));
    expect(left.sort()).toEqual([
      'out/a.txt/b/of-input-a.txt-b.bin',
      'out/a.txt/old-run.bin',
      'out/a.txt/result.bin',
    ]);
  });
});

// The run lifecycle's decisions (provision, dispatch, collect, teardown) against the fakes. They live
// here rather than in packages/core because a core test importing @sluice/testing would make the
// two projects depend on each other (nx refuses the cycle); the same steps run against moto in
// test/integration/run-lifecycle.test.ts.
import { describe, expect, it } from '@jest/globals';
import {
  collectResults,
  completionMarkerKey,
  ConfigurationError,
  dispatchTasks,
  endMarkerKey,
  parseJob,
  provisionRun,
  readRunState,
  resultsKey,
  runId,
  taskId,
  taskRecordKey,
  teardownRun,
  validateTaskRecord,
  type CompletionMarker,
  type Job,
  type RunDeps,
  type RunState,
  type TaskRecord,
  writeRunState,
} from '@sluice/core';

import { ManualClock } from './fake-clock.js';
import { FakeObjectStore } from './fake-object-store.js';
import { FakeRunQueues } from './fake-run-queues.js';

const DIGEST = `sha256:${'a'.repeat(64)}`;

function makeJob(overrides: Record<string, unknown> = {}): Job {
  return parseJob(
    JSON.stringify({
      name: 'Thumbs',
      algorithm: 'thumbnails@1.0.0',
      input: { bucket: 'in-bucket', prefix: 'photos/', include: ['**/*.jpg'] },
      output: { bucket: 'out-bucket', prefix: 'thumbs/' },
      retries: 2,
      ...overrides,
    }),
    'job.json',
  );
}

function world(): { clock: ManualClock; store: FakeObjectStore; queues: FakeRunQueues; deps: RunDeps } {
  const clock = new ManualClock();
  const store = new FakeObjectStore({ clock });
  const queues = new FakeRunQueues({ clock });
  return {
    clock,
    store,
    queues,
    deps: {
      store,
      queues,
      buckets: store,
      now: () => clock.now(),
      sleep: (ms) => {
        clock.advance(ms);
        return Promise.resolve();
      },
    },
  };
}

async function provisioned(job = makeJob()) {
  const w = world();
  await w.store.ensureBucket(job.input.bucket);
  const result = await provisionRun(job, w.deps);
  return { ...w, job, result, state: result.state };
}

async function putInput(
  store: FakeObjectStore,
  key: string,
  body = key,
): Promise<{ key: string; etag: string; id: string }> {
  const { etag } = await store.put({ bucket: 'in-bucket', key }, body);
  return { key, etag, id: taskId({ bucket: 'in-bucket', key, etag }) };
}

/** What a runner leaves for a finished task: the record, and for a success the marker. */
async function finish(
  store: FakeObjectStore,
  state: RunState,
  input: { key: string; etag: string; id: string },
  status: 'succeeded' | 'failed' | 'running',
  digest = DIGEST,
): Promise<void> {
  const record: TaskRecord = {
    schemaVersion: 1,
    runId: state.runId,
    taskId: input.id,
    input: { bucket: 'in-bucket', key: input.key, etag: input.etag },
    status,
    algorithmDigest: digest,
    attempts: [
      {
        attempt: 1,
        workerId: 'w1',
        startedAt: '2025-01-01T00:00:00.000Z',
        ...(status !== 'running' && { endedAt: '2025-01-01T00:00:02.000Z' }),
        phases: { downloadMs: 10, runMs: 1500 },
        ...(status === 'failed' && {
          failureClass: 'algorithm-exit' as const,
          exitCode: 3,
          message: 'exit 3',
        }),
        logKey: `_sluice/${state.runId}/logs/${input.id}/1.log`,
      },
    ],
    outputs: status === 'succeeded' ? [{ key: `thumbs/${input.key}/small.png`, size: 3, etag: 'x' }] : [],
    updatedAt: '2025-01-01T00:00:02.000Z',
  };
  await store.putJson({ bucket: 'out-bucket', key: taskRecordKey(state.runId, input.id) }, record);
  if (status === 'succeeded') {
    const marker: CompletionMarker = {
      schemaVersion: 1,
      runId: state.runId,
      taskId: input.id,
      input: { bucket: 'in-bucket', key: input.key, etag: input.etag },
      algorithmDigest: digest,
      outputs: record.outputs,
      committedAt: '2025-01-01T00:00:02.000Z',
    };
    await store.putJson({ bucket: 'out-bucket', key: completionMarkerKey(state.runId, input.id) }, marker);
  }
}

describe('provisionRun', () => {
  it('creates tagged queues, a policy for the input bucket only, and merges its notification', async () => {
    const { store, queues, deps } = world();
    const job = makeJob();
    await store.ensureBucket('in-bucket');
    const other = {
      id: 'user-archive',
      queueArn: 'arn:aws:sqs:us-east-1:000000000000:archive',
      events: ['s3:ObjectCreated:*'],
      prefix: 'archive/',
    };
    await store.putQueueNotifications('in-bucket', { queues: [other] });

    const result = await provisionRun(job, deps, { algorithm: { digest: DIGEST } });

    const id = runId(job);
    expect(result.runId).toBe(id);
    expect(result.uploadTo).toBe('s3://in-bucket/photos/');
    expect(result.endMarker).toBe(`s3://in-bucket/${endMarkerKey(id)}`);
    expect(queues.names().sort()).toEqual([`sluice-${id}-tasks`, `sluice-${id}-tasks-dlq`]);
    expect(await queues.queueTags(result.queueUrl)).toEqual({
      'sluice:run-id': id,
      'sluice:managed': 'true',
      'sluice:output-bucket': 'out-bucket',
    });
    expect(await queues.queueTags(result.deadLetterQueueUrl)).toMatchObject({ 'sluice:run-id': id });
    expect(JSON.parse(queues.attributes(result.queueUrl).Policy ?? '{}')).toMatchObject({
      Statement: [{ Condition: { ArnEquals: { 'aws:SourceArn': 'arn:aws:s3:::in-bucket' } } }],
    });
    expect(store.bucketTags('out-bucket')).toMatchObject({ 'sluice:run-id': id });
    expect((await store.getQueueNotifications('in-bucket')).queues).toEqual([
      other,
      {
        id: `sluice-${id}`,
        queueArn: `arn:aws:sqs:us-east-1:000000000000:sluice-${id}-tasks`,
        events: ['s3:ObjectCreated:*'],
        prefix: 'photos/',
        suffix: '.jpg',
      },
    ]);
    const state = await readRunState(store, 'out-bucket', id);
    expect(state).toMatchObject({
      state: 'provisioned',
      algorithm: { ref: 'thumbnails@1.0.0', digest: DIGEST },
      buckets: {
        input: { name: 'in-bucket', created: false },
        output: { name: 'out-bucket', created: true },
      },
      queue: { maxReceiveCount: 4, visibilityTimeoutSeconds: 60, created: true },
      notification: { installed: true },
    });
  });

  it('is idempotent: a second provision finds everything, creates nothing and keeps what the first created', async () => {
    const { store, queues, deps, result: first } = await provisioned();
    const second = await provisionRun(makeJob(), deps);
    expect(second.created).toEqual([]);
    expect(second.queueUrl).toBe(first.queueUrl);
    expect(queues.names()).toHaveLength(2);
    expect((await store.getQueueNotifications('in-bucket')).queues).toHaveLength(1);
    expect(second.state.buckets.output.created).toBe(true);
    expect(second.state.createdAt).toBe(first.state.createdAt);
  });

  it('refuses a missing input bucket without create, naming $.input.bucket, and leaves nothing behind', async () => {
    const { store, queues, deps } = world();
    const job = makeJob();
    await expect(provisionRun(job, deps)).rejects.toThrow(ConfigurationError);
    await expect(provisionRun(job, deps)).rejects.toThrow(/\$\.input\.bucket.*"create": true/);
    expect(await store.bucketExists('out-bucket')).toBe(false);
    expect(queues.names()).toEqual([]);
  });

  it('creates the input bucket when asked, tagged, and records that this run created it', async () => {
    const { store, deps } = world();
    const job = makeJob({ input: { bucket: 'in-bucket', prefix: 'photos/', create: true } });
    const { state } = await provisionRun(job, deps);
    expect(state.buckets.input).toEqual({ name: 'in-bucket', created: true });
    expect(store.bucketTags('in-bucket')).toMatchObject({ 'sluice:run-id': state.runId });
  });

  it('refuses an overlapping notification of someone else with a clear message', async () => {
    const { store, deps } = world();
    await store.ensureBucket('in-bucket');
    await store.putQueueNotifications('in-bucket', {
      queues: [
        {
          id: 'everything',
          queueArn: 'arn:aws:sqs:us-east-1:000000000000:x',
          events: ['s3:ObjectCreated:Put'],
        },
      ],
    });
    await expect(provisionRun(makeJob(), deps)).rejects.toThrow(/everything.*overlaps/);
  });
});

describe('dispatchTasks', () => {
  it('streams the listing, skips what is not an input and what is done, and enqueues the rest', async () => {
    const { store, queues, state } = await provisioned();
    const inputs = [];
    for (let i = 0; i < 25; i++)
      inputs.push(await putInput(store, `photos/${String(i).padStart(2, '0')}.jpg`));
    await store.put({ bucket: 'in-bucket', key: 'photos/folder/' }, '');
    await store.put({ bucket: 'in-bucket', key: 'photos/notes.txt' }, 'n');
    await store.put({ bucket: 'in-bucket', key: 'elsewhere/x.jpg' }, 'n');
    for (const input of inputs.slice(0, 3)) await finish(store, state, input, 'succeeded');
    // Done with another algorithm digest: not the same work, so it is enqueued again.
    await finish(
      store,
      state,
      inputs[3] ?? { key: '', etag: '', id: '' },
      'succeeded',
      `sha256:${'b'.repeat(64)}`,
    );
    const pages: number[] = [];

    const report = await dispatchTasks(
      state,
      { store, queues },
      { pageSize: 10, algorithmDigest: DIGEST, onProgress: (p) => pages.push(p.listed) },
    );

    expect(report).toMatchObject({ listed: 27, enqueued: 22, skippedDone: 3, skippedFiltered: 2, failed: 0 });
    expect(pages).toEqual([10, 20, 27, 27]);
    const bodies = queues
      .fakeQueue(state.queue.url ?? '')
      .bodies()
      .map((b) => JSON.parse(b) as { key: string; runId: string; sluice: number });
    expect(bodies).toHaveLength(22);
    expect(bodies[0]).toMatchObject({ sluice: 1, runId: state.runId, key: 'photos/03.jpg' });
  });

  it('skips an input whose results would land in the ledger (empty output prefix, `_sluice/` below the input prefix)', async () => {
    const { store, queues, state } = await provisioned(
      makeJob({ output: { bucket: 'out-bucket', prefix: '' } }),
    );
    await putInput(store, 'photos/a.jpg');
    await putInput(store, 'photos/_sluice/thumbs-0badc0de/done/x.jpg');

    const report = await dispatchTasks(state, { store, queues });

    expect(report).toMatchObject({ listed: 2, enqueued: 1, skippedFiltered: 1 });
    const keys = queues
      .fakeQueue(state.queue.url ?? '')
      .bodies()
      .map((b) => (JSON.parse(b) as { key: string }).key);
    expect(keys).toEqual(['photos/a.jpg']);
  });

  it('dispatching twice enqueues unfinished inputs again (at least once) but never finished ones', async () => {
    const { store, queues, state } = await provisioned();
    const a = await putInput(store, 'photos/a.jpg');
    await putInput(store, 'photos/b.jpg');
    await dispatchTasks(state, { store, queues });
    await finish(store, state, a, 'succeeded');
    const second = await dispatchTasks(state, { store, queues });
    expect(second).toMatchObject({ enqueued: 1, skippedDone: 1 });
    expect(queues.fakeQueue(state.queue.url ?? '').bodies()).toHaveLength(3);
  });
});

describe('collectResults', () => {
  it('until count: waits for the records, then writes results.json with every input', async () => {
    const { store, deps, state } = await provisioned();
    const a = await putInput(store, 'photos/a.jpg');
    const b = await putInput(store, 'photos/b.jpg');
    await finish(store, state, a, 'succeeded');
    await finish(store, state, b, 'running');
    let polls = 0;
    const report = await collectResults(
      state,
      { until: { until: 'count', expected: 2 } },
      {
        ...deps,
        sleep: async (ms) => {
          await deps.sleep?.(ms);
          polls += 1;
          if (polls === 3) await finish(store, state, b, 'failed');
        },
      },
    );

    expect(report).toMatchObject({
      complete: true,
      timedOut: false,
      counts: { inputs: 2, succeeded: 1, failed: 1, running: 0, pending: 0 },
    });
    expect(report.failures).toEqual([
      expect.objectContaining({ key: 'photos/b.jpg', failureClass: 'algorithm-exit', attempts: 1 }),
    ]);
    const results = await store.getJson({ bucket: 'out-bucket', key: resultsKey(state.runId) });
    expect(results?.value).toMatchObject({
      runId: state.runId,
      counts: { succeeded: 1, failed: 1 },
      tasks: [
        {
          key: 'photos/a.jpg',
          status: 'succeeded',
          outputs: [{ key: 'thumbs/photos/a.jpg/small.png' }],
          phases: { runMs: 1500 },
          wallMs: 2000,
        },
        {
          key: 'photos/b.jpg',
          status: 'failed',
          failureClass: 'algorithm-exit',
          logKey: expect.stringContaining('/logs/'),
        },
      ],
    });
  });

  it('until marker: waits for the end marker before it counts the run as complete', async () => {
    const { store, deps, state } = await provisioned();
    const a = await putInput(store, 'photos/a.jpg');
    await finish(store, state, a, 'succeeded');
    let polls = 0;
    const report = await collectResults(
      state,
      { until: { until: 'marker' } },
      {
        ...deps,
        sleep: async (ms) => {
          await deps.sleep?.(ms);
          polls += 1;
          if (polls === 2) await store.put({ bucket: 'in-bucket', key: endMarkerKey(state.runId) }, '');
        },
      },
    );
    expect(polls).toBe(2);
    expect(report.complete).toBe(true);
  });

  it('until idle: complete after idleSeconds without activity', async () => {
    const { clock, store, deps, state } = await provisioned();
    const a = await putInput(store, 'photos/a.jpg');
    await finish(store, state, a, 'succeeded');
    const start = clock.now();
    const report = await collectResults(state, { until: { until: 'idle', idleSeconds: 30 } }, deps);
    expect(report.complete).toBe(true);
    expect(clock.now() - start).toBeGreaterThanOrEqual(30_000);
    expect(clock.now() - start).toBeLessThan(60_000);
  });

  /** A run whose one task was running when SQS moved its message to the dead-letter queue. */
  async function lostInDeadLetter() {
    const provisionedRun = await provisioned();
    const { store, queues, state } = provisionedRun;
    const a = await putInput(store, 'photos/a.jpg');
    await finish(store, state, a, 'running');
    await dispatchTasks(state, { store, queues });
    const queue = queues.fakeQueue(state.queue.url ?? '');
    const [message] = await queue.receive();
    await queues.fakeQueue(state.deadLetterQueue.url ?? '').sendBatch([{ body: message?.body ?? '' }]);
    await queue.delete(message?.receiptHandle ?? '');
    return { ...provisionedRun, a };
  }

  it('gives a task lost in the dead-letter queue a failed "worker lost" record, and leaves the message there', async () => {
    const { store, queues, deps, state, a } = await lostInDeadLetter();

    const report = await collectResults(state, { until: { until: 'count', expected: 1 } }, deps);

    expect(report).toMatchObject({ complete: true, reconciled: 1, counts: { failed: 1 } });
    const record = await store.getJson({ bucket: 'out-bucket', key: taskRecordKey(state.runId, a.id) });
    const checked = validateTaskRecord(record?.value, 'record');
    expect(checked.status).toBe('failed');
    expect(checked.attempts.at(-1)).toMatchObject({
      attempt: 1,
      failureClass: 'infrastructure',
      message: 'worker lost',
    });
    expect(await queues.fakeQueue(state.deadLetterQueue.url ?? '').counts()).toMatchObject({ visible: 1 });
  });

  it('keeps the record of a worker that finishes while collect writes "worker lost" for its task', async () => {
    const { store, deps, state, a } = await lostInDeadLetter();
    // The worker's success lands between collect's read of the record and its write.
    const recordKey = taskRecordKey(state.runId, a.id);
    const putJson = store.putJson.bind(store);
    let late = true;
    store.putJson = async (ref, value, options) => {
      if (late && ref.key === recordKey && options?.ifMatch !== undefined) {
        late = false;
        await finish(store, state, a, 'succeeded');
      }
      return putJson(ref, value, options);
    };

    const report = await collectResults(state, { until: { until: 'count', expected: 1 } }, deps);

    expect(late).toBe(false);
    expect(report).toMatchObject({ complete: true, reconciled: 0, counts: { succeeded: 1, failed: 0 } });
    const record = validateTaskRecord(
      (await store.getJson({ bucket: 'out-bucket', key: recordKey }))?.value,
      'record',
    );
    expect(record.status).toBe('succeeded');
    expect(record.attempts.map((attempt) => attempt.message)).not.toContain('worker lost');
  });

  it('retryFailed moves dead-letter messages back as fresh task messages and waits for them again', async () => {
    const { store, queues, deps, state } = await provisioned();
    const a = await putInput(store, 'photos/a.jpg');
    await finish(store, state, a, 'failed');
    await queues.fakeQueue(state.deadLetterQueue.url ?? '').sendBatch([
      {
        body: JSON.stringify({
          sluice: 1,
          runId: state.runId,
          bucket: 'in-bucket',
          key: a.key,
          etag: a.etag,
          size: 1,
          attemptsUsed: 3,
        }),
      },
    ]);
    const queue = queues.fakeQueue(state.queue.url ?? '');
    const redriven: string[] = [];

    const report = await collectResults(
      state,
      { until: { until: 'count', expected: 1 }, retryFailed: true },
      {
        ...deps,
        sleep: async (ms) => {
          await deps.sleep?.(ms);
          // The runner: takes the re-driven message and succeeds this time.
          const [message] = await queue.receive();
          if (message === undefined) return;
          redriven.push(message.body);
          await finish(store, state, a, 'succeeded');
          await queue.delete(message.receiptHandle);
        },
      },
    );

    expect(redriven).toHaveLength(1);
    // Attempt numbers go on after the 3 used; the budget starts afresh from there.
    expect(JSON.parse(redriven[0] ?? '{}')).toMatchObject({ attemptsUsed: 3, retryFrom: 3 });
    expect(report).toMatchObject({ complete: true, retried: 1, counts: { succeeded: 1, failed: 0 } });
    expect(await queues.fakeQueue(state.deadLetterQueue.url ?? '').counts()).toMatchObject({
      visible: 0,
      inFlight: 0,
    });
  });

  it('gives up at the timeout and still writes results.json with the unfinished inputs', async () => {
    const { store, deps, state } = await provisioned();
    await putInput(store, 'photos/a.jpg');
    const report = await collectResults(
      state,
      { until: { until: 'count', expected: 1 }, timeoutSeconds: 60 },
      deps,
    );
    expect(report).toMatchObject({ complete: false, timedOut: true, counts: { pending: 1 } });
    const results = await store.getJson({ bucket: 'out-bucket', key: resultsKey(state.runId) });
    expect(results?.value).toMatchObject({ tasks: [{ key: 'photos/a.jpg', status: 'pending' }] });
  });
});

describe('teardownRun', () => {
  it('removes its notification (keeping others) and its queues, keeps the data, and is idempotent', async () => {
    const { store, queues, deps, state } = await provisioned();
    const other = {
      id: 'user-archive',
      queueArn: 'arn:aws:sqs:us-east-1:000000000000:archive',
      events: ['s3:ObjectCreated:*'],
      prefix: 'archive/',
    };
    const current = await store.getQueueNotifications('in-bucket');
    await store.putQueueNotifications('in-bucket', { queues: [...current.queues, other] });

    const first = await teardownRun(state.runId, deps);
    expect(first.found).toBe(true);
    expect(first.deleted).toEqual([
      `notification sluice-${state.runId} on s3://in-bucket`,
      `queue sluice-${state.runId}-tasks`,
      `queue sluice-${state.runId}-tasks-dlq`,
    ]);
    expect((await store.getQueueNotifications('in-bucket')).queues).toEqual([other]);
    expect(queues.names()).toEqual([]);
    expect(await store.bucketExists('out-bucket')).toBe(true);
    expect((await readRunState(store, 'out-bucket', state.runId))?.state).toBe('torn-down');

    const second = await teardownRun(state.runId, deps, { bucket: 'out-bucket' });
    expect(second.deleted).toEqual([]);
  });

  it('with deleteData deletes only the buckets the run created', async () => {
    const { store, deps, state } = await provisioned();
    await putInput(store, 'photos/a.jpg');
    await store.put({ bucket: 'out-bucket', key: 'thumbs/x' }, 'x');
    const report = await teardownRun(state.runId, deps, { deleteData: true });
    expect(report.deleted).toContain('bucket s3://out-bucket (2 objects)');
    expect(await store.bucketExists('out-bucket')).toBe(false);
    expect(await store.bucketExists('in-bucket')).toBe(true);
    expect(report.kept).toEqual(['bucket s3://in-bucket (not created by this run)']);
    expect(
      (await teardownRun(state.runId, deps, { deleteData: true, bucket: 'out-bucket' })).deleted,
    ).toEqual([]);
  });

  it('tears down a provision interrupted after its queues were made', async () => {
    const { store, queues, deps } = world();
    await store.ensureBucket('in-bucket');
    const job = makeJob();
    // Interrupted: the notification could not be set (the input bucket vanished meanwhile).
    const failing: RunDeps = {
      ...deps,
      store: Object.assign(Object.create(store) as FakeObjectStore, {
        getQueueNotifications: () => Promise.reject(new Error('connection reset')),
      }),
    };
    await expect(provisionRun(job, failing)).rejects.toThrow('connection reset');
    expect((await readRunState(store, 'out-bucket', runId(job)))?.state).toBe('provisioning');
    expect(queues.names()).toHaveLength(2);

    const report = await teardownRun(runId(job), deps);
    expect(report.deleted).toHaveLength(2);
    expect(queues.names()).toEqual([]);
  });
});

describe('readRunState of an ECS run', () => {
  const account = '123456789012';
  async function ecsState(change: (ecs: NonNullable<RunState['ecs']>) => NonNullable<RunState['ecs']>) {
    const { store, state } = await provisioned();
    const id = state.runId;
    const role = (kind: string): string => `arn:aws:iam::${account}:role/sluice/${id}/sluice-${id}-${kind}`;
    const ecs: NonNullable<RunState['ecs']> = {
      cluster: `arn:aws:ecs:eu-west-1:${account}:cluster/sluice`,
      taskDefinitionArn: `arn:aws:ecs:eu-west-1:${account}:task-definition/sluice-run-${id}:3`,
      roles: { task: role('task'), execution: role('execution'), watcher: role('watcher') },
      subnets: ['subnet-1'],
      securityGroups: ['sg-1'],
      assignPublicIp: false,
      logGroup: '/sluice/thumbnails',
      watcher: { functionName: `sluice-${id}-watch`, ruleName: `sluice-${id}-watch` },
    };
    await writeRunState(store, { ...state, backend: 'ecs', ecs: change(ecs) });
    return readRunState(store, 'out-bucket', id);
  }

  it("accepts the run's own task definition family and roles", async () => {
    await expect(ecsState((ecs) => ecs)).resolves.toMatchObject({ backend: 'ecs' });
  });

  it("refuses a task definition or a role that is not the run's: run.json was changed", async () => {
    const changes: ((ecs: NonNullable<RunState['ecs']>) => NonNullable<RunState['ecs']>)[] = [
      (ecs) => ({
        ...ecs,
        taskDefinitionArn: `arn:aws:ecs:eu-west-1:${account}:task-definition/admin-tools:1`,
      }),
      (ecs) => ({ ...ecs, taskDefinitionArn: ecs.taskDefinitionArn.replace(account, '999999999999') }),
      (ecs) => ({ ...ecs, roles: { ...ecs.roles, task: `arn:aws:iam::${account}:role/admin` } }),
      (ecs) => ({ ...ecs, roles: { ...ecs.roles, execution: ecs.roles.task } }),
      (ecs) => ({
        ...ecs,
        roles: { ...ecs.roles, watcher: ecs.roles.watcher.replace(account, '999999999999') },
      }),
    ];
    for (const change of changes) {
      const read = ecsState(change);
      await expect(read).rejects.toThrow(ConfigurationError);
      await expect(read).rejects.toThrow(/run\.json was changed.*provision/s);
    }
  });
});

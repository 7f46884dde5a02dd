// dispatchTasks at scale and `sluice run --upload`'s intake, against the fakes: pages are streamed
// (at most the current page and the next one held), batches go out several at once but never more
// than the bound, a failure keeps the counts of what was sent, and a run provisioned with
// `deferIntake` enqueues an uploaded batch once while later uploads still arrive by their events.
// (Here rather than in packages/core: see run-lifecycle.test.ts.) The same intake runs against moto
// in test/integration/run/dispatch-intake.test.ts.
import { describe, expect, it } from '@jest/globals';
import {
  ConfigurationError,
  dispatchTasks,
  parseJob,
  provisionRun,
  readRunState,
  teardownRun,
  type DeleteBatchResult,
  type DispatchProgress,
  type Job,
  type ListOptions,
  type ObjectSummary,
  type QueueCounts,
  type ReceiveOptions,
  type ReceivedMessage,
  type SendBatchResult,
  type SendEntry,
  type TaskQueue,
} from '@sluice/core';

import { FakeObjectStore } from './fake-object-store.js';
import { FakeRunQueues } from './fake-run-queues.js';
import { RecordingLogger } from './recording-logger.js';

const INPUT = 'in-bucket';

function makeJob(): Job {
  return parseJob(
    JSON.stringify({
      name: 'Thumbs',
      algorithm: 'thumbnails@1.0.0',
      input: { bucket: INPUT, prefix: 'photos/', include: ['**/*.jpg'] },
      output: { bucket: 'out-bucket', prefix: 'thumbs/' },
    }),
    'job.json',
  );
}

/** A store that counts the input listing's pages as they are taken. */
class CountingStore extends FakeObjectStore {
  inputPagesListed = 0;

  override async *list(
    bucket: string,
    prefix: string,
    options?: ListOptions,
  ): AsyncGenerator<readonly ObjectSummary[]> {
    for await (const page of super.list(bucket, prefix, options)) {
      if (bucket === INPUT) this.inputPagesListed += 1;
      yield page;
    }
  }
}

/** A task queue whose sends take a while (a round trip), recording what was in flight. */
class SlowQueue implements TaskQueue {
  inFlight = 0;
  maxInFlight = 0;
  batches = 0;
  /** Per send: the input pages listed when it started, and its first key. */
  readonly sends: { pagesListed: number; firstKey: string }[] = [];

  constructor(
    private readonly inner: TaskQueue,
    private readonly store: CountingStore,
    private readonly failAfterBatches = Infinity,
  ) {}

  async sendBatch(entries: readonly SendEntry[]): Promise<SendBatchResult> {
    const first = JSON.parse(entries[0]?.body ?? '{}') as { key?: string };
    this.sends.push({ pagesListed: this.store.inputPagesListed, firstKey: first.key ?? '' });
    this.batches += 1;
    if (this.batches > this.failAfterBatches) {
      throw new ConfigurationError('SQS.SendMessageBatch: access denied to the task queue');
    }
    this.inFlight += 1;
    this.maxInFlight = Math.max(this.maxInFlight, this.inFlight);
    try {
      await new Promise((resolve) => setTimeout(resolve, 2));
      return await this.inner.sendBatch(entries);
    } finally {
      this.inFlight -= 1;
    }
  }

  receive(options?: ReceiveOptions): Promise<readonly ReceivedMessage[]> {
    return this.inner.receive(options);
  }
  delete(receiptHandle: string): Promise<void> {
    return this.inner.delete(receiptHandle);
  }
  deleteBatch(receiptHandles: readonly string[]): Promise<DeleteBatchResult> {
    return this.inner.deleteBatch(receiptHandles);
  }
  changeVisibility(receiptHandle: string, timeoutSeconds: number): Promise<void> {
    return this.inner.changeVisibility(receiptHandle, timeoutSeconds);
  }
  counts(): Promise<QueueCounts> {
    return this.inner.counts();
  }
  purge(): Promise<void> {
    return this.inner.purge();
  }
}

/** Run queues whose task queue is a {@link SlowQueue}. */
class SlowRunQueues extends FakeRunQueues {
  slow: SlowQueue | undefined;

  constructor(
    private readonly store: CountingStore,
    private readonly failAfterBatches = Infinity,
  ) {
    super();
  }

  override taskQueue(url: string): TaskQueue {
    this.slow ??= new SlowQueue(super.taskQueue(url), this.store, this.failAfterBatches);
    return this.slow;
  }
}

async function provisionedWith(inputs: number, failAfterBatches = Infinity) {
  const store = new CountingStore();
  const queues = new SlowRunQueues(store, failAfterBatches);
  await store.ensureBucket(INPUT);
  for (let i = 0; i < inputs; i++) await store.put({ bucket: INPUT, key: inputKey(i) }, `photo ${i}`);
  const { state } = await provisionRun(makeJob(), { store, queues, buckets: store });
  return { store, queues, state };
}

function inputKey(i: number): string {
  return `photos/${String(i).padStart(4, '0')}.jpg`;
}

/** The input keys the queue's messages name: task messages and S3 events alike (TestEvents aside). */
function enqueuedKeys(bodies: readonly string[]): string[] {
  return bodies.flatMap((body) => {
    const message = JSON.parse(body) as {
      sluice?: number;
      key?: string;
      Records?: { s3: { object: { key: string } } }[];
    };
    if (message.sluice === 1) return [message.key ?? ''];
    return (message.Records ?? []).map((record) =>
      decodeURIComponent(record.s3.object.key.replace(/\+/g, ' ')),
    );
  });
}

describe('dispatchTasks at scale', () => {
  it('streams the listing a page ahead at most and keeps several batches, never more than 16, in flight', async () => {
    const { store, queues, state } = await provisionedWith(500);
    const progress: DispatchProgress[] = [];

    const report = await dispatchTasks(
      state,
      { store, queues },
      { pageSize: 20, onProgress: (p) => progress.push(p) },
    );

    expect(report).toMatchObject({ listed: 500, enqueued: 500, failed: 0 });
    const slow = queues.slow;
    expect(slow?.maxInFlight).toBe(16);
    // Each batch went out while at most its own page and the next one had been listed.
    for (const send of slow?.sends ?? []) {
      const page = Math.floor(Number(/(\d+)\.jpg$/.exec(send.firstKey)?.[1]) / 20) + 1;
      expect(send.pagesListed).toBeLessThanOrEqual(page + 1);
    }
    // One progress line per page and one at the end, as before.
    expect(progress.map((p) => p.listed)).toEqual([
      ...Array.from({ length: 25 }, (_, i) => (i + 1) * 20),
      500,
    ]);
    expect(progress.at(-1)).toMatchObject({ enqueued: 500 });
    const keys = enqueuedKeys(queues.fakeQueue(state.queue.url ?? '').bodies());
    expect(new Set(keys).size).toBe(500);
  });

  it('keeps what was sent when a send fails for good: the counts so far, and a warning to dispatch again', async () => {
    const { store, queues, state } = await provisionedWith(200, 5);
    const logger = new RecordingLogger();
    const progress: DispatchProgress[] = [];

    const dispatching = dispatchTasks(
      state,
      { store, queues, logger },
      { pageSize: 50, onProgress: (p) => progress.push(p) },
    );

    await expect(dispatching).rejects.toThrow(ConfigurationError);
    expect(progress.at(-1)).toMatchObject({ enqueued: 50, failed: 0 });
    expect(queues.fakeQueue(state.queue.url ?? '').bodies()).toHaveLength(50);
    expect(logger.lines.join('\n')).toMatch(/enqueuing 50 .*access denied.*dispatch again/);
  });
});

describe('intake of `sluice run --upload` (provision with deferIntake, upload, dispatch)', () => {
  async function uploadThenDispatch(deferIntake: boolean) {
    const store = new FakeObjectStore();
    const queues = new FakeRunQueues();
    await store.ensureBucket(INPUT);
    // Files already in the bucket before the run.
    for (const key of ['photos/old-1.jpg', 'photos/old-2.jpg']) await store.put({ bucket: INPUT, key }, key);
    const { state } = await provisionRun(makeJob(), { store, queues, buckets: store }, { deferIntake });
    store.connectQueue(state.queue.arn ?? '', queues.fakeQueue(state.queue.url ?? ''));
    const batch = Array.from({ length: 30 }, (_, i) => inputKey(i));
    for (const key of batch) await store.put({ bucket: INPUT, key }, key);
    const report = await dispatchTasks(state, { store, queues });
    return { store, queues, state, batch, report };
  }

  it('enqueues each uploaded file once, files already there by the listing, and later uploads by their events', async () => {
    const { store, queues, state, batch, report } = await uploadThenDispatch(true);
    await store.put({ bucket: INPUT, key: 'photos/later.jpg' }, 'later');

    const keys = enqueuedKeys(queues.fakeQueue(state.queue.url ?? '').bodies());

    expect(report).toMatchObject({ listed: 32, enqueued: 32 });
    expect(keys.sort()).toEqual(
      [...batch, 'photos/later.jpg', 'photos/old-1.jpg', 'photos/old-2.jpg'].sort(),
    );
    expect((await readRunState(store, 'out-bucket', state.runId))?.notification.installed).toBe(true);
    expect((await store.getQueueNotifications(INPUT)).queues).toHaveLength(1);
  });

  it('without deferIntake (the notification installed at provision) the batch is enqueued twice', async () => {
    const { queues, state, batch } = await uploadThenDispatch(false);

    const keys = enqueuedKeys(queues.fakeQueue(state.queue.url ?? '').bodies());

    expect(keys).toHaveLength(2 * batch.length + 2);
  });

  it('a deferred run has no notification until dispatch, and provisioning it again keeps an installed one', async () => {
    const store = new FakeObjectStore();
    const queues = new FakeRunQueues();
    const deps = { store, queues, buckets: store };
    await store.ensureBucket(INPUT);

    const first = await provisionRun(makeJob(), deps, { deferIntake: true });

    expect(first.state.notification.installed).toBe(false);
    expect((await store.getQueueNotifications(INPUT)).queues).toEqual([]);
    await dispatchTasks(first.state, deps);
    const again = await provisionRun(makeJob(), deps, { deferIntake: true });
    expect(again.state.notification.installed).toBe(true);
    expect((await store.getQueueNotifications(INPUT)).queues).toHaveLength(1);
  });

  it('defers again when a torn-down run is provisioned anew (its run.json still says installed)', async () => {
    const store = new FakeObjectStore();
    const queues = new FakeRunQueues();
    const deps = { store, queues, buckets: store };
    await store.ensureBucket(INPUT);
    const first = await provisionRun(makeJob(), deps);
    await teardownRun(first.runId, deps);

    const again = await provisionRun(makeJob(), deps, { deferIntake: true });

    expect(again.state.notification.installed).toBe(false);
    expect((await store.getQueueNotifications(INPUT)).queues).toEqual([]);
  });
});

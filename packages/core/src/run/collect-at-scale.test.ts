// Collect at scale, against a synthetic ObjectStore that makes up 100,000 inputs, their records and
// markers on the fly (no per-object storage, so the heap it measures is collect's own), and counts
// every request by operation.
import { createReadStream } from 'node:fs';
import { createInterface } from 'node:readline';
import { runInNewContext } from 'node:vm';
import { setFlagsFromString } from 'node:v8';

import { describe, expect, it } from '@jest/globals';

import { completionMarkerKey, ledgerPrefix, taskLogKey, taskRecordKey } from '../ids/ledger-keys.js';
import { taskId } from '../ids/task-id.js';
import { silentLogger } from '../logging/logger.js';
import { normalizeJob } from '../schemas/job.js';
import type { TaskRecord } from '../schemas/records.js';
import type { RunState } from '../schemas/run-state.js';
import type {
  ObjectRef,
  ObjectStore,
  ObjectSummary,
  ListOptions,
  PutOptions,
  PutResult,
} from '../storage/object-store.js';
import { LEDGER_PAGES_PER_POLL, Tracker } from './collect-tracker.js';
import { storedJob } from './run-state.js';
import { MAX_REPORTED_FAILURES } from './collect-report.js';
import { renderReportHtml } from './report-html.js';
import { writeResults } from './results-file.js';
import { readLogTails, REPORT_FAILURES, REPORT_TIME_BUCKETS, RunReportBuilder } from './run-report.js';

const RUN_ID = 'thumbs-0123abcd';
const IN = 'in-bucket';
const OUT = 'out-bucket';
const T0 = Date.parse('2025-01-01T00:00:00.000Z');

const job = normalizeJob({
  name: 'Thumbs',
  algorithm: 'thumbnails@1.0.0',
  input: { bucket: IN, prefix: 'photos', include: ['**/*.jpg'] },
  output: { bucket: OUT, prefix: 'thumbs' },
});

const run: RunState = {
  schemaVersion: 1,
  runId: RUN_ID,
  jobName: 'Thumbs',
  state: 'provisioned',
  createdAt: '2025-01-01T00:00:00.000Z',
  updatedAt: '2025-01-01T00:00:00.000Z',
  job: storedJob(job),
  algorithm: { ref: 'thumbnails@1.0.0' },
  backend: 'local',
  keep: false,
  input: { bucket: IN, prefix: 'photos/', include: ['**/*.jpg'] },
  output: { bucket: OUT, prefix: 'thumbs/' },
  buckets: { input: { name: IN, created: false }, output: { name: OUT, created: true } },
  queue: {
    name: 'q',
    url: 'http://queue/tasks',
    created: true,
    visibilityTimeoutSeconds: 60,
    maxReceiveCount: 3,
  },
  deadLetterQueue: { name: 'dlq', url: 'http://queue/dlq', created: true },
  notification: { id: 'n', bucket: IN, prefix: 'photos/', installed: true },
};

const PENDING = 0;
const RUNNING = 1;
const SUCCEEDED = 2;
const FAILED = 3;
const CLASSES = ['algorithm-exit', 'timeout', 'out-of-memory'] as const;

/**
 * An output bucket's ledger and an input prefix of `n` objects, made up from each input's index:
 * a state and a record version per input are all it stores.
 */
class ScaleStore implements ObjectStore {
  readonly requests = new Map<string, number>();
  readonly state: Uint8Array;
  readonly version: Uint16Array;
  readonly ids: string[];
  private readonly byId = new Map<string, number>();
  /** Input indexes in task-id order: the order of the ledger's listings. */
  private readonly inIdOrder: Uint32Array;
  uploaded = '';
  put_: { key: string; body: string }[] = [];
  onGet: (() => void) | undefined;

  constructor(readonly n: number) {
    this.state = new Uint8Array(n);
    this.version = new Uint16Array(n);
    this.ids = Array.from({ length: n }, (_, i) => taskId({ bucket: IN, key: inputKey(i), etag: etagOf(i) }));
    this.ids.forEach((id, i) => this.byId.set(id, i));
    this.inIdOrder = Uint32Array.from(
      Array.from({ length: n }, (_, i) => i).sort((a, b) => compare(this.ids[a] ?? '', this.ids[b] ?? '')),
    );
  }

  set(i: number, state: number): void {
    this.state[i] = state;
    this.version[i] = (this.version[i] ?? 0) + 1;
  }

  resetCounts(): void {
    this.requests.clear();
  }

  count(operation: string, bucket = OUT): void {
    operation = `${operation} ${bucket}`;
    this.requests.set(operation, (this.requests.get(operation) ?? 0) + 1);
  }

  total(): number {
    return [...this.requests.values()].reduce((a, b) => a + b, 0);
  }

  async *list(
    bucket: string,
    prefix: string,
    options: ListOptions = {},
  ): AsyncIterable<readonly ObjectSummary[]> {
    const after = options.startAfter;
    if (bucket === IN) {
      let start = after === undefined ? 0 : Number(/(\d+)\.jpg$/.exec(after)?.[1] ?? -1) + 1;
      for (;;) {
        this.count('list', IN);
        await Promise.resolve();
        const page: ObjectSummary[] = [];
        for (let i = start; i < this.n && page.length < 1000; i += 1)
          page.push({ key: inputKey(i), etag: etagOf(i), size: 100 });
        start += page.length;
        if (page.length > 0) yield page;
        if (start >= this.n) return;
      }
    }
    const ledger = ledgerPrefix(RUN_ID);
    const kind = prefix === `${ledger}done/` ? 'done' : prefix === `${ledger}tasks/` ? 'tasks' : undefined;
    if (kind === undefined) throw new Error(`unexpected listing ${prefix}`);
    let position = 0;
    if (after !== undefined) {
      const afterId = after.slice(after.lastIndexOf('/') + 1).replace(/\.json$/, '');
      let lo = 0;
      let hi = this.n;
      while (lo < hi) {
        const mid = (lo + hi) >> 1;
        if (compare(this.ids[this.inIdOrder[mid] ?? 0] ?? '', afterId) <= 0) lo = mid + 1;
        else hi = mid;
      }
      position = lo;
    }
    for (;;) {
      this.count('list');
      const page: ObjectSummary[] = [];
      while (position < this.n && page.length < 1000) {
        const i = this.inIdOrder[position] ?? 0;
        position += 1;
        const state = this.state[i] ?? PENDING;
        if (kind === 'done' ? state !== SUCCEEDED : state === PENDING) continue;
        const key =
          kind === 'done'
            ? completionMarkerKey(RUN_ID, this.ids[i] ?? '')
            : taskRecordKey(RUN_ID, this.ids[i] ?? '');
        page.push({ key, etag: kind === 'done' ? 'm' : `r${this.version[i]}`, size: 500 });
      }
      if (page.length > 0) yield page;
      if (position >= this.n) return;
    }
  }

  private indexOf(key: string): { kind: string; i: number } | undefined {
    const match = /\/(tasks|done|logs)\/([a-f0-9]+)/.exec(key);
    const i = match === null ? undefined : this.byId.get(match[2] ?? '');
    return i === undefined ? undefined : { kind: match?.[1] ?? '', i };
  }

  getJson(ref: ObjectRef): Promise<{ readonly value: unknown; readonly etag: string } | undefined> {
    this.count('get');
    this.onGet?.();
    const found = this.indexOf(ref.key);
    if (found === undefined) return Promise.resolve(undefined);
    const state = this.state[found.i] ?? PENDING;
    if (state === PENDING) return Promise.resolve(undefined);
    if (found.kind === 'done') {
      if (state !== SUCCEEDED) return Promise.resolve(undefined);
      return Promise.resolve({ value: { outputs: [] }, etag: 'm' });
    }
    return Promise.resolve({
      value: recordOf(found.i, this.ids[found.i] ?? '', state),
      etag: `r${this.version[found.i]}`,
    });
  }

  getText(ref: ObjectRef): Promise<{ text: string; etag: string } | undefined> {
    this.count('get');
    const lines = Array.from({ length: 40 }, (_, n) => `line ${n + 1} of ${ref.key}`);
    return Promise.resolve({ text: `${lines.join('\n')}\n`, etag: 'l' });
  }

  head(
    ref: ObjectRef,
  ): Promise<
    undefined | { bucket: string; key: string; size: number; etag: string; metadata: Record<string, string> }
  > {
    this.count('head');
    const found = this.indexOf(ref.key);
    if (found === undefined) return Promise.resolve(undefined);
    const state = this.state[found.i] ?? PENDING;
    const exists = found.kind === 'done' ? state === SUCCEEDED : state !== PENDING;
    return Promise.resolve(exists ? { ...ref, size: 1, etag: 'm', metadata: {} } : undefined);
  }

  async upload(_ref: ObjectRef, filePath: string): Promise<PutResult> {
    this.count('put');
    this.uploaded = filePath;
    // Read back while the file still exists: the task lines and their statuses, streamed.
    this.uploadedCounts = await countStatuses(filePath);
    return { etag: 'u' };
  }

  uploadedCounts: Record<string, number> = {};

  put(ref: ObjectRef, body: string | Uint8Array, _options?: PutOptions): Promise<PutResult> {
    this.count('put');
    this.put_.push({
      key: ref.key,
      body: typeof body === 'string' ? body : Buffer.from(body).toString('utf8'),
    });
    return Promise.resolve({ etag: 'p' });
  }

  putJson(): Promise<PutResult> {
    throw new Error('not used');
  }
  putIfAbsent(): Promise<PutResult | undefined> {
    throw new Error('not used');
  }
  download(): Promise<never> {
    throw new Error('not used');
  }
  copy(): Promise<PutResult> {
    throw new Error('not used');
  }
  deleteMany(): Promise<never> {
    throw new Error('not used');
  }
  bucketExists(): Promise<boolean> {
    throw new Error('not used');
  }
  ensureBucket(): Promise<never> {
    throw new Error('not used');
  }
  getQueueNotifications(): Promise<never> {
    throw new Error('not used');
  }
  putQueueNotifications(): Promise<void> {
    throw new Error('not used');
  }
}

function compare(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

function inputKey(i: number): string {
  return `photos/${String(i).padStart(7, '0')}.jpg`;
}

function etagOf(i: number): string {
  return i.toString(16).padStart(32, '0');
}

function recordOf(i: number, id: string, state: number): TaskRecord {
  const started = T0 + i * 50;
  const runMs = 1000 + ((i * 7919) % 5000);
  const failed = state === FAILED;
  return {
    schemaVersion: 1,
    runId: RUN_ID,
    taskId: id,
    input: { bucket: IN, key: inputKey(i), etag: etagOf(i) },
    status: state === SUCCEEDED ? 'succeeded' : failed ? 'failed' : 'running',
    algorithmDigest: `sha256:${'a'.repeat(64)}`,
    attempts: [
      {
        attempt: 1,
        workerId: `w${i % 8}`,
        startedAt: new Date(started).toISOString(),
        ...(state !== RUNNING && { endedAt: new Date(started + runMs + 30).toISOString() }),
        phases: { downloadMs: 10, runMs, uploadMs: 20 },
        ...(failed && {
          failureClass: CLASSES[i % CLASSES.length],
          exitCode: 3,
          message: `exit 3 <b>&</b> ${i}`,
        }),
        logKey: taskLogKey(RUN_ID, id, 1),
      },
    ],
    outputs: state === SUCCEEDED ? [{ key: `thumbs/${i}.png`, size: 10, etag: 'o' }] : [],
    updatedAt: new Date(started).toISOString(),
  };
}

async function countStatuses(file: string): Promise<Record<string, number>> {
  const counts: Record<string, number> = {};
  const lines = createInterface({ input: createReadStream(file, 'utf8'), crlfDelay: Infinity });
  for await (const line of lines) {
    const status = /"status":"(\w+)"/.exec(line)?.[1];
    if (status !== undefined && line.startsWith('{"key"')) counts[status] = (counts[status] ?? 0) + 1;
  }
  return counts;
}

/** `global.gc`, made available without `--expose-gc` on the command line. */
function gcFunction(): () => void {
  setFlagsFromString('--expose-gc');
  return runInNewContext('gc') as () => void;
}

function heapAfterGc(gc: () => void): number {
  gc();
  gc();
  return process.memoryUsage().heapUsed;
}

/** The heap once pending callbacks have run (what they hold is not the code's own) and after gc. */
async function settledHeap(gc: () => void): Promise<number> {
  await new Promise((resolve) => setTimeout(resolve, 50));
  return heapAfterGc(gc);
}

const N = 100_000;

/** The run mid-way: half succeeded, 1 % failed, the rest running or not started. */
function midRun(store: ScaleStore): void {
  for (let i = 0; i < store.n; i += 1) {
    store.set(i, i % 2 === 0 ? SUCCEEDED : i % 100 === 1 ? FAILED : i % 3 === 0 ? RUNNING : PENDING);
  }
}

/** Requests of one poll, by operation and bucket. */
async function poll(store: ScaleStore, tracker: Tracker): Promise<Record<string, number>> {
  store.resetCounts();
  await tracker.scan();
  return Object.fromEntries(store.requests);
}

function truth(store: ScaleStore): { succeeded: number; failed: number; unfinished: number } {
  let succeeded = 0;
  let failed = 0;
  for (const state of store.state) {
    if (state === SUCCEEDED) succeeded += 1;
    else if (state === FAILED) failed += 1;
  }
  return { succeeded, failed, unfinished: store.n - succeeded - failed };
}

describe('collect at scale (100,000 inputs, synthetic store)', () => {
  // First: the heap it measures must not hold what an earlier test left.
  it('writes results.json and report.html of 100,000 tasks in bounded memory', async () => {
    const gc = gcFunction();
    const started = Date.now();
    const store = new ScaleStore(N);
    for (let i = 0; i < N; i += 1) store.set(i, i % 50 === 7 ? FAILED : SUCCEEDED);
    const before = await settledHeap(gc);
    // The tracker's index: one small entry per input, the one thing that grows with the run.
    const tracker = new Tracker(run, store, silentLogger);
    tracker.inputsComplete();
    for (let p = 0; p < 11; p += 1) await tracker.scan();
    expect(tracker.counts()).toMatchObject({ succeeded: N - N / 50, failed: N / 50 });
    const tracked = await settledHeap(gc);
    const scanned = Date.now();
    let peak = Number.NEGATIVE_INFINITY;
    let gets = 0;
    store.onGet = () => {
      gets += 1;
      if (gets % 20_000 === 0) peak = Math.max(peak, heapAfterGc(gc));
    };

    const builder = new RunReportBuilder();
    const written = await writeResults(run, tracker, store, () => T0 + 3_600_000, builder);
    const meta = {
      runId: RUN_ID,
      generatedAt: T0,
      counts: tracker.counts(),
      complete: true,
      timedOut: false,
    };
    const data = await readLogTails(builder.data({ ...meta, results: written.uri }), store, OUT);
    const html = renderReportHtml(data, { secrets: ['exit 3 <b>'] });
    peak = Math.max(peak, await settledHeap(gc));
    const wrote = Date.now();

    expect(store.uploadedCounts).toEqual({ succeeded: N - N / 50, failed: N / 50 });
    expect(written.failures.length).toBeLessThanOrEqual(MAX_REPORTED_FAILURES);
    expect(data.throughput.length).toBeLessThanOrEqual(REPORT_TIME_BUCKETS);
    expect(data.throughput.reduce((sum, b) => sum + b.succeeded + b.failed, 0)).toBe(N);
    expect(data.failures.length).toBeLessThanOrEqual(REPORT_FAILURES + CLASSES.length);
    expect(data.failureClasses.reduce((sum, c) => sum + c.count, 0)).toBe(N / 50);
    expect(html).toContain('<td data-count="failed">2000</td>');
    // Keys and messages are escaped, and the secret masked.
    expect(html).not.toContain('<b>');
    expect(html).toContain('***&amp;&lt;/b&gt;');
    expect(Buffer.byteLength(html)).toBeLessThan(300_000);

    const mib = (bytes: number): string => `${(bytes / 2 ** 20).toFixed(1)} MiB`;
    console.log(
      `100,000 tasks: tracker index ${mib(tracked - before)} (${Math.round((tracked - before) / N)} B per input, ` +
        `${Math.round((scanned - started) / 1000)} s); peak while writing results.json and report.html ` +
        `${Math.round((peak - tracked) / 1024)} KiB above it (${Math.round((wrote - scanned) / 1000)} s)`,
    );
    // Writing adds a bounded amount on top of the index (windows of 256 entries, top-N lists, buckets).
    expect(peak - tracked).toBeLessThan(16 * 2 ** 20);
    expect(tracked - before).toBeLessThan(N * 600);
    expect(tracker.tasks.size).toBe(N);
  });

  it('a poll costs a bounded number of requests, and every change is seen within one pass', async () => {
    const store = new ScaleStore(N);
    midRun(store);
    const tracker = new Tracker(run, store, silentLogger);
    const figures: string[] = [];
    figures.push(`first poll: ${JSON.stringify(await poll(store, tracker))}`);
    tracker.inputsComplete();
    // The input is listed once more after it is complete, then no more.
    expect((await poll(store, tracker))['list in-bucket']).toBe(100);
    for (let p = 0; p < 12; p += 1) {
      const requests = await poll(store, tracker);
      expect(requests['list in-bucket']).toBeUndefined();
      expect(requests['list out-bucket'] ?? 0).toBeLessThanOrEqual(2 * LEDGER_PAGES_PER_POLL + 1);
    }
    // Caught up: a pass (100,000 records in windows of 10,000) has seen every task.
    expect(tracker.counts()).toMatchObject({
      succeeded: truth(store).succeeded,
      failed: truth(store).failed,
    });

    // Mid-run: 100 tasks succeed and 10 fail between two polls.
    for (let i = 1; i < 200; i += 2) store.set(i, SUCCEEDED);
    for (let i = 1005; i < 3000; i += 200) store.set(i, FAILED);
    const mid = await poll(store, tracker);
    figures.push(`a mid-run poll: ${JSON.stringify(mid)}`);
    expect(mid['list out-bucket']).toBeLessThanOrEqual(2 * LEDGER_PAGES_PER_POLL + 1);
    expect(mid['list in-bucket']).toBeUndefined();

    // End-game: all but 20 final. Within one pass of polls collect knows it, then looks at the 20.
    const stragglers = Array.from({ length: 20 }, (_, k) => 50_003 + 2000 * k);
    for (let i = 0; i < N; i += 1) if ((store.state[i] ?? 0) < SUCCEEDED) store.set(i, SUCCEEDED);
    for (const i of stragglers) store.set(i, RUNNING);
    let polls = 0;
    while (tracker.counts().running + tracker.counts().pending > 20 && polls < 12) {
      await poll(store, tracker);
      polls += 1;
    }
    expect(polls).toBeLessThanOrEqual(11);
    const end = await poll(store, tracker);
    figures.push(`an end-game poll (20 unfinished): ${JSON.stringify(end)}`);
    expect(end).toEqual({ 'head out-bucket': 20, 'get out-bucket': 20 });
    for (const i of stragglers) store.set(i, FAILED);
    await poll(store, tracker);
    expect(tracker.counts()).toMatchObject({ running: 0, pending: 0, failed: truth(store).failed });
    console.log(`collect requests per poll, 100,000 inputs: ${figures.join('; ')}`);
  });
});

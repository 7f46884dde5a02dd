// `sluice serve` with fake steps: it serves until interrupted, stops the runners, never tears down,
// and refuses the ECS backend before anything is made.
import { describe, expect, it } from '@jest/globals';
import {
  ConfigurationError,
  InterruptedError,
  SluiceError,
  parseJob,
  provisionRun,
  runId,
  taskId,
  taskRecordKey,
  type CollectProgress,
  type TaskRecord,
} from '@sluice/core';
import type { CollectStepOptions, StepContext } from '@sluice/orchestrator';
import { FakeObjectStore, FakeRunQueues } from '@sluice/testing';
import { Command } from 'commander';

import type { CommandContext } from '../context.js';
import { ExitCode } from '../exit-codes.js';
import { runCli } from '../program.js';
import { registerServe, type ServeCommandDeps } from './serve.js';

const DIGEST = `sha256:${'a'.repeat(64)}`;

function jobText(backend: 'local' | 'ecs' = 'local'): string {
  return JSON.stringify({
    name: 'thumbnails',
    algorithm: 'thumbnails@1.0.0',
    input: { bucket: 'in-bucket', prefix: 'photos/' },
    output: { bucket: 'out-bucket' },
    compute: { backend },
  });
}

function progress(rest: Partial<CollectProgress> = {}): CollectProgress {
  return {
    phase: 'waiting-for-input',
    inputs: 5,
    succeeded: 3,
    failed: 1,
    running: 1,
    pending: 0,
    queued: 0,
    inFlight: 1,
    deadLetter: 0,
    elapsedMs: 1000,
    ...rest,
  };
}

const RUN_ID = runId(parseJob(jobText(), 'job.json'));

/** A succeeded record of `key`, as a runner writes it. */
async function putSucceeded(store: FakeObjectStore, key: string): Promise<void> {
  const { etag } = await store.put({ bucket: 'in-bucket', key }, `content of ${key}`);
  const id = taskId({ bucket: 'in-bucket', key, etag });
  const record: TaskRecord = {
    schemaVersion: 1,
    runId: RUN_ID,
    taskId: id,
    input: { bucket: 'in-bucket', key, etag },
    status: 'succeeded',
    algorithmDigest: DIGEST,
    attempts: [{ attempt: 1, workerId: 'w1', startedAt: '2025-01-01T00:00:00.000Z', phases: {} }],
    outputs: [{ key: `${key}/small.jpg`, size: 3, etag: 'x' }],
    updatedAt: '2025-01-01T00:00:02.000Z',
  };
  await store.putJson({ bucket: 'out-bucket', key: taskRecordKey(RUN_ID, id) }, record);
}

/**
 * A collect that reports `reports`, calling `tick` before each (to move a clock), and then waits,
 * as the real one does, until the stop.
 */
function collectUntilStopped(
  reports: readonly CollectProgress[] = [progress()],
  tick: () => void = () => undefined,
): ServeCommandDeps['collect'] {
  return (_target, _options, context, onProgress) => {
    for (const report of reports) {
      tick();
      onProgress?.(report);
    }
    return new Promise((_, reject) => {
      context.signal?.addEventListener('abort', () => {
        reject(new InterruptedError('collect'));
      });
    });
  };
}

interface World {
  readonly deps: ServeCommandDeps;
  readonly steps: string[];
  readonly collectOptions: CollectStepOptions[];
  readonly contexts: StepContext[];
  readonly stderr: string[];
  /** Sends SIGTERM to serve, as `kill` would. */
  readonly interrupt: () => void;
  listening: boolean;
  /** What deps.now() returns, in ms. */
  time: number;
}

async function world(
  overrides: Partial<ServeCommandDeps> = {},
  options: { isTTY?: boolean } = {},
): Promise<World> {
  // A provisioned run, one file done, two uploaded while serve stops (waiting for the next serve).
  const store = new FakeObjectStore();
  const queues = new FakeRunQueues();
  await store.ensureBucket('in-bucket');
  const { state } = await provisionRun(
    parseJob(jobText(), 'job.json'),
    { store, queues, buckets: store },
    { algorithm: { digest: DIGEST } },
  );
  const url = state.queue.url ?? '';
  await queues.taskQueue(url).sendBatch([{ body: 'a' }, { body: 'b' }]);
  await putSucceeded(store, 'photos/done.jpg');
  let listener: ((signal: NodeJS.Signals) => void) | undefined;
  const w: World = {
    time: 0,
    steps: [],
    collectOptions: [],
    contexts: [],
    stderr: [],
    listening: false,
    interrupt: () => listener?.('SIGTERM'),
    deps: {
      provision: (jobPath, context) => {
        w.steps.push(`provision ${jobPath}`);
        w.contexts.push(context);
        return Promise.resolve({
          runId: RUN_ID,
          queueUrl: url,
          uploadTo: 's3://in/photos/',
          endMarker: `s3://in/_sluice/${RUN_ID}/end`,
          warnings: [],
        });
      },
      dispatch: () => {
        w.steps.push('dispatch');
        return Promise.resolve({
          runId: RUN_ID,
          listed: 2,
          enqueued: 2,
          skippedDone: 0,
          skippedFiltered: 0,
          failed: 0,
          workers: 2,
        });
      },
      collect: (target, collectOptions, context, onProgress) => {
        w.steps.push('collect');
        w.collectOptions.push(collectOptions);
        w.contexts.push(context);
        setTimeout(w.interrupt, 10);
        return collectUntilStopped([progress()], () => (w.time += 80_000))(
          target,
          collectOptions,
          context,
          onProgress,
        );
      },
      teardown: () => {
        w.steps.push('teardown');
        return Promise.reject(new Error('serve must never tear down'));
      },
      uploadDirectory: () => Promise.reject(new Error('serve uploads nothing')),
      putMarker: () => Promise.reject(new Error('serve puts no marker')),
      workers: () =>
        Promise.resolve({
          count: () => Promise.resolve({ running: 2, finished: 0, failed: 0 }),
          stop: (runId) => {
            w.steps.push(`stop runners ${runId}`);
            return Promise.resolve(2);
          },
        }),
      connect: () => ({ deps: { store, queues }, close: () => undefined }),
      env: {},
      progress: {
        write: (text) => {
          w.stderr.push(text);
        },
        isTTY: options.isTTY ?? false,
      },
      now: () => w.time,
      onInterrupt: (l) => {
        listener = l;
        w.listening = true;
        return () => {
          listener = undefined;
          w.listening = false;
        };
      },
      ...overrides,
    },
  };
  return w;
}

async function serve(
  args: string[],
  deps: ServeCommandDeps,
  job = jobText(),
): Promise<{ code: ExitCode; out: string; err: string; error?: unknown }> {
  let out = '';
  let err = '';
  const context: CommandContext = {
    io: {
      out: (text) => (out += text),
      err: (text) => (err += text),
      readFile: (path) =>
        path === 'job.json' ? Promise.resolve(job) : Promise.reject(new Error(`ENOENT: ${path}`)),
    },
    exitCode: ExitCode.ok,
  };
  const program = new Command('sluice')
    .exitOverride()
    .configureOutput({ writeOut: context.io.out, writeErr: context.io.err });
  registerServe(program, context, deps);
  try {
    await program.parseAsync(['serve', ...args], { from: 'user' });
    return { code: context.exitCode, out, err };
  } catch (thrown: unknown) {
    return { code: ExitCode.fault, out, err, error: thrown };
  }
}

describe('sluice serve', () => {
  it('says where to upload, serves until SIGTERM, stops the runners and keeps the run (exit 0)', async () => {
    const w = await world();

    const result = await serve(['job.json'], w.deps);

    expect(result.error).toBeUndefined();
    expect(result.code).toBe(0);
    expect(w.steps).toEqual(['provision job.json', 'dispatch', 'collect', `stop runners ${RUN_ID}`]);
    const stderr = w.stderr.join('');
    expect(stderr).toContain(
      `run ${RUN_ID}: serving — upload files to s3://in/photos/ and they are processed as they arrive; ` +
        'stop with Ctrl-C or SIGTERM (the run stays provisioned)\n',
    );
    expect(stderr).toContain(
      'dispatched: 2 listed, 2 enqueued, 0 already done, 0 not inputs; 2 worker(s) running',
    );
    expect(stderr).toContain('serving: 3 done, 1 failed, 1 running, 0 queued — 5 input(s), up ');
    expect(stderr).toContain(
      'SIGTERM: stopping — the runners hand their tasks back, the run stays provisioned',
    );
    expect(result.out).toBe(
      `run ${RUN_ID}: stopped serving after 1m20s; 2 runner container(s) stopped; 1 succeeded, 0 failed so far\n` +
        'left in the queue: 2 task(s); they, and files uploaded from now on, wait for the next `sluice serve job.json`\n' +
        'kept: queues, notification and records; to tear the run down: sluice teardown job.json\n',
    );
    expect(w.listening).toBe(false);
  });

  it('runs the local backend, with a collect that never ends by itself and sees the stop', async () => {
    const w = await world();

    await serve(['job.json', '--backend', 'local'], w.deps);

    expect(w.contexts.map((context) => context.backend)).toEqual(['local', 'local']);
    expect(w.contexts.every((context) => context.signal?.aborted === true)).toBe(true);
    const [options] = w.collectOptions;
    expect(options?.until).toBe('count');
    expect(options?.expectedCount).toBe(Number.MAX_SAFE_INTEGER);
    expect(options?.timeoutSeconds).toBeGreaterThanOrEqual(365 * 24 * 3600);
  });

  it('starts collect again should it ever return, until stopped', async () => {
    let calls = 0;
    const w = await world();
    const deps: ServeCommandDeps = {
      ...w.deps,
      collect: (target, options, context, onProgress) => {
        calls += 1;
        if (calls < 3)
          return Promise.resolve({ report: {} as never, summaryMarkdown: '', summaryOptions: {} });
        setTimeout(w.interrupt, 10);
        return collectUntilStopped()(target, options, context, onProgress);
      },
    };

    const result = await serve(['job.json'], deps);

    expect(calls).toBe(3);
    expect(result.code).toBe(0);
  });

  it('prints a plain status line at most every --status-every seconds without a terminal', async () => {
    const reports = [
      progress({ succeeded: 1 }),
      progress({ succeeded: 2 }), // 20 s later: not shown (--status-every 30)
      progress({ succeeded: 3 }), // 40 s after the first: shown
    ];
    const w = await world();
    const deps: ServeCommandDeps = {
      ...w.deps,
      collect: (target, options, context, onProgress) => {
        setTimeout(w.interrupt, 10);
        return collectUntilStopped(reports, () => (w.time += 20_000))(target, options, context, onProgress);
      },
    };

    await serve(['job.json', '--status-every', '30'], deps);

    const lines = w.stderr
      .join('')
      .split('\n')
      .filter((line) => line.startsWith('serving:'));
    expect(lines.map((line) => line.replace(/ — .*/, ''))).toEqual([
      'serving: 1 done, 1 failed, 1 running, 0 queued',
      'serving: 3 done, 1 failed, 1 running, 0 queued',
    ]);
  });

  it('redraws the status line in place on a terminal', async () => {
    const w = await world({}, { isTTY: true });

    await serve(['job.json'], w.deps);

    expect(w.stderr.join('')).toContain('\r\x1b[2Kserving: 3 done, 1 failed, 1 running, 0 queued');
  });

  it('stopped while provisioning: dispatches nothing, exits 0 with the run kept', async () => {
    const w = await world();
    const deps: ServeCommandDeps = {
      ...w.deps,
      provision: (jobPath, context) => {
        w.interrupt();
        return w.deps.provision(jobPath, context);
      },
    };

    const result = await serve(['job.json'], deps);

    expect(w.steps).toEqual(['provision job.json', `stop runners ${RUN_ID}`]);
    expect(result.code).toBe(0);
    expect(result.out).toContain('to tear the run down: sluice teardown job.json');
  });

  it('fails with the step’s error when collect fails, after stopping the runners, still without teardown', async () => {
    const fault = new SluiceError('the engine stopped answering');
    const w = await world({ collect: () => Promise.reject(fault) });

    const result = await serve(['job.json'], w.deps);

    expect(result.error).toBe(fault);
    expect(w.steps).toEqual(['provision job.json', 'dispatch', `stop runners ${RUN_ID}`]);
    expect(w.stderr.join('')).toContain(
      'the run stays provisioned: serve it again, or tear it down with `sluice teardown job.json`',
    );
  });
});

describe('sluice serve refuses, before anything is made', () => {
  it('a job whose backend is ecs: the watcher Lambda serves it on AWS', async () => {
    const w = await world();

    const result = await serve(['job.json'], w.deps, jobText('ecs'));

    expect(result.error).toBeInstanceOf(ConfigurationError);
    const message = (result.error as Error).message;
    expect(message).toContain(
      'job.json $.compute.backend is "ecs": sluice serve keeps a run going on this machine',
    );
    expect(message).toContain('provision it with "keep": true');
    expect(message).toContain('the watcher Lambda starts ECS workers');
    expect(message).toContain('sluice serve job.json --backend local');
    expect(w.steps).toEqual([]);
  });

  it('serves an ecs job with --backend local', async () => {
    const w = await world();

    const result = await serve(['job.json', '--backend', 'local'], w.deps, jobText('ecs'));

    expect(result.code).toBe(0);
    expect(w.steps[0]).toBe('provision job.json');
  });

  it.each([
    [
      ['serve', 'job.json', '--backend', 'ecs'],
      '--backend ecs: sluice serve keeps a run going on this machine',
    ],
    [['serve', 'job.json', '--backend', 'k8s'], '--backend must be one of local, ecs; found "k8s"'],
    [['serve', 'job.json', '--status-every', '0'], '--status-every must be a whole number >= 1; found "0"'],
    [['serve', 'no-such-job.json'], 'cannot read the job file no-such-job.json'],
    [['serve'], "missing required argument 'job'"],
  ])('sluice %j: exit 2', async (args, message) => {
    let err = '';
    const code = await runCli(args, {
      out: () => undefined,
      err: (text) => (err += text),
      readFile: () => Promise.reject(new Error('ENOENT: no such file')),
    });

    expect(err).toContain(message);
    expect(code).toBe(2);
  });
});

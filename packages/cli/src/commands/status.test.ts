// The commands around a run (status, logs, runs, cancel) against the fakes of @sluice/testing: a run
// provisioned with the real provisionRun, task records and logs written as a runner would.
import { describe, expect, it } from '@jest/globals';
import {
  isConfigurationError,
  parseJob,
  provisionRun,
  taskId,
  taskLogKey,
  taskRecordKey,
  type RunState,
  type TaskRecord,
  type TaskStatus,
} from '@sluice/core';
import type { LocalWorkerCounts } from '@sluice/core/compute';
import { FakeObjectStore, FakeRunQueues } from '@sluice/testing';
import { Command } from 'commander';

import type { CommandContext } from '../context.js';
import { ExitCode } from '../exit-codes.js';
import type { CliIo } from '../io.js';
import { createProgram, runCli } from '../program.js';
import { registerCancel } from './cancel.js';
import { registerLogs } from './logs.js';
import { registerRuns } from './runs.js';
import { registerStatus, type InspectCommandDeps, type RunWorkers } from './status.js';

const DIGEST = `sha256:${'a'.repeat(64)}`;

interface World {
  readonly store: FakeObjectStore;
  readonly queues: FakeRunQueues;
  readonly state: RunState;
  readonly stopped: string[];
  readonly deps: InspectCommandDeps;
  closed: number;
}

async function world(
  options: { readonly workers?: LocalWorkerCounts | 'none'; readonly backend?: 'local' | 'ecs' } = {},
): Promise<World> {
  const store = new FakeObjectStore();
  const queues = new FakeRunQueues();
  const job = parseJob(
    JSON.stringify({
      name: 'Thumbs',
      algorithm: 'thumbnails@1.0.0',
      input: { bucket: 'in-bucket', prefix: 'photos/' },
      output: { bucket: 'out-bucket', prefix: 'thumbs/' },
      compute: { backend: options.backend ?? 'local' },
    }),
    'job.json',
  );
  await store.ensureBucket('in-bucket');
  const { state } = await provisionRun(
    job,
    { store, queues, buckets: store },
    { algorithm: { digest: DIGEST } },
  );
  const stopped: string[] = [];
  const fakeWorkers: RunWorkers = {
    count: () =>
      Promise.resolve(
        options.workers === 'none' || options.workers === undefined
          ? { running: 2, finished: 1, failed: 0 }
          : options.workers,
      ),
    stop: (runId) => {
      stopped.push(runId);
      return Promise.resolve(2);
    },
  };
  const w: World = {
    store,
    queues,
    state,
    stopped,
    closed: 0,
    deps: {
      connect: () => ({
        deps: { store, queues },
        close: () => {
          w.closed += 1;
        },
      }),
      workers: () => Promise.resolve(options.workers === 'none' ? undefined : fakeWorkers),
      env: {},
    },
  };
  return w;
}

/** Puts an input and its record (one attempt per entry of `attempts`, each with a log). */
async function putTask(
  w: World,
  key: string,
  status: TaskStatus,
  attempts: readonly string[] = ['log of attempt 1\n'],
): Promise<string> {
  const { etag } = await w.store.put({ bucket: 'in-bucket', key }, `content of ${key}`);
  const id = taskId({ bucket: 'in-bucket', key, etag });
  const record: TaskRecord = {
    schemaVersion: 1,
    runId: w.state.runId,
    taskId: id,
    input: { bucket: 'in-bucket', key, etag },
    status,
    algorithmDigest: DIGEST,
    attempts: attempts.map((_log, index) => ({
      attempt: index + 1,
      workerId: 'w1',
      startedAt: '2025-01-01T00:00:00.000Z',
      phases: {},
      ...(status === 'failed' && { failureClass: 'algorithm-exit' as const, exitCode: 3, message: 'exit 3' }),
      logKey: taskLogKey(w.state.runId, id, index + 1),
    })),
    outputs: status === 'succeeded' ? [{ key: `thumbs/${key}/small.png`, size: 3, etag: 'x' }] : [],
    updatedAt: '2025-01-01T00:00:02.000Z',
  };
  for (const [index, log] of attempts.entries())
    await w.store.put({ bucket: 'out-bucket', key: taskLogKey(w.state.runId, id, index + 1) }, log);
  await w.store.putJson({ bucket: 'out-bucket', key: taskRecordKey(w.state.runId, id) }, record);
  return id;
}

async function cli(w: World, args: readonly string[]): Promise<{ code: number; out: string; err: string }> {
  let out = '';
  let err = '';
  const io: CliIo = {
    out: (text) => {
      out += text;
    },
    err: (text) => {
      err += text;
    },
    readFile: () => Promise.reject(new Error('not read')),
  };
  const context: CommandContext = { io, exitCode: ExitCode.ok };
  const program = new Command('sluice')
    .exitOverride()
    .configureOutput({ writeOut: io.out, writeErr: io.err });
  registerStatus(program, context, w.deps);
  registerLogs(program, context, w.deps);
  registerRuns(program, context, w.deps);
  registerCancel(program, context, w.deps);
  // The same error handling as runCli, on a program whose commands use the fakes.
  try {
    await program.parseAsync([...args], { from: 'user' });
    return { code: context.exitCode, out, err };
  } catch (thrown: unknown) {
    if (isConfigurationError(thrown)) return { code: ExitCode.invalid, out, err: `${err}${thrown.message}` };
    throw thrown;
  }
}

describe('sluice status', () => {
  it('shows the state, queue counts, record counts by status and the local workers', async () => {
    const w = await world();
    await putTask(w, 'photos/a.jpg', 'succeeded');
    await putTask(w, 'photos/b.jpg', 'failed');
    await putTask(w, 'photos/c.jpg', 'running');
    await w.queues.taskQueue(w.state.queue.url ?? '').sendBatch([{ body: 'x' }, { body: 'y' }]);
    await w.queues.taskQueue(w.state.deadLetterQueue.url ?? '').sendBatch([{ body: 'z' }]);

    const { code, out } = await cli(w, ['status', w.state.runId]);

    expect(code).toBe(ExitCode.ok);
    expect(out).toContain(`run ${w.state.runId} (Thumbs): provisioned, backend local`);
    expect(out).toContain('task queue: 2 queued, 0 in flight, 0 delayed');
    expect(out).toContain('dead-letter queue: 1 message(s)');
    expect(out).toContain('records: 3 (1 succeeded, 1 failed, 1 running)');
    expect(out).toContain('local workers: 2 running, 1 exited, 0 failed');
    expect(out).toContain(`sluice logs ${w.state.runId}`);
    expect(w.closed).toBe(1);
  });

  it('prints JSON with --json, and says when there is no container engine', async () => {
    const w = await world({ workers: 'none' });
    await putTask(w, 'photos/a.jpg', 'succeeded');
    const json = await cli(w, ['status', w.state.runId, '--json']);
    expect(JSON.parse(json.out)).toMatchObject({
      runId: w.state.runId,
      state: 'provisioned',
      backend: 'local',
      queue: { visible: 0, inFlight: 0, delayed: 0 },
      records: { total: 1, succeeded: 1, failed: 0, running: 0, unreadable: 0 },
    });
    expect((await cli(w, ['status', w.state.runId])).out).toContain(
      'local workers: no container engine on this machine',
    );
  });

  it('finds the run through --output-bucket, and counts unreadable records', async () => {
    const w = await world({ backend: 'ecs' });
    await w.store.put(
      { bucket: 'out-bucket', key: `_sluice/${w.state.runId}/tasks/${'f'.repeat(24)}.json` },
      '{not json',
    );
    const { code, out } = await cli(w, ['status', w.state.runId, '--output-bucket', 'out-bucket']);
    expect(code).toBe(ExitCode.ok);
    expect(out).toContain('records: 1 (0 succeeded, 0 failed, 0 running, 1 unreadable)');
    expect(out).not.toContain('local workers');
  });

  it('exits 2 for an unknown or malformed run, saying how to find runs', async () => {
    const w = await world();
    const unknown = await cli(w, ['status', 'nope-12345678']);
    expect(unknown.code).toBe(ExitCode.invalid);
    expect(unknown.err).toContain('run nope-12345678 was not found');
    expect(unknown.err).toContain('sluice runs');
    const malformed = await cli(w, ['status', 'Not A Run']);
    expect(malformed.code).toBe(ExitCode.invalid);
    expect(malformed.err).toContain('is not a run id');
  });
});

describe('sluice logs', () => {
  it("prints every attempt of a task named by input key, with each attempt's log", async () => {
    const w = await world();
    const id = await putTask(w, 'photos/b.jpg', 'failed', ['first try\nboom 1\n', 'second try\nboom 2\n']);
    for (const name of ['b.jpg', 'photos/b.jpg', id]) {
      const { code, out } = await cli(w, ['logs', w.state.runId, name]);
      expect(code).toBe(ExitCode.ok);
      expect(out).toContain(`task ${id}: s3://in-bucket/photos/b.jpg — failed, 2 attempt(s)`);
      expect(out).toContain(
        '--- attempt 1 (worker w1, started 2025-01-01T00:00:00.000Z, exit 3, algorithm-exit: exit 3)',
      );
      expect(out).toContain('first try\nboom 1');
      expect(out).toContain('--- attempt 2');
      expect(out).toContain('second try\nboom 2');
    }
    const tailed = await cli(w, ['logs', w.state.runId, id, '--tail', '1']);
    expect(tailed.out).toContain('boom 2');
    expect(tailed.out).not.toContain('second try');
  });

  it('finds the record of an input that has changed since by searching the records', async () => {
    const w = await world();
    const id = await putTask(w, 'photos/b.jpg', 'succeeded');
    await w.store.put({ bucket: 'in-bucket', key: 'photos/b.jpg' }, 'new content');
    const { out } = await cli(w, ['logs', w.state.runId, 'b.jpg']);
    expect(out).toContain(`task ${id}`);
    expect(out).toContain('output: s3://out-bucket/thumbs/photos/b.jpg/small.png');
  });

  it('without a task lists the failed tasks with the tail of their last log', async () => {
    const w = await world();
    await putTask(w, 'photos/a.jpg', 'succeeded');
    const lines = Array.from({ length: 30 }, (_, i) => `line ${i + 1}`).join('\n');
    await putTask(w, 'photos/b.jpg', 'failed', ['old attempt\n', `${lines}\n`]);
    const { code, out } = await cli(w, ['logs', w.state.runId]);
    expect(code).toBe(ExitCode.ok);
    expect(out).toContain(`run ${w.state.runId}: 1 failed task(s)`);
    expect(out).toContain(': photos/b.jpg');
    expect(out).toContain('attempt 2 (');
    expect(out).toContain('line 30');
    expect(out).toContain('line 11');
    expect(out).not.toContain('line 10\n');
    expect(out).not.toContain('old attempt');
  });

  it('says when nothing failed, and exits 2 for an unknown task', async () => {
    const w = await world();
    expect((await cli(w, ['logs', w.state.runId])).out).toBe(`run ${w.state.runId}: no failed tasks\n`);
    const missing = await cli(w, ['logs', w.state.runId, 'photos/none.jpg']);
    expect(missing.code).toBe(ExitCode.invalid);
    expect(missing.err).toContain('has no task "photos/none.jpg"');
  });
});

describe('sluice runs', () => {
  it('lists runs by their task queues, with output bucket, created and state', async () => {
    const w = await world();
    const table = await cli(w, ['runs']);
    expect(table.code).toBe(ExitCode.ok);
    expect(table.out).toMatch(/^RUN\s+OUTPUT BUCKET\s+CREATED\s+STATE\n/);
    expect(table.out).toContain(w.state.runId);
    expect(table.out).toContain('out-bucket');
    expect(table.out).toContain(w.state.createdAt);
    const json = JSON.parse((await cli(w, ['runs', '--json'])).out) as unknown[];
    expect(json).toEqual([
      expect.objectContaining({
        runId: w.state.runId,
        outputBucket: 'out-bucket',
        createdAt: w.state.createdAt,
        state: 'provisioned',
      }),
    ]);
  });

  it('says how to start one when there is none', async () => {
    const w = await world();
    await w.queues.deleteQueue(w.state.queue.url ?? '');
    await w.queues.deleteQueue(w.state.deadLetterQueue.url ?? '');
    expect((await cli(w, ['runs'])).out).toContain('no runs found');
  });
});

describe('sluice cancel', () => {
  it('purges the task queue, stops the local workers, keeps the records and says how to tear down', async () => {
    const w = await world();
    const id = await putTask(w, 'photos/a.jpg', 'succeeded');
    await w.queues.taskQueue(w.state.queue.url ?? '').sendBatch([{ body: 'x' }, { body: 'y' }]);
    const { code, out } = await cli(w, ['cancel', w.state.runId]);
    expect(code).toBe(ExitCode.ok);
    expect(out).toContain(`run ${w.state.runId}: cancelled — 2 queued task(s) purged`);
    expect(out).toContain('stopped 2 local runner container(s)');
    expect(out).toContain(`sluice teardown --run ${w.state.runId}`);
    expect(w.stopped).toEqual([w.state.runId]);
    expect(await w.queues.taskQueue(w.state.queue.url ?? '').counts()).toMatchObject({ visible: 0 });
    expect(
      await w.store.getJson({ bucket: 'out-bucket', key: taskRecordKey(w.state.runId, id) }),
    ).toBeDefined();
  });

  it('a second cancel within a minute says the purge is under way and when to cancel again', async () => {
    const w = await world();
    await cli(w, ['cancel', w.state.runId]);
    await w.queues.taskQueue(w.state.queue.url ?? '').sendBatch([{ body: 'queued after the purge' }]);
    const { code, out } = await cli(w, ['cancel', w.state.runId]);
    expect(code).toBe(ExitCode.ok);
    expect(out).toContain('a purge of its task queue began less than a minute ago and is still under way');
    expect(out).toContain(`run \`sluice cancel ${w.state.runId}\` again in a minute`);
  });

  it('exits 2 for an unknown run', async () => {
    const w = await world();
    const { code, err } = await cli(w, ['cancel', 'nope-12345678']);
    expect(code).toBe(ExitCode.invalid);
    expect(err).toContain('sluice runs');
  });
});

describe('the program', () => {
  it('registers status, logs, runs and cancel', () => {
    const context: CommandContext = {
      io: { out: () => undefined, err: () => undefined, readFile: () => Promise.reject(new Error('x')) },
      exitCode: ExitCode.ok,
    };
    const names = createProgram(context).commands.map((command) => command.name());
    expect(names).toEqual(expect.arrayContaining(['status', 'logs', 'runs', 'cancel']));
  });

  it('maps a missing run argument to exit 2', async () => {
    const { io } = {
      io: { out: () => undefined, err: () => undefined, readFile: () => Promise.reject(new Error('x')) },
    };
    expect(await runCli(['status'], io)).toBe(ExitCode.invalid);
  });
});

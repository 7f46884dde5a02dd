// The runner's loop with fakes of its task source and processor and a fake clock: a runner whose
// AWS session ends (SLUICE_RUN `credentialsExpireAt`) stops leasing while a task could still finish
// within the session, exits with `credentials-expiring`, and leaves the rest of the work queued for
// the runner started after it.
import { describe, expect, it } from '@jest/globals';
import { JsonLog, RUNNER_CREDENTIALS_MARGIN_SECONDS, type RunnerConfig } from '@sluice/core';

import type { RunnerSettings } from './config/settings.js';
import { Runner } from './runner.js';
import type { TaskSource, WorkerLease } from './sources/task-source.js';
import type { TaskOutcome, TaskProcessor } from './tasks/task-processor.js';

const START = Date.parse('2030-01-01T12:00:00Z');
const MINUTE = 60_000;

interface Bench {
  readonly runner: Runner;
  /** Leases not yet handed out. */
  readonly queued: WorkerLease[];
  /** Each task's start and end on the fake clock. */
  readonly ran: { taskId: string; startedAt: number; endedAt: number }[];
  readonly log: string[];
  /** The wait of each lease that found nothing, in seconds. */
  readonly emptyWaits: number[];
}

function lease(n: number): WorkerLease {
  return {
    task: { bucket: 'in', key: `k${n}` } as WorkerLease['task'],
    taskId: `t${n}`,
    attempt: 1,
    outputPrefix: `o${n}/`,
    logKey: `l${n}.log`,
  };
}

/** A runner over `tasks` queued leases, each taking `taskMinutes` of the fake clock. */
function bench(options: {
  readonly tasks: number;
  readonly taskMinutes: number;
  readonly timeoutSeconds: number;
  readonly credentialsExpireAt?: string;
  readonly idleSeconds?: number;
  readonly siblingsBusy?: () => Promise<boolean>;
  /** Leases added to the queue at the given fake time (ms after the start). */
  readonly later?: { readonly at: number; readonly tasks: number };
}): Bench {
  let clock = START;
  const queued = Array.from({ length: options.tasks }, (_, n) => lease(n + 1));
  const ran: Bench['ran'] = [];
  const log: string[] = [];
  const emptyWaits: number[] = [];
  let later = options.later;
  const source = {
    // A lease that finds nothing waits its long poll out on the fake clock.
    lease: (waitSeconds: number): Promise<WorkerLease | undefined> => {
      if (later !== undefined && clock - START >= later.at) {
        queued.push(...Array.from({ length: later.tasks }, (_, n) => lease(100 + n)));
        later = undefined;
      }
      const next = queued.shift();
      if (next === undefined) {
        emptyWaits.push(waitSeconds);
        clock += waitSeconds * 1000;
      }
      return Promise.resolve(next);
    },
  } as unknown as TaskSource;
  const processor = {
    process: (taken: WorkerLease): Promise<TaskOutcome> => {
      const startedAt = clock;
      clock += options.taskMinutes * MINUTE;
      ran.push({ taskId: taken.taskId, startedAt, endedAt: clock });
      return Promise.resolve('succeeded');
    },
  } as unknown as TaskProcessor;
  const config: RunnerConfig = {
    runId: 'thumbs-3f9a0c12',
    queueUrl: 'http://127.0.0.1:5000/123456789012/q',
    deadLetterQueueUrl: 'http://127.0.0.1:5000/123456789012/dlq',
    input: { bucket: 'in', prefix: '', include: ['**'] },
    output: { bucket: 'out', prefix: '' },
    maxAttempts: 3,
    idleSeconds: options.idleSeconds ?? 0,
    env: {},
    secretEnv: [],
    ...(options.credentialsExpireAt !== undefined && { credentialsExpireAt: options.credentialsExpireAt }),
  };
  const settings = { config, timeoutSeconds: options.timeoutSeconds } as unknown as RunnerSettings;
  const runner = new Runner({
    settings,
    source,
    processor,
    log: new JsonLog({}, [], (line) => log.push(line)),
    now: () => clock,
    ...(options.siblingsBusy !== undefined && { siblingsBusy: options.siblingsBusy }),
  });
  return { runner, queued, ran, log, emptyWaits };
}

describe('Runner and its session', () => {
  it('stops leasing while a whole task still fits in the session, and leaves the rest queued', async () => {
    // Prepare: a 1-hour session, a 15-minute limit, tasks of 10 minutes each.
    const expiresAt = START + 60 * MINUTE;
    const { runner, queued, ran, log } = bench({
      tasks: 20,
      taskMinutes: 10,
      timeoutSeconds: 900,
      credentialsExpireAt: new Date(expiresAt).toISOString(),
    });

    // Act
    const exit = await runner.run(new AbortController().signal);

    // Assess: leased at 0, 10, 20, 30 and 40 minutes (40 + 15 + 5 = 60); not at 50.
    expect(exit).toBe('credentials-expiring');
    expect(ran.map((task) => task.taskId)).toEqual(['t1', 't2', 't3', 't4', 't5']);
    for (const task of ran) {
      expect(task.startedAt + (900 + RUNNER_CREDENTIALS_MARGIN_SECONDS) * 1000).toBeLessThanOrEqual(
        expiresAt,
      );
    }
    expect(queued).toHaveLength(15);
    expect(log.some((line) => line.includes('"credentials-expiring"'))).toBe(true);
  });

  it('leases nothing when the session is already too short for one task', async () => {
    const { runner, ran, queued } = bench({
      tasks: 3,
      taskMinutes: 1,
      timeoutSeconds: 3600,
      credentialsExpireAt: new Date(START + 60 * MINUTE).toISOString(),
    });

    const exit = await runner.run(new AbortController().signal);

    expect(exit).toBe('credentials-expiring');
    expect(ran).toEqual([]);
    expect(queued).toHaveLength(3);
  });

  it('works until idle when its credentials have no end (a refreshed role, or none at all)', async () => {
    const { runner, ran } = bench({ tasks: 20, taskMinutes: 10, timeoutSeconds: 900 });

    const exit = await runner.run(new AbortController().signal);

    expect(exit).toBe('idle');
    expect(ran).toHaveLength(20);
  });
});

describe('Runner beside sibling runners (the first runner container of an ECS worker of several tasks)', () => {
  it('stays past its idle time while its siblings run, long-polling (and working) meanwhile, and exits after them', async () => {
    // Prepare: siblings busy for the first two looks; a task arrives while the runner waits for them.
    const looks: boolean[] = [true, true, false];
    const { runner, ran, emptyWaits } = bench({
      tasks: 1,
      taskMinutes: 1,
      timeoutSeconds: 900,
      idleSeconds: 30,
      siblingsBusy: () => Promise.resolve(looks.shift() ?? false),
      later: { at: MINUTE + 45_000, tasks: 1 },
    });

    // Act
    const exit = await runner.run(new AbortController().signal);

    // Assess: it kept leasing (never a zero-second spin) and ran the late task, then went idle.
    expect(exit).toBe('idle');
    expect(ran.map((task) => task.taskId)).toEqual(['t1', 't100']);
    expect(emptyWaits.every((wait) => wait > 0)).toBe(true);
    expect(looks).toEqual([]);
  });

  it('exits when idle as before when the look at its siblings fails', async () => {
    const { runner } = bench({
      tasks: 0,
      taskMinutes: 1,
      timeoutSeconds: 900,
      idleSeconds: 5,
      siblingsBusy: () => Promise.reject(new Error('metadata endpoint gone')),
    });

    expect(await runner.run(new AbortController().signal)).toBe('idle');
  });
});

import { describe, expect, it } from '@jest/globals';
import type { WatcherEvent, WatcherLaunch } from '@sluice/core';
import { taskBacklog, workersToStart } from '@sluice/core/compute';

import {
  handleWatcherEvent,
  type QueueBacklog,
  type StartFailure,
  type WatcherLogLine,
  type WatcherPorts,
} from './watcher.js';

const RUN = 'thumbs-3f9a0c12';

function watcherEvent(overrides: Partial<WatcherEvent> = {}): WatcherEvent {
  return {
    sluice: 'watcher/1',
    runId: RUN,
    queueUrl: 'https://sqs.eu-west-1.amazonaws.com/123456789012/sluice-thumbs-3f9a0c12-tasks',
    maxWorkers: 5,
    minWorkers: 0,
    launch: {
      cluster: 'sluice',
      taskDefinition: 'sluice-thumbs:3',
      startedBy: RUN,
      launchType: 'FARGATE',
      networkConfiguration: {
        awsvpcConfiguration: { subnets: ['subnet-1'], securityGroups: ['sg-1'], assignPublicIp: 'DISABLED' },
      },
      overrides: {
        containerOverrides: [{ name: 'algorithm', environment: [{ name: 'SLUICE_RUN', value: '{}' }] }],
        taskRoleArn: 'arn:aws:iam::123456789012:role/sluice-thumbs-3f9a0c12-task',
      },
    },
    ...overrides,
  };
}

/** A queue and a cluster in memory: started tasks count as running from then on. */
class FakeAws implements WatcherPorts {
  tasks = 0;
  starts: number[] = [];
  /** How many of each start request ECS refuses, with this reason. */
  refuse: { count: number; reason: string } | undefined;
  failReads = false;

  queue: QueueBacklog;

  /** `delayed` defaults to 0: most cases here have no retries waiting. */
  constructor(queue: Omit<QueueBacklog, 'delayed'> & Partial<QueueBacklog>) {
    this.queue = { delayed: 0, ...queue };
  }

  backlog(): Promise<QueueBacklog> {
    if (this.failReads) return Promise.reject(new Error('SQS is down'));
    return Promise.resolve(this.queue);
  }

  running(): Promise<number> {
    return Promise.resolve(this.tasks);
  }

  start(_launch: WatcherLaunch, count: number): Promise<{ started: number; failures: StartFailure[] }> {
    this.starts.push(count);
    const refused = Math.min(count, this.refuse?.count ?? 0);
    this.tasks += count - refused;
    const failures = Array.from({ length: refused }, () => ({
      reason: this.refuse?.reason ?? '',
      detail: 'no Fargate capacity',
    }));
    return Promise.resolve({ started: count - refused, failures });
  }
}

function logs(): { lines: WatcherLogLine[]; log: (line: WatcherLogLine) => void } {
  const lines: WatcherLogLine[] = [];
  return { lines, log: (line) => lines.push(line) };
}

describe('how many workers the watcher starts', () => {
  it.each([
    // visible, inFlight, delayed, running, min, max, expected
    [0, 0, 0, 0, 0, 5, 0], // nothing to do: scale to zero
    [3, 0, 0, 0, 0, 5, 3], // one worker per waiting message
    [7, 2, 0, 2, 0, 5, 3], // capped at max, less those running
    [50, 0, 0, 0, 0, 5, 5], // never more than max
    [9, 0, 0, 5, 0, 5, 0], // at max already
    [2, 2, 0, 2, 0, 5, 2], // in-flight messages count: their workers are among the running
    [1, 0, 0, 4, 0, 5, 0], // more running than needed: the watcher never stops any
    [0, 0, 0, 0, 2, 5, 2], // minWorkers kept even with nothing queued
    [0, 0, 0, 1, 2, 5, 1],
    [1, 0, 0, 0, 3, 3, 3], // min = max
    [0, 0, 3, 0, 0, 5, 3], // delayed messages count: retries in backoff need a worker when they show
    [1, 0, 2, 1, 0, 5, 2],
  ])(
    'visible %i, in flight %i, delayed %i, running %i, min %i, max %i → start %i',
    async (visible, inFlight, delayed, running, min, max, expected) => {
      const aws = new FakeAws({ visible, inFlight, delayed });
      aws.tasks = running;

      const outcome = await handleWatcherEvent(
        watcherEvent({ minWorkers: min, maxWorkers: max }),
        aws,
        logs().log,
      );

      expect(outcome).toMatchObject({ outcome: 'checked', toStart: expected });
      // The ECS worker pool (orchestrator backends/ecs-pool.ts) sizes itself with this very function,
      // imported from the one place it is exported: one rule for both.
      const backlog = taskBacklog({ visible, inFlight, delayed });
      expect(workersToStart({ backlog, running, minWorkers: min, maxWorkers: max })).toBe(expected);
    },
  );
});

describe('how many workers the watcher starts when each runs several tasks', () => {
  it.each([
    // visible, inFlight, running, tasks per worker, max, expected
    [8, 0, 0, 4, 5, 2], // two workers of four hold eight tasks
    [9, 0, 0, 4, 5, 3],
    [7, 2, 1, 3, 5, 2], // ceil(9 / 3) = 3 workers, 1 runs
    [100, 0, 0, 4, 5, 5], // never more than max
  ])(
    'visible %i, in flight %i, running %i, %i per worker, max %i → start %i',
    async (visible, inFlight, running, tasksPerWorker, max, expected) => {
      const aws = new FakeAws({ visible, inFlight });
      aws.tasks = running;
      const { lines, log } = logs();

      const outcome = await handleWatcherEvent(watcherEvent({ maxWorkers: max, tasksPerWorker }), aws, log);

      expect(outcome).toMatchObject({ outcome: 'checked', toStart: expected });
      expect(lines[0]).toMatchObject({ tasksPerWorker });
      const backlog = taskBacklog({ visible, inFlight, delayed: 0 });
      expect(workersToStart({ backlog, running, minWorkers: 0, maxWorkers: max, tasksPerWorker })).toBe(
        expected,
      );
    },
  );
});

describe('handleWatcherEvent', () => {
  it('starts workers while the backlog grows, and stops at maxWorkers', async () => {
    const aws = new FakeAws({ visible: 2, inFlight: 0 });
    const { lines, log } = logs();

    const first = await handleWatcherEvent(watcherEvent(), aws, log);
    aws.queue = { visible: 4, inFlight: 2, delayed: 0 };
    const second = await handleWatcherEvent(watcherEvent(), aws, log);
    aws.queue = { visible: 40, inFlight: 5, delayed: 0 };
    const third = await handleWatcherEvent(watcherEvent(), aws, log);
    const fourth = await handleWatcherEvent(watcherEvent(), aws, log);

    expect([first, second, third, fourth].map((o) => (o.outcome === 'checked' ? o.started : -1))).toEqual([
      2, 3, 0, 0,
    ]);
    expect(aws.tasks).toBe(5);
    expect(lines[1]).toEqual({
      level: 'info',
      message: 'watcher: checked',
      run: RUN,
      backlog: { visible: 4, inFlight: 2, delayed: 0 },
      running: 2,
      minWorkers: 0,
      maxWorkers: 5,
      toStart: 3,
      started: 3,
      failures: [],
    });
  });

  it('starts nothing for an empty queue, and keeps minWorkers running', async () => {
    const empty = new FakeAws({ visible: 0, inFlight: 0 });
    const kept = new FakeAws({ visible: 0, inFlight: 0 });

    await handleWatcherEvent(watcherEvent(), empty, logs().log);
    await handleWatcherEvent(watcherEvent({ minWorkers: 2 }), kept, logs().log);

    expect(empty.starts).toEqual([]);
    expect(kept.tasks).toBe(2);
  });

  it('logs RunTask failures with their reason and goes on', async () => {
    const aws = new FakeAws({ visible: 4, inFlight: 0 });
    aws.refuse = { count: 3, reason: 'RESOURCE:FARGATE' };
    const { lines, log } = logs();

    const outcome = await handleWatcherEvent(watcherEvent(), aws, log);

    expect(outcome).toMatchObject({ outcome: 'checked', started: 1 });
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatchObject({
      level: 'warning',
      started: 1,
      failures: [
        { reason: 'RESOURCE:FARGATE', detail: 'no Fargate capacity' },
        { reason: 'RESOURCE:FARGATE', detail: 'no Fargate capacity' },
        { reason: 'RESOURCE:FARGATE', detail: 'no Fargate capacity' },
      ],
    });
  });

  it('reports a start that throws as a failure, not as an error of the invocation', async () => {
    const aws = new FakeAws({ visible: 1, inFlight: 0 });
    aws.start = () =>
      Promise.reject(Object.assign(new Error('Rate exceeded'), { name: 'ThrottlingException' }));
    const { lines, log } = logs();

    const outcome = await handleWatcherEvent(watcherEvent(), aws, log);

    expect(outcome).toMatchObject({
      outcome: 'checked',
      started: 0,
      failures: [{ reason: 'ThrottlingException', detail: 'Rate exceeded' }],
    });
    expect(lines[0]?.level).toBe('warning');
  });

  it.each([
    ['not an object', 'tick', /watcher event: \$: /],
    ['another version', { ...watcherEvent(), sluice: 'watcher/2' }, /\$\.sluice/],
    [
      'a count in the launch',
      { ...watcherEvent(), launch: { ...watcherEvent().launch, count: 3 } },
      /\$\.launch\.count/,
    ],
    ['min above max', watcherEvent({ minWorkers: 6 }), /minWorkers \(6\) is above \$\.maxWorkers \(5\)/],
    [
      'an SQS event',
      { Records: [{ eventSource: 'aws:sqs', body: '{}' }] },
      /an S3 or SQS event .*EventBridge/,
    ],
    [
      'a bare scheduled event',
      { 'detail-type': 'Scheduled Event', source: 'aws.events' },
      /provision the run again/,
    ],
  ])('ignores %s with a message, touching nothing', async (_what, event, reason) => {
    const aws = new FakeAws({ visible: 3, inFlight: 0 });
    const { lines, log } = logs();

    const outcome = await handleWatcherEvent(event, aws, log);

    expect(outcome).toEqual({ outcome: 'ignored', reason: expect.stringMatching(reason) as unknown });
    expect(lines).toEqual([
      { level: 'error', message: 'watcher: event ignored', reason: expect.any(String) },
    ]);
    expect(aws.starts).toEqual([]);
  });

  it('logs and throws when the queue cannot be read, so Lambda records the fault', async () => {
    const aws = new FakeAws({ visible: 3, inFlight: 0 });
    aws.failReads = true;
    const { lines, log } = logs();

    await expect(handleWatcherEvent(watcherEvent(), aws, log)).rejects.toThrow('SQS is down');
    expect(lines).toEqual([
      { level: 'error', message: 'watcher: could not read the run', run: RUN, error: 'SQS is down' },
    ]);
    expect(aws.starts).toEqual([]);
  });
});

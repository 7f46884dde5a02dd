import { ECSClient, ECSServiceException } from '@aws-sdk/client-ecs';
import { describe, expect, it } from '@jest/globals';

import { ConfigurationError } from '../errors.js';
import { EcsWorkers } from './ecs-workers.js';
import { ecsLaunchTemplate } from './run-task-request.js';
import { ACCOUNT, RUN, launch } from './run-task-fixture.test-support.js';
import { answeringLocally, FAKE_CLIENT_CONFIG, type SentCommand } from './local-sdk-client.test-support.js';

/** An ECSClient whose requests never leave the process: `respond` answers each command by name. */
function fakeEcs(respond: (command: string, input: Record<string, unknown>) => unknown): {
  client: ECSClient;
  calls: SentCommand[];
} {
  return answeringLocally(new ECSClient(FAKE_CLIENT_CONFIG), respond);
}

function ecsError(name: string, message: string, status = 400): ECSServiceException {
  return new ECSServiceException({ name, $fault: 'client', $metadata: { httpStatusCode: status }, message });
}

const taskArn = (n: number): string =>
  `arn:aws:ecs:eu-west-1:${ACCOUNT}:task/sluice/${n.toString(16).padStart(32, '0')}`;

/** RunTask answering every call by starting all it is asked for. */
function startsAll(): (command: string, input: Record<string, unknown>) => unknown {
  let next = 0;
  return (command, input) => {
    if (command !== 'RunTaskCommand') throw new Error(`unexpected ${command}`);
    const count = Number(input.count);
    return { tasks: Array.from({ length: count }, () => ({ taskArn: taskArn((next += 1)) })), failures: [] };
  };
}
describe('EcsWorkers.start', () => {
  const template = ecsLaunchTemplate(launch());

  it('starts 25 tasks as 10 + 10 + 5, each call with its own client token', async () => {
    const { client, calls } = fakeEcs(startsAll());

    const report = await new EcsWorkers(client).start(template, 25);

    expect(calls.map((call) => call.input.count)).toEqual([10, 10, 5]);
    expect(new Set(calls.map((call) => call.input.clientToken)).size).toBe(3);
    expect(calls[0]?.input).toMatchObject({ ...template, count: 10 });
    expect(report.started).toHaveLength(25);
    expect(report).toMatchObject({ notStarted: 0, failures: [] });
  });

  it('starts nothing for a count of 0', async () => {
    const { client, calls } = fakeEcs(startsAll());

    expect(await new EcsWorkers(client).start(template, 0)).toEqual({
      started: [],
      notStarted: 0,
      failures: [],
    });
    expect(calls).toEqual([]);
  });

  it('reports failures ECS names without retrying those that will not go away', async () => {
    const sleeps: number[] = [];
    const { client, calls } = fakeEcs(() => ({
      tasks: [{ taskArn: taskArn(1) }],
      failures: [
        {
          arn: 'arn:aws:ecs:eu-west-1:123456789012:container-instance/sluice/abc',
          reason: 'RESOURCE:MEMORY',
        },
      ],
    }));

    const report = await new EcsWorkers(client, {
      sleep: (ms) => Promise.resolve(void sleeps.push(ms)),
    }).start(template, 3);

    expect(calls).toHaveLength(1);
    expect(sleeps).toEqual([]);
    expect(report).toEqual({
      started: [taskArn(1)],
      notStarted: 2,
      failures: [
        {
          reason: 'RESOURCE:MEMORY',
          detail: '',
          arn: 'arn:aws:ecs:eu-west-1:123456789012:container-instance/sluice/abc',
        },
      ],
    });
  });

  it('retries tasks without capacity with exponential backoff, asking only for the missing ones', async () => {
    const sleeps: number[] = [];
    let call = 0;
    const capacity =
      'Capacity is unavailable at this time. Please try again later or in a different availability zone';
    const { client, calls } = fakeEcs((_command, input) => {
      call += 1;
      const count = Number(input.count);
      // First call: 2 of 5 start; second: none; third: the rest.
      const started = call === 1 ? 2 : call === 2 ? 0 : count;
      return {
        tasks: Array.from({ length: started }, (_, i) => ({ taskArn: taskArn(call * 100 + i) })),
        failures: Array.from({ length: count - started }, () => ({ reason: capacity })),
      };
    });

    const report = await new EcsWorkers(client, {
      sleep: (ms) => Promise.resolve(void sleeps.push(ms)),
      random: () => 1,
      baseDelayMs: 1000,
    }).start(template, 5);

    expect(calls.map((c) => c.input.count)).toEqual([5, 3, 3]);
    expect(sleeps).toEqual([1000, 2000]);
    expect(report.started).toHaveLength(5);
    expect(report).toMatchObject({ notStarted: 0, failures: [] });
  });

  it('retries throttling with the same client token, then gives up and reports it', async () => {
    const sleeps: number[] = [];
    const { client, calls } = fakeEcs(() => {
      throw ecsError('ThrottlingException', 'Rate exceeded');
    });

    const report = await new EcsWorkers(client, {
      sleep: (ms) => Promise.resolve(void sleeps.push(ms)),
      random: () => 0,
      maxAttempts: 4,
      baseDelayMs: 1000,
      maxDelayMs: 3000,
    }).start(template, 2);

    expect(calls).toHaveLength(4);
    expect(new Set(calls.map((c) => c.input.clientToken)).size).toBe(1);
    // Equal jitter with random() = 0: half of 1, 2, 3 (capped) seconds.
    expect(sleeps).toEqual([500, 1000, 1500]);
    expect(report).toEqual({
      started: [],
      notStarted: 2,
      failures: [{ reason: 'ThrottlingException', detail: 'Rate exceeded' }],
    });
  });

  it('waits for a role IAM has just created until ECS can assume it', async () => {
    const sleeps: number[] = [];
    let call = 0;
    const { client, calls } = fakeEcs((_command, input) => {
      call += 1;
      if (call <= 6) {
        throw ecsError(
          'InvalidParameterException',
          `ECS was unable to assume the role 'arn:aws:iam::${ACCOUNT}:role/sluice/r/sluice-r-task' that was provided for this task.`,
        );
      }
      return { tasks: Array.from({ length: Number(input.count) }, (_, i) => ({ taskArn: taskArn(i) })) };
    });

    const report = await new EcsWorkers(client, {
      sleep: (ms) => Promise.resolve(void sleeps.push(ms)),
      random: () => 1,
    }).start(template, 2);

    // More than the 5 attempts other faults get: the role needs its seconds.
    expect(calls).toHaveLength(7);
    expect(sleeps).toEqual([1000, 2000, 4000, 8000, 16_000, 20_000]);
    expect(report).toMatchObject({ notStarted: 0, failures: [] });
    expect(report.started).toHaveLength(2);
  });

  it('throws a ConfigurationError for a request ECS refuses', async () => {
    const { client } = fakeEcs(() => {
      throw ecsError('InvalidParameterException', 'subnet-0aaa1111 does not exist');
    });

    await expect(
      new EcsWorkers(client, { sleep: () => Promise.resolve() }).start(template, 1),
    ).rejects.toThrow(ConfigurationError);
  });
});

describe('EcsWorkers.count and stopAll', () => {
  it('counts the run’s RUNNING tasks across pages, by startedBy', async () => {
    const { client, calls } = fakeEcs((_command, input) =>
      input.nextToken === undefined
        ? { taskArns: [taskArn(1), taskArn(2)], nextToken: 'page-2' }
        : { taskArns: [taskArn(3)] },
    );

    expect(await new EcsWorkers(client).count(RUN, 'sluice')).toBe(3);
    expect(calls.map((c) => c.input)).toEqual([
      { cluster: 'sluice', family: `sluice-run-${RUN}`, desiredStatus: 'RUNNING' },
      { cluster: 'sluice', family: `sluice-run-${RUN}`, desiredStatus: 'RUNNING', nextToken: 'page-2' },
    ]);
  });

  it('counts nothing on a cluster that does not exist', async () => {
    const { client } = fakeEcs(() => {
      throw ecsError('ClusterNotFoundException', 'Cluster not found.');
    });

    expect(await new EcsWorkers(client).count(RUN, 'gone')).toBe(0);
  });

  it('stops every listed task with the reason', async () => {
    const { client, calls } = fakeEcs((command) =>
      command === 'ListTasksCommand' ? { taskArns: [taskArn(1), taskArn(2)] } : { task: {} },
    );

    expect(await new EcsWorkers(client).stopAll(RUN, 'sluice', 'teardown')).toBe(2);
    expect(calls.filter((c) => c.command === 'StopTaskCommand').map((c) => c.input)).toEqual([
      { cluster: 'sluice', task: taskArn(1), reason: 'teardown' },
      { cluster: 'sluice', task: taskArn(2), reason: 'teardown' },
    ]);
  });
});

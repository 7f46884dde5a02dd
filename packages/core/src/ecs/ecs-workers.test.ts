import { ECSClient, ECSServiceException, type TaskDefinition } from '@aws-sdk/client-ecs';
import { describe, expect, it } from '@jest/globals';

import { ConfigurationError } from '../errors.js';
import type { RunnerConfig } from '../schemas/runner-config.js';
import {
  backoffDelayMs,
  ecsLaunchTemplate,
  ecsRunnerVariables,
  EcsWorkers,
  runTaskDefinitionInput,
  secretValueFrom,
  workersToStart,
  type EcsLaunchOptions,
} from './ecs-workers.js';
import { s3ObjectConsoleUrl, taskLogLink, taskLogStreamName } from './run-log-group.js';

const RUN = 'thumbs-3f9a0c12';
const ACCOUNT = '123456789012';
const TASK_ROLE = `arn:aws:iam::${ACCOUNT}:role/sluice-${RUN}-task`;
const EXECUTION_ROLE = `arn:aws:iam::${ACCOUNT}:role/sluice-${RUN}-execution`;
const RUN_TD = `arn:aws:ecs:eu-west-1:${ACCOUNT}:task-definition/sluice-run-${RUN}:1`;

const config: RunnerConfig = {
  runId: RUN,
  queueUrl: 'https://sqs.eu-west-1.amazonaws.com/123456789012/sluice-thumbs-3f9a0c12-tasks',
  deadLetterQueueUrl: 'https://sqs.eu-west-1.amazonaws.com/123456789012/sluice-thumbs-3f9a0c12-tasks-dlq',
  input: { bucket: 'photos', prefix: 'in/', include: ['**/*.jpg'] },
  output: { bucket: 'thumbs', prefix: 'out/' },
  maxAttempts: 3,
  idleSeconds: 60,
  env: { SIZE: '256' },
  secretEnv: ['TOKEN'],
};

function launch(overrides: Partial<EcsLaunchOptions> = {}): EcsLaunchOptions {
  return {
    runId: RUN,
    cluster: 'sluice',
    taskDefinition: RUN_TD,
    config,
    compute: { launchType: 'FARGATE', spot: false, assignPublicIp: true },
    subnets: ['subnet-0aaa1111', 'subnet-0bbb2222'],
    securityGroups: ['sg-0ccc3333'],
    taskRoleArn: TASK_ROLE,
    executionRoleArn: EXECUTION_ROLE,
    ...overrides,
  };
}

/** An ECSClient whose requests never leave the process: `respond` answers each command by name. */
function fakeEcs(respond: (command: string, input: Record<string, unknown>) => unknown): {
  client: ECSClient;
  calls: { command: string; input: Record<string, unknown> }[];
} {
  const calls: { command: string; input: Record<string, unknown> }[] = [];
  const client = new ECSClient({
    region: 'eu-west-1',
    credentials: { accessKeyId: 'fake', secretAccessKey: 'fake' },
  });
  client.middlewareStack.add(
    (_next, context) => async (args) => {
      const input = { ...(args.input as Record<string, unknown>) };
      calls.push({ command: context.commandName ?? '', input });
      const output = await Promise.resolve(respond(context.commandName ?? '', input));
      return { output: output as never, response: {} };
    },
    { step: 'initialize', name: 'fakeEcs' },
  );
  return { client, calls };
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

describe('ecsLaunchTemplate', () => {
  it('builds the RunTask request of a Fargate run', () => {
    const template = ecsLaunchTemplate(
      launch({ environment: { AWS_ENDPOINT_URL: 'http://127.0.0.1:5000' } }),
    );

    expect(template).toEqual({
      cluster: 'sluice',
      taskDefinition: RUN_TD,
      startedBy: `sluice-${RUN}`,
      group: `sluice:${RUN}`,
      launchType: 'FARGATE',
      networkConfiguration: {
        awsvpcConfiguration: {
          subnets: ['subnet-0aaa1111', 'subnet-0bbb2222'],
          securityGroups: ['sg-0ccc3333'],
          assignPublicIp: 'ENABLED',
        },
      },
      overrides: {
        containerOverrides: [
          {
            name: 'algorithm',
            environment: [
              { name: 'AWS_ENDPOINT_URL', value: 'http://127.0.0.1:5000' },
              { name: 'SLUICE_RUN', value: JSON.stringify(config) },
            ],
          },
        ],
        taskRoleArn: TASK_ROLE,
        executionRoleArn: EXECUTION_ROLE,
      },
      propagateTags: 'TASK_DEFINITION',
      tags: [
        { key: 'sluice:run-id', value: RUN },
        { key: 'sluice:managed', value: 'true' },
      ],
      enableExecuteCommand: false,
    });
  });

  it('uses the FARGATE_SPOT capacity provider instead of a launch type for spot', () => {
    const template = ecsLaunchTemplate(
      launch({ compute: { launchType: 'FARGATE', spot: true, assignPublicIp: false } }),
    );

    expect(template.launchType).toBeUndefined();
    expect(template.capacityProviderStrategy).toEqual([{ capacityProvider: 'FARGATE_SPOT', weight: 1 }]);
    expect(template.networkConfiguration?.awsvpcConfiguration?.assignPublicIp).toBe('DISABLED');
  });

  it('gives EC2 tasks no public IP, and refuses Spot on EC2', () => {
    const ec2 = ecsLaunchTemplate(
      launch({ compute: { launchType: 'EC2', spot: false, assignPublicIp: true } }),
    );

    expect(ec2.launchType).toBe('EC2');
    expect(ec2.networkConfiguration?.awsvpcConfiguration?.assignPublicIp).toBe('DISABLED');
    expect(() =>
      ecsLaunchTemplate(launch({ compute: { launchType: 'EC2', spot: true, assignPublicIp: false } })),
    ).toThrow(/Spot is supported on Fargate only/);
  });

  it('sets cpu and memory overrides on the task and the container when given', () => {
    const { overrides } = ecsLaunchTemplate(launch({ cpuUnits: 1024, memoryMiB: 3072 }));

    expect(overrides).toMatchObject({ cpu: '1024', memory: '3072' });
    expect(overrides?.containerOverrides?.[0]?.memory).toBe(3072);
  });

  it('leaves workerId out of SLUICE_RUN: every task of a call shares the overrides', () => {
    const { overrides } = ecsLaunchTemplate(launch({ config: { ...config, workerId: 'one' } }));
    const value = overrides?.containerOverrides?.[0]?.environment?.find(
      (e) => e.name === 'SLUICE_RUN',
    )?.value;

    expect(JSON.parse(value ?? '{}')).toEqual(config);
  });

  it('refuses no subnets, too many security groups, and overrides above 8192 characters', () => {
    expect(() => ecsLaunchTemplate(launch({ subnets: [] }))).toThrow(ConfigurationError);
    expect(() =>
      ecsLaunchTemplate(launch({ securityGroups: ['sg-01', 'sg-02', 'sg-03', 'sg-04', 'sg-05', 'sg-06'] })),
    ).toThrow(/at most 5 security groups/);
    expect(() =>
      ecsLaunchTemplate(launch({ config: { ...config, env: { BIG: 'x'.repeat(8000) } } })),
    ).toThrow(/overrides would be \d+ characters; ECS allows 8192/);
  });
});

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

describe('the run task definition', () => {
  const algorithm: TaskDefinition = {
    taskDefinitionArn: `arn:aws:ecs:eu-west-1:${ACCOUNT}:task-definition/sluice-thumbs:3`,
    family: 'sluice-thumbs',
    revision: 3,
    status: 'ACTIVE',
    compatibilities: ['EC2', 'FARGATE'],
    requiresAttributes: [{ name: 'com.amazonaws.ecs.capability.logging-driver.awslogs' }],
    registeredAt: new Date('2025-01-01T00:00:00Z'),
    registeredBy: `arn:aws:iam::${ACCOUNT}:user/ci`,
    networkMode: 'awsvpc',
    requiresCompatibilities: ['FARGATE', 'EC2'],
    cpu: '256',
    memory: '1024',
    runtimePlatform: { operatingSystemFamily: 'LINUX', cpuArchitecture: 'X86_64' },
    containerDefinitions: [
      {
        name: 'algorithm',
        image: `${ACCOUNT}.dkr.ecr.eu-west-1.amazonaws.com/sluice/thumbs:1.0@sha256:${'a'.repeat(64)}`,
        cpu: 0,
        memory: 640,
        essential: true,
        environment: [
          { name: 'SIZE', value: '128' },
          { name: 'TOKEN', value: 'default-that-must-go' },
        ],
        logConfiguration: { logDriver: 'awslogs', options: { 'awslogs-group': '/sluice/thumbs' } },
        stopTimeout: 120,
        dockerLabels: { 'org.sluice.algorithm': 'thumbs@1.0' },
      },
    ],
  };
  const tags = [
    { key: 'sluice:algorithm', value: 'thumbs' },
    { key: 'sluice:version', value: '1.0' },
  ];

  it('copies the algorithm’s definition with the run’s secrets, logs, roles and tags', () => {
    const input = runTaskDefinitionInput(
      { taskDefinition: algorithm, tags },
      {
        runId: RUN,
        region: 'eu-west-1',
        executionRoleArn: EXECUTION_ROLE,
        taskRoleArn: TASK_ROLE,
        secrets: {
          TOKEN: 'watermark/token',
          DB_PASSWORD: `arn:aws:secretsmanager:eu-west-1:${ACCOUNT}:secret:db-AbCdEf:password::`,
          API_KEY: `arn:aws:ssm:eu-west-1:${ACCOUNT}:parameter/thumbs/api-key`,
        },
      },
    );

    expect(input).toEqual({
      family: `sluice-run-${RUN}`,
      executionRoleArn: EXECUTION_ROLE,
      taskRoleArn: TASK_ROLE,
      networkMode: 'awsvpc',
      requiresCompatibilities: ['FARGATE', 'EC2'],
      cpu: '256',
      memory: '1024',
      runtimePlatform: { operatingSystemFamily: 'LINUX', cpuArchitecture: 'X86_64' },
      containerDefinitions: [
        {
          ...algorithm.containerDefinitions?.[0],
          environment: [{ name: 'SIZE', value: '128' }],
          secrets: [
            { name: 'API_KEY', valueFrom: `arn:aws:ssm:eu-west-1:${ACCOUNT}:parameter/thumbs/api-key` },
            {
              name: 'DB_PASSWORD',
              valueFrom: `arn:aws:secretsmanager:eu-west-1:${ACCOUNT}:secret:db-AbCdEf:password::`,
            },
            {
              name: 'TOKEN',
              valueFrom: `arn:aws:secretsmanager:eu-west-1:${ACCOUNT}:secret:watermark/token`,
            },
          ],
          logConfiguration: {
            logDriver: 'awslogs',
            options: {
              'awslogs-group': `/sluice/runs/${RUN}`,
              'awslogs-region': 'eu-west-1',
              'awslogs-stream-prefix': RUN,
            },
          },
        },
      ],
      tags: [
        { key: 'sluice:algorithm', value: 'thumbs' },
        { key: 'sluice:managed', value: 'true' },
        { key: 'sluice:run-id', value: RUN },
        { key: 'sluice:version', value: '1.0' },
      ],
    });
  });

  it('refuses a definition without the algorithm container', () => {
    expect(() =>
      runTaskDefinitionInput(
        { taskDefinition: { ...algorithm, containerDefinitions: [{ name: 'other' }] }, tags },
        { runId: RUN, region: 'eu-west-1', executionRoleArn: EXECUTION_ROLE, taskRoleArn: TASK_ROLE },
      ),
    ).toThrow(/no "algorithm" container/);
  });

  it.each([
    [
      'watermark/token',
      'aws',
      'eu-west-1',
      `arn:aws:secretsmanager:eu-west-1:${ACCOUNT}:secret:watermark/token`,
    ],
    ['token', 'aws-cn', 'cn-north-1', `arn:aws-cn:secretsmanager:cn-north-1:${ACCOUNT}:secret:token`],
    [
      `arn:aws:secretsmanager:us-east-1:${ACCOUNT}:secret:t-AbCdEf`,
      'aws',
      'eu-west-1',
      `arn:aws:secretsmanager:us-east-1:${ACCOUNT}:secret:t-AbCdEf`,
    ],
    [
      `arn:aws:ssm:eu-west-1:${ACCOUNT}:parameter/a/b`,
      'aws',
      'eu-west-1',
      `arn:aws:ssm:eu-west-1:${ACCOUNT}:parameter/a/b`,
    ],
  ])('secretValueFrom(%s) in %s %s', (reference, partition, region, expected) => {
    expect(secretValueFrom(reference, { partition, region, account: ACCOUNT })).toBe(expected);
  });

  it('refuses references that are neither a secret name nor a secret or parameter ARN', () => {
    const context = { partition: 'aws', region: 'eu-west-1', account: ACCOUNT };

    expect(() => secretValueFrom(`arn:aws:s3:::bucket`, context)).toThrow(ConfigurationError);
    expect(() => secretValueFrom('has space', context)).toThrow(ConfigurationError);
  });

  it('splits a job’s env: literals to SLUICE_RUN, fromSecret to secrets, and refuses fromEnv', () => {
    expect(
      ecsRunnerVariables({ SIZE: '256', TOKEN: { fromSecret: 'watermark/token' }, A: { fromSecret: 'a' } }),
    ).toEqual({
      env: { SIZE: '256' },
      secretEnv: ['A', 'TOKEN'],
      secrets: { TOKEN: 'watermark/token', A: 'a' },
    });
    expect(() => ecsRunnerVariables({ TOKEN: { fromEnv: 'WATERMARK_TOKEN' } })).toThrow(/Secrets Manager/);
  });
});

describe('workersToStart', () => {
  it.each([
    // backlog, running, max, min → start
    [0, 0, 4, 0, 0],
    [1, 0, 4, 0, 1],
    [25, 3, 10, 0, 7],
    [25, 10, 10, 0, 0],
    [3, 5, 10, 0, 0],
    [0, 0, 10, 2, 2],
    [0, 1, 10, 2, 1],
    [5, 0, 3, 4, 3],
    [-1, Number.NaN, 4, 0, 0],
  ])('backlog %d, running %d, max %d, min %d → %d', (backlog, running, maxWorkers, minWorkers, expected) => {
    expect(workersToStart({ backlog, running, maxWorkers, minWorkers })).toBe(expected);
  });
});

describe('backoffDelayMs', () => {
  it('doubles from the base up to the cap, half of it jittered', () => {
    const options = { baseMs: 1000, maxMs: 5000 };

    expect([1, 2, 3, 4].map((n) => backoffDelayMs(n, { ...options, random: () => 1 }))).toEqual([
      1000, 2000, 4000, 5000,
    ]);
    expect(backoffDelayMs(3, { ...options, random: () => 0 })).toBe(2000);
  });
});

describe('task log links', () => {
  const arn = `arn:aws:ecs:eu-west-1:${ACCOUNT}:task/sluice/0f1e2d3c4b5a69788796a5b4c3d2e1f0`;

  it('names the awslogs stream <prefix>/<container>/<task-id>', () => {
    expect(taskLogStreamName(RUN, arn)).toBe(`${RUN}/algorithm/0f1e2d3c4b5a69788796a5b4c3d2e1f0`);
  });

  it('links an object in the S3 console of its partition, its key encoded', () => {
    expect(s3ObjectConsoleUrl({ region: 'eu-west-1', bucket: 'out', key: '_sluice/r 1/results.json' })).toBe(
      'https://eu-west-1.console.aws.amazon.com/s3/object/out?region=eu-west-1&prefix=_sluice%2Fr%201%2Fresults.json',
    );
    expect(s3ObjectConsoleUrl({ region: 'cn-north-1', bucket: 'out', key: 'k' })).toBe(
      'https://cn-north-1.console.amazonaws.cn/s3/object/out?region=cn-north-1&prefix=k',
    );
  });

  it('links the stream in the console and as an aws logs command', () => {
    expect(taskLogLink({ region: 'eu-west-1', runId: RUN, task: arn })).toEqual({
      logGroup: `/sluice/runs/${RUN}`,
      logStream: `${RUN}/algorithm/0f1e2d3c4b5a69788796a5b4c3d2e1f0`,
      consoleUrl:
        'https://eu-west-1.console.aws.amazon.com/cloudwatch/home?region=eu-west-1#logsV2:log-groups/log-group/' +
        `$252Fsluice$252Fruns$252F${RUN}/log-events/${RUN}$252Falgorithm$252F0f1e2d3c4b5a69788796a5b4c3d2e1f0`,
      command: `aws logs get-log-events --region eu-west-1 --log-group-name '/sluice/runs/${RUN}' --log-stream-name '${RUN}/algorithm/0f1e2d3c4b5a69788796a5b4c3d2e1f0'`,
    });
  });
});

// Integration: the ECS workers' adapters against the test bed's moto server — the cluster, the run's
// own task definition (with secrets), RunTask with the run's overrides read back with DescribeTasks,
// counting and stopping by startedBy, the default VPC and the run's security group, and the run's log
// group.
//
// moto differs from AWS here, and the code is written for AWS:
// - RunTask with FARGATE (or a FARGATE/FARGATE_SPOT capacity provider) needs no container instance in
//   moto; with EC2 it needs registered container instances (moto raises a 500 otherwise). moto never
//   reports `failures` (capacity, RESOURCE:*), so failures and retries are unit-tested with a fake.
// - An awsvpc task needs `networkConfiguration` in moto too; moto creates a network interface in the
//   first subnet with the security groups and never deletes it, even after StopTask (AWS deletes it
//   shortly after the task stops). moto also deletes a security group that interfaces still use, where
//   AWS answers DependencyViolation until they are gone: EcsNetwork retries that with backoff, which
//   moto cannot show. The test deletes moto's leftover interfaces itself so nothing stays behind.
// - A Task has no `networkConfiguration` in DescribeTasks (AWS and moto alike): the subnet shows in
//   the task's network interface attachment; `assignPublicIp` cannot be read back.
// - moto keeps `overrides`, `startedBy`, `group` and `tags` as sent and returns them from DescribeTasks
//   (tags with include TAGS); it ignores `propagateTags` (the task definition's tags are not added),
//   `clientToken` and `enableExecuteCommand`, so those are asserted on the request (unit tests).
// - A task's `lastStatus` moves one step per DescribeTasks in moto (RUNNING → DEACTIVATING → … →
//   STOPPED) while `desiredStatus` stays RUNNING until StopTask; counting uses ListTasks with
//   desiredStatus RUNNING, which both agree on.
// - moto does not check that roles exist or that ECS may read the secrets; it checks no IAM here.
import { randomBytes } from 'node:crypto';

import {
  CloudWatchLogsClient,
  DescribeLogGroupsCommand,
  ListTagsForResourceCommand,
} from '@aws-sdk/client-cloudwatch-logs';
import {
  DeleteNetworkInterfaceCommand,
  DescribeNetworkInterfacesCommand,
  DescribeSecurityGroupsCommand,
  EC2Client,
} from '@aws-sdk/client-ec2';
import {
  DescribeClustersCommand,
  DescribeTaskDefinitionCommand,
  DescribeTasksCommand,
  ECSClient,
} from '@aws-sdk/client-ecs';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import {
  DEFAULT_ECS_CLUSTER,
  ecsLaunchTemplate,
  EcsNetwork,
  ecsRunnerVariables,
  EcsTaskDefinitions,
  EcsWorkers,
  registerTaskDefinition,
  runLogGroupName,
  RunLogGroups,
  runTaskDefinitionInput,
  taskDefinitionInput,
  type RunNetwork,
} from '@sluice/core/ecs';
import { parseManifest, type RunnerConfig } from '@sluice/core';
import { testbedAwsClientConfig } from '@sluice/testing';

const config = testbedAwsClientConfig();
const ecs = new ECSClient(config);
const ec2 = new EC2Client(config);
const logs = new CloudWatchLogsClient(config);
const id = randomBytes(4).toString('hex');
const runId = `it-ecs-${id}`;
const cluster = `sluice-it-${id}`;
const ACCOUNT = '123456789012';
const executionRoleArn = `arn:aws:iam::${ACCOUNT}:role/sluice-${runId}-execution`;
const taskRoleArn = `arn:aws:iam::${ACCOUNT}:role/sluice-${runId}-task`;

const runnerConfig: RunnerConfig = {
  runId,
  queueUrl: `${config.endpoint}/${ACCOUNT}/sluice-${runId}-tasks`,
  deadLetterQueueUrl: `${config.endpoint}/${ACCOUNT}/sluice-${runId}-tasks-dlq`,
  input: { bucket: 'in-bucket', prefix: '', include: ['**'] },
  output: { bucket: 'out-bucket', prefix: 'out/' },
  maxAttempts: 3,
  idleSeconds: 5,
  env: { SIZE: '256' },
  secretEnv: ['TOKEN'],
};

afterAll(() => {
  ecs.destroy();
  ec2.destroy();
  logs.destroy();
});

describe('ECS workers on moto', () => {
  const workers = new EcsWorkers(ecs);
  const network = new EcsNetwork(ec2, { sleep: () => Promise.resolve(), deleteAttempts: 2 });
  let runTaskDefinitionArn = '';
  let resolved: RunNetwork;
  let started: string[] = [];

  beforeAll(async () => {
    const manifestText = JSON.stringify({
      name: `it-ecsw-${id}`,
      version: '1.0',
      image: 'algo:1',
      memory: 256,
      input: '/data/in/',
      output: '/data/out/',
      env: { SIZE: { default: '128' }, TOKEN: { secret: true } },
    });
    const algorithm = await registerTaskDefinition(
      new EcsTaskDefinitions(ecs),
      taskDefinitionInput({
        manifest: parseManifest(manifestText, 'algorithm.json'),
        manifestText,
        image: `127.0.0.1:5000/sluice/it-ecsw-${id}:1.0@sha256:${'c'.repeat(64)}`,
        region: config.region,
      }),
    );
    const described = await new EcsTaskDefinitions(ecs).describe(algorithm.arn);
    if (described === undefined) throw new Error(`task definition ${algorithm.arn} not found`);
    const variables = ecsRunnerVariables({ SIZE: '256', TOKEN: { fromSecret: 'watermark/token' } });
    const registered = await workers.registerRunTaskDefinition(
      runTaskDefinitionInput(described, {
        runId,
        region: config.region,
        executionRoleArn,
        taskRoleArn,
        secrets: variables.secrets,
      }),
    );
    runTaskDefinitionArn = registered.arn;
  });

  afterAll(async () => {
    await workers.stopAll(runId, cluster, 'test cleanup');
    await workers.deregisterRunTaskDefinitions(runId);
  });

  it('creates the cluster with the Fargate capacity providers once, then reuses it', async () => {
    const first = await workers.ensureCluster(cluster, { spot: true });
    const second = await workers.ensureCluster(cluster, { spot: true });
    const described = await ecs.send(new DescribeClustersCommand({ clusters: [cluster], include: ['TAGS'] }));

    expect(first).toMatchObject({ name: cluster, created: true });
    expect(second).toEqual({ ...first, created: false });
    expect(described.clusters?.[0]).toMatchObject({
      status: 'ACTIVE',
      capacityProviders: ['FARGATE', 'FARGATE_SPOT'],
      tags: [{ key: 'sluice:managed', value: 'true' }],
    });
    expect(DEFAULT_ECS_CLUSTER).toBe('sluice');
  });

  it('registers the run task definition with the secrets, the run log group and roles, and reuses it', async () => {
    const described = await ecs.send(
      new DescribeTaskDefinitionCommand({ taskDefinition: runTaskDefinitionArn, include: ['TAGS'] }),
    );
    const container = described.taskDefinition?.containerDefinitions?.[0];
    const again = await workers.registerRunTaskDefinition(
      runTaskDefinitionInput(
        { taskDefinition: described.taskDefinition ?? {}, tags: described.tags ?? [] },
        {
          runId,
          region: config.region,
          executionRoleArn,
          taskRoleArn,
          secrets: { TOKEN: 'watermark/token' },
        },
      ),
    );

    expect(described.taskDefinition).toMatchObject({
      family: `sluice-run-${runId}`,
      executionRoleArn,
      taskRoleArn,
      networkMode: 'awsvpc',
    });
    expect(container).toMatchObject({
      name: 'algorithm',
      environment: [{ name: 'SIZE', value: '128' }],
      secrets: [
        {
          name: 'TOKEN',
          valueFrom: `arn:aws:secretsmanager:${config.region}:${ACCOUNT}:secret:watermark/token`,
        },
      ],
      logConfiguration: {
        logDriver: 'awslogs',
        options: {
          'awslogs-group': `/sluice/runs/${runId}`,
          'awslogs-region': config.region,
          'awslogs-stream-prefix': runId,
        },
      },
    });
    expect(described.tags).toEqual(
      expect.arrayContaining([
        { key: 'sluice:run-id', value: runId },
        { key: 'sluice:managed', value: 'true' },
        { key: 'sluice:algorithm', value: `it-ecsw-${id}` },
      ]),
    );
    expect(again).toEqual({ arn: runTaskDefinitionArn, revision: 1, reused: true });
  });

  it('finds the default VPC’s subnets and makes the run’s egress-only security group once', async () => {
    resolved = await network.resolve(runId, { subnets: [], securityGroups: [], assignPublicIp: true });
    const again = await network.resolve(runId, { subnets: [], securityGroups: [], assignPublicIp: true });
    const group = (await ec2.send(new DescribeSecurityGroupsCommand({ GroupIds: resolved.securityGroups })))
      .SecurityGroups?.[0];

    expect(resolved.subnets.length).toBeGreaterThan(0);
    expect(resolved.subnets.every((subnet) => subnet.startsWith('subnet-'))).toBe(true);
    expect(resolved.createdSecurityGroup).toBe(resolved.securityGroups[0]);
    expect(again).toEqual({
      subnets: resolved.subnets,
      securityGroups: resolved.securityGroups,
      assignPublicIp: true,
      vpcId: resolved.vpcId,
    });
    expect(group).toMatchObject({ GroupName: `sluice-${runId}`, VpcId: resolved.vpcId, IpPermissions: [] });
    expect(group?.IpPermissionsEgress?.[0]?.IpRanges).toEqual([
      expect.objectContaining({ CidrIp: '0.0.0.0/0' }),
    ]);
    expect(group?.Tags).toEqual(expect.arrayContaining([{ Key: 'sluice:run-id', Value: runId }]));
  });

  it('keeps the job’s own subnets and security groups', async () => {
    const own = await network.resolve(runId, {
      subnets: resolved.subnets.slice(0, 1),
      securityGroups: ['sg-0abc12345'],
      assignPublicIp: false,
    });

    expect(own).toEqual({
      subnets: resolved.subnets.slice(0, 1),
      securityGroups: ['sg-0abc12345'],
      assignPublicIp: false,
    });
  });

  it('starts 12 tasks in two calls with the run’s overrides, counts them, and stops them all', async () => {
    const template = ecsLaunchTemplate({
      runId,
      cluster,
      taskDefinition: runTaskDefinitionArn,
      config: runnerConfig,
      compute: { launchType: 'FARGATE', spot: false, assignPublicIp: true },
      subnets: resolved.subnets,
      securityGroups: resolved.securityGroups,
      taskRoleArn,
      executionRoleArn,
      cpuUnits: 512,
      memoryMiB: 2048,
    });

    const report = await workers.start(template, 12);
    started = report.started;
    const running = await workers.count(runId, cluster);
    const [task] =
      (await ecs.send(new DescribeTasksCommand({ cluster, tasks: started.slice(0, 1), include: ['TAGS'] })))
        .tasks ?? [];

    expect(report).toMatchObject({ notStarted: 0, failures: [] });
    expect(started).toHaveLength(12);
    expect(running).toBe(12);
    expect(task).toMatchObject({
      taskDefinitionArn: runTaskDefinitionArn,
      startedBy: `sluice-${runId}`,
      group: `sluice:${runId}`,
      launchType: 'FARGATE',
      desiredStatus: 'RUNNING',
      overrides: {
        containerOverrides: [
          {
            name: 'algorithm',
            environment: [{ name: 'SLUICE_RUN', value: JSON.stringify(runnerConfig) }],
            memory: 2048,
          },
        ],
        taskRoleArn,
        executionRoleArn,
        cpu: '512',
        memory: '2048',
      },
      tags: expect.arrayContaining([
        { key: 'sluice:run-id', value: runId },
        { key: 'sluice:managed', value: 'true' },
      ]),
    });
    // The network configuration, as the task's network interface shows it.
    expect(task?.attachments?.[0]?.details).toEqual(
      expect.arrayContaining([{ name: 'subnetId', value: resolved.subnets[0] }]),
    );

    expect(await workers.stopAll(runId, cluster, 'sluice test: stop all')).toBe(12);
    expect(await workers.count(runId, cluster)).toBe(0);
    expect(await workers.stopAll(runId, cluster, 'again')).toBe(0);
  });

  it('counts nothing for another run or a cluster that does not exist', async () => {
    expect(await workers.count(`${runId}-other`, cluster)).toBe(0);
    expect(await workers.count(runId, `${cluster}-missing`)).toBe(0);
  });

  it('deletes the run’s security group at teardown, idempotently', async () => {
    // moto leaves each task's network interface in place (AWS deletes it when the task stops).
    const interfaces = await ec2.send(
      new DescribeNetworkInterfacesCommand({
        Filters: [{ Name: 'group-id', Values: resolved.securityGroups }],
      }),
    );
    for (const eni of interfaces.NetworkInterfaces ?? []) {
      if (eni.NetworkInterfaceId !== undefined)
        await ec2.send(new DeleteNetworkInterfaceCommand({ NetworkInterfaceId: eni.NetworkInterfaceId }));
    }

    expect(await network.deleteRunSecurityGroups(runId)).toEqual(resolved.securityGroups);
    expect(await network.deleteRunSecurityGroups(runId)).toEqual([]);
  });

  it('deregisters the run’s task definition revisions, idempotently', async () => {
    expect(await workers.deregisterRunTaskDefinitions(runId)).toBe(1);
    expect(await workers.deregisterRunTaskDefinitions(runId)).toBe(0);
  });
});

describe('the run log group on moto', () => {
  const groups = new RunLogGroups(logs);
  const logRun = `it-logs-${id}`;

  it('creates it tagged with a retention, reuses it, and deletes it twice', async () => {
    const first = await groups.ensure(logRun);
    const second = await groups.ensure(logRun, { retentionDays: 7 });
    const described = await logs.send(
      new DescribeLogGroupsCommand({ logGroupNamePrefix: runLogGroupName(logRun) }),
    );
    const group = described.logGroups?.find((g) => g.logGroupName === runLogGroupName(logRun));
    const tags = await logs.send(
      new ListTagsForResourceCommand({ resourceArn: (group?.arn ?? '').replace(/:\*$/, '') }),
    );

    expect(first).toEqual({ name: `/sluice/runs/${logRun}`, created: true });
    expect(second).toEqual({ name: `/sluice/runs/${logRun}`, created: false });
    expect(group?.retentionInDays).toBe(7);
    expect(tags.tags).toEqual({ 'sluice:run-id': logRun, 'sluice:managed': 'true' });
    expect(await groups.delete(logRun)).toBe(true);
    expect(await groups.delete(logRun)).toBe(false);
  });
});

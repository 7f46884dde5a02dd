// The watcher Lambda's handler, in process, against moto: real S3 event notifications fill the run's
// queue, and the handler (the bundle's own entry, with its real SQS and ECS clients) reads that
// backlog, counts the run's tasks and starts Fargate tasks on moto's ECS.
//
// moto differs from AWS here, and the code is written for AWS:
// - moto cannot invoke a Lambda (it runs functions in Docker), so the handler is called in process.
// - ListTasks lists stopped tasks too unless desiredStatus is given; AWS defaults it to RUNNING. The
//   port passes RUNNING, which is right for both.
// - moto's tasks never start or stop: a started task stays RUNNING, which is what a worker busy with
//   the backlog looks like.
// - RunTask fails (HTTP 500) when no container of the task definition has its own memory.
// - An awsvpc task needs a real subnet and security group in moto's EC2: the default VPC's are used.
import { randomBytes } from 'node:crypto';

import { DescribeSecurityGroupsCommand, DescribeSubnetsCommand, EC2Client } from '@aws-sdk/client-ec2';
import {
  CreateClusterCommand,
  DeleteClusterCommand,
  DeregisterTaskDefinitionCommand,
  DescribeTasksCommand,
  ECSClient,
  ListTasksCommand,
  RegisterTaskDefinitionCommand,
  StopTaskCommand,
} from '@aws-sdk/client-ecs';
import { PutBucketNotificationConfigurationCommand, PutObjectCommand } from '@aws-sdk/client-s3';
import {
  DeleteMessageCommand,
  GetQueueAttributesCommand,
  ReceiveMessageCommand,
  SQSClient,
} from '@aws-sdk/client-sqs';
import { afterAll, beforeAll, describe, expect, it, jest } from '@jest/globals';
import { runTaskDefinitionFamily } from '@sluice/core/ecs';
import type { WatcherEvent } from '@sluice/core';
import { TestAwsAccount, type TestQueue } from '@sluice/testing';

import { awsWatcherPorts, handler } from '../../packages/lambda/src/index.js';
import { handleWatcherEvent, type WatcherLogLine } from '../../packages/lambda/src/watcher.js';

jest.setTimeout(120_000);

const runId = `watcher-${randomBytes(4).toString('hex')}`;

describe('watcher handler on moto', () => {
  const aws = new TestAwsAccount({ label: 'watcher' });
  const config = aws.clientConfig();
  const ecs = new ECSClient(config);
  const ec2 = new EC2Client(config);
  const cluster = `sl-watch-${aws.id}`;
  // The run's own task definition family, as provisioning names it: tasks are counted by it.
  const family = runTaskDefinitionFamily(runId);
  let bucket: string;
  let queue: TestQueue;
  let event: WatcherEvent;
  let taskDefinitionArn: string;
  const savedEnv = { ...process.env };

  async function counts(): Promise<{ visible: number; inFlight: number }> {
    const { Attributes } = await aws.sqs.send(
      new GetQueueAttributesCommand({
        QueueUrl: queue.url,
        AttributeNames: ['ApproximateNumberOfMessages', 'ApproximateNumberOfMessagesNotVisible'],
      }),
    );
    return {
      visible: Number(Attributes?.ApproximateNumberOfMessages),
      inFlight: Number(Attributes?.ApproximateNumberOfMessagesNotVisible),
    };
  }

  /** Uploads files and waits until S3 has delivered their notifications to the queue. */
  async function upload(keys: string[]): Promise<void> {
    const before = await counts();
    for (const key of keys) {
      await aws.s3.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: key }));
    }
    const deadline = Date.now() + 20_000;
    for (;;) {
      const now = await counts();
      if (now.visible + now.inFlight >= before.visible + before.inFlight + keys.length) return;
      if (Date.now() > deadline) throw new Error(`S3 notifications did not arrive: ${JSON.stringify(now)}`);
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
  }

  async function runningTasks(): Promise<number> {
    const listed = await ecs.send(
      new ListTasksCommand({ cluster, startedBy: runId, desiredStatus: 'RUNNING' }),
    );
    return listed.taskArns?.length ?? 0;
  }

  async function firstTask() {
    const listed = await ecs.send(
      new ListTasksCommand({ cluster, startedBy: runId, desiredStatus: 'RUNNING' }),
    );
    const described = await ecs.send(
      new DescribeTasksCommand({ cluster, tasks: listed.taskArns?.slice(0, 1) }),
    );
    return described.tasks?.[0];
  }

  beforeAll(async () => {
    bucket = await aws.createBucket('in');
    queue = await aws.createQueue('tasks');
    await aws.s3.send(
      new PutBucketNotificationConfigurationCommand({
        Bucket: bucket,
        NotificationConfiguration: {
          QueueConfigurations: [
            { QueueArn: queue.arn, Events: ['s3:ObjectCreated:*'], Filter: prefixFilter('in/') },
          ],
        },
      }),
    );
    // S3 sends an s3:TestEvent when the configuration is set; drained, so the backlog is the uploads.
    await drain(aws.sqs, queue.url);

    await ecs.send(new CreateClusterCommand({ clusterName: cluster }));
    const registered = await ecs.send(
      new RegisterTaskDefinitionCommand({
        family,
        networkMode: 'awsvpc',
        requiresCompatibilities: ['FARGATE'],
        cpu: '256',
        memory: '512',
        // moto cannot size a task whose containers have no memory of their own (a 500 from RunTask).
        containerDefinitions: [
          { name: 'algorithm', image: '127.0.0.1:5000/sluice/watch:1', essential: true, memory: 512 },
        ],
      }),
    );
    taskDefinitionArn = registered.taskDefinition?.taskDefinitionArn ?? '';
    const subnets = await ec2.send(
      new DescribeSubnetsCommand({ Filters: [{ Name: 'default-for-az', Values: ['true'] }] }),
    );
    const groups = await ec2.send(
      new DescribeSecurityGroupsCommand({ Filters: [{ Name: 'group-name', Values: ['default'] }] }),
    );
    event = {
      sluice: 'watcher/1',
      runId,
      queueUrl: queue.url,
      maxWorkers: 4,
      minWorkers: 0,
      launch: {
        cluster,
        taskDefinition: taskDefinitionArn,
        startedBy: runId,
        launchType: 'FARGATE',
        networkConfiguration: {
          awsvpcConfiguration: {
            subnets: [subnets.Subnets?.[0]?.SubnetId ?? 'no-subnet'],
            securityGroups: [groups.SecurityGroups?.[0]?.GroupId ?? 'no-group'],
            assignPublicIp: 'DISABLED',
          },
        },
        overrides: {
          containerOverrides: [
            { name: 'algorithm', environment: [{ name: 'SLUICE_RUN', value: JSON.stringify({ runId }) }] },
          ],
        },
        tags: [{ key: 'sluice:run-id', value: runId }],
      },
    };
    // The handler builds its clients from the environment, as in Lambda.
    Object.assign(process.env, {
      AWS_ENDPOINT_URL: aws.endpoint,
      AWS_REGION: aws.region,
      AWS_ACCESS_KEY_ID: config.credentials.accessKeyId,
      AWS_SECRET_ACCESS_KEY: config.credentials.secretAccessKey,
    });
  });

  afterAll(async () => {
    for (const key of ['AWS_ENDPOINT_URL', 'AWS_REGION', 'AWS_ACCESS_KEY_ID', 'AWS_SECRET_ACCESS_KEY']) {
      if (savedEnv[key] === undefined) Reflect.deleteProperty(process.env, key);
      else process.env[key] = savedEnv[key];
    }
    const listed = await ecs.send(new ListTasksCommand({ cluster }));
    for (const task of listed.taskArns ?? []) await ecs.send(new StopTaskCommand({ cluster, task }));
    await ecs.send(new DeregisterTaskDefinitionCommand({ taskDefinition: taskDefinitionArn }));
    await ecs.send(new DeleteClusterCommand({ cluster }));
    ecs.destroy();
    ec2.destroy();
    await aws.cleanup();
  });

  it('starts a worker per queued notification, then stops at maxWorkers', async () => {
    await upload(['in/a.txt', 'in/b c.txt']);
    const lines = captureLogLines();

    const first = await handler(event);
    await upload(['in/c+d.txt', 'in/e.txt', 'in/f.txt', 'in/g.txt']);
    const second = await handler(event);
    const third = await handler(event);

    expect(first).toMatchObject({
      outcome: 'checked',
      backlog: { visible: 2, inFlight: 0 },
      running: 0,
      started: 2,
    });
    expect(second).toMatchObject({
      outcome: 'checked',
      backlog: { visible: 6, inFlight: 0 },
      running: 2,
      started: 2,
    });
    expect(third).toMatchObject({ outcome: 'checked', running: 4, started: 0, failures: [] });
    expect(await runningTasks()).toBe(4);
    expect(await firstTask()).toMatchObject({
      startedBy: runId,
      launchType: 'FARGATE',
      overrides: { containerOverrides: [{ name: 'algorithm', environment: [{ name: 'SLUICE_RUN' }] }] },
    });
    expect(lines.stop()[0]).toEqual({
      time: expect.any(String),
      level: 'info',
      message: 'watcher: checked',
      run: runId,
      backlog: { visible: 2, inFlight: 0, delayed: 0 },
      running: 0,
      minWorkers: 0,
      maxWorkers: 4,
      toStart: 2,
      started: 2,
      failures: [],
    });
  });

  it('counts messages in flight as backlog, and ignores a real S3 event handed to it', async () => {
    // A worker holding a message: in flight, still work to do.
    const received = await aws.sqs.send(
      new ReceiveMessageCommand({ QueueUrl: queue.url, MaxNumberOfMessages: 1, VisibilityTimeout: 300 }),
    );
    const body = received.Messages?.[0]?.Body ?? '{}';
    const s3Event = JSON.parse(body) as { Records?: { eventSource?: string }[] };
    const ports = awsWatcherPorts({ sqs: aws.sqs, ecs });
    const logged: WatcherLogLine[] = [];

    const checked = await handleWatcherEvent({ ...event, maxWorkers: 10 }, ports, (line) =>
      logged.push(line),
    );
    const ignored = await handleWatcherEvent(s3Event, ports, (line) => logged.push(line));

    expect(s3Event.Records?.[0]?.eventSource).toBe('aws:s3');
    expect(checked).toMatchObject({ backlog: { visible: 5, inFlight: 1 }, running: 4, started: 2 });
    expect(ignored).toEqual({ outcome: 'ignored', reason: expect.stringContaining('an S3 or SQS event') });
    expect(logged[1]).toMatchObject({ level: 'error', message: 'watcher: event ignored' });
    expect(await runningTasks()).toBe(6);
  });

  it('reports what ECS refuses, and carries on', async () => {
    const ports = awsWatcherPorts({ sqs: aws.sqs, ecs });
    const missing = { ...event.launch, taskDefinition: `${family}-missing:1` };

    const refused = await handleWatcherEvent(
      { ...event, maxWorkers: 20, minWorkers: 8, launch: missing },
      ports,
      () => undefined,
    );

    expect(refused).toMatchObject({ outcome: 'checked', running: 6, toStart: 2, started: 0 });
    expect(refused.outcome === 'checked' ? refused.failures : []).toEqual([
      { reason: 'ClientException', detail: expect.stringContaining('ECS.RunTask') },
    ]);
    expect(await runningTasks()).toBe(6);
  });
});

function prefixFilter(prefix: string) {
  return { Key: { FilterRules: [{ Name: 'prefix' as const, Value: prefix }] } };
}

async function drain(sqs: SQSClient, url: string): Promise<void> {
  for (;;) {
    const { Messages } = await sqs.send(
      new ReceiveMessageCommand({ QueueUrl: url, MaxNumberOfMessages: 10, WaitTimeSeconds: 1 }),
    );
    if (Messages === undefined || Messages.length === 0) return;
    for (const message of Messages) {
      await sqs.send(new DeleteMessageCommand({ QueueUrl: url, ReceiptHandle: message.ReceiptHandle }));
    }
  }
}

/** The handler's JSON log lines on stdout, parsed. */
function captureLogLines(): { stop: () => Record<string, unknown>[] } {
  const lines: Record<string, unknown>[] = [];
  const spy = jest.spyOn(process.stdout, 'write').mockImplementation((chunk: string | Uint8Array) => {
    const text = typeof chunk === 'string' ? chunk : Buffer.from(chunk).toString();
    for (const line of text.split('\n').filter((l) => l.startsWith('{'))) {
      lines.push(JSON.parse(line) as Record<string, unknown>);
    }
    return true;
  });
  return {
    stop: () => {
      spy.mockRestore();
      return lines;
    },
  };
}

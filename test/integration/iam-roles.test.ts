// Integration: the run's IAM roles (IamRunRoles) against the test bed's moto server, and moto's own
// IAM enforcement of the task role's policy on a moto server of this file's own.
//
// What moto's enforcement (INITIAL_NO_AUTH_ACTION_COUNT, or POST /moto-api/reset-auth at run time)
// can and cannot check, read from moto 5.2 (moto/iam/access_control.py, moto/core/authorization.py)
// and shown for the first three points by the last describe block below:
// - it checks the signature and the caller's identity policies (an IAM user's inline policies here);
// - S3 calls are matched against the bucket or object ARN, SQS calls against the queue ARN: the
//   task role's queue and ledger statements (those with a `Resource`) are enforced;
// - a statement without `Resource` counts as a grant whatever its effect (access_control.py: "For
//   trust policies, which doesn't contain resource segments … PERMITTED"), so the task role's
//   `NotResource` statements, which hold object reads and writes to the prefixes and keep them out of
//   every `_sluice/`, are not enforced: any object read or write passes;
// - conditions are not evaluated for identity policies (no context values are passed in), so
//   `s3:prefix` on ListBucket, `ecs:cluster` and `iam:PassedToService` count as always met;
// - ECS, Logs, ECR, Secrets Manager and the like are authorized against the resource `*`, so any
//   statement that names resources (the watcher's, the execution role's) allows them nothing;
// - its trust check understands only `AWS` principals (a `Service` principal, as every run role's
//   trust policy has, makes AssumeRole fail), so the task role's policy is held by a user here,
//   which moto enforces the same way.
// So moto proves the task role's queues and the policy's acceptance; @cloud-copilot/iam-simulate
// (packages/core/src/iam/policies.simulate.test.ts) proves the object scoping, the conditions and
// the other two roles.
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';

import {
  CreateAccessKeyCommand,
  CreateRoleCommand,
  CreateUserCommand,
  DeleteRoleCommand,
  GetRoleCommand,
  GetRolePolicyCommand,
  IAMClient,
  ListRoleTagsCommand,
  PutUserPolicyCommand,
} from '@aws-sdk/client-iam';
import {
  CreateBucketCommand,
  GetObjectCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  S3Client,
} from '@aws-sdk/client-s3';
import {
  CreateQueueCommand,
  DeleteQueueCommand,
  GetQueueAttributesCommand,
  ReceiveMessageCommand,
  SQSClient,
  SendMessageCommand,
} from '@aws-sdk/client-sqs';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { ConfigurationError, RUN_ID_TAG } from '@sluice/core';
import { IamRunRoles } from '@sluice/core/ecs';
import {
  RUN_ROLE_POLICY_NAME,
  ecsTasksTrustPolicy,
  executionRolePolicy,
  lambdaTrustPolicy,
  runRoleArns,
  runRoleName,
  secretArn,
  taskRolePolicy,
  watcherRolePolicy,
  type RunAccess,
} from '@sluice/core/iam';
import { REPOSITORY_ROOT, TESTBED_STATE_DIR, testbedAwsClientConfig } from '@sluice/testing';

import { startMoto, type StartedServer } from '../testbed/servers.js';

/** moto's default account. */
const ACCOUNT = '123456789012';
const config = testbedAwsClientConfig();
const iam = new IAMClient(config);
const roles = new IamRunRoles(iam);
const id = randomBytes(4).toString('hex');

function accessFor(runId: string, overrides: Partial<RunAccess> = {}): RunAccess {
  const where = { partition: 'aws', region: config.region, accountId: ACCOUNT };
  const arns = runRoleArns('aws', ACCOUNT, runId);
  return {
    ...where,
    runId,
    input: { bucket: `in-${id}`, prefix: 'incoming/' },
    output: { bucket: `out-${id}`, prefix: 'results/' },
    taskQueueArn: `arn:aws:sqs:${config.region}:${ACCOUNT}:sluice-${runId}-tasks`,
    deadLetterQueueArn: `arn:aws:sqs:${config.region}:${ACCOUNT}:sluice-${runId}-tasks-dlq`,
    logGroupName: '/sluice/it-iam',
    watcherLogGroupName: `/aws/lambda/sluice-${runId}-watch`,
    clusterArn: `arn:aws:ecs:${config.region}:${ACCOUNT}:cluster/sluice`,
    taskDefinitionFamily: 'sluice-it-iam',
    roleArns: { task: arns.task, execution: arns.execution },
    ...overrides,
  };
}

/** The inline policy as stored. AWS returns it URL-encoded; moto as it was put. Both are read. */
async function storedPolicy(roleName: string): Promise<unknown> {
  const output = await iam.send(
    new GetRolePolicyCommand({ RoleName: roleName, PolicyName: RUN_ROLE_POLICY_NAME }),
  );
  return parsePolicy(output.PolicyDocument ?? '');
}

function parsePolicy(text: string): unknown {
  return JSON.parse(text.trimStart().startsWith('{') ? text : decodeURIComponent(text)) as unknown;
}

async function storedTags(roleName: string): Promise<Record<string, string>> {
  const output = await iam.send(new ListRoleTagsCommand({ RoleName: roleName }));
  return Object.fromEntries((output.Tags ?? []).map((tag) => [tag.Key ?? '', tag.Value ?? '']));
}

const runIds: string[] = [];
function newRunId(label: string): string {
  const runId = `it-iam-${label}-${id}`;
  runIds.push(runId);
  return runId;
}

afterAll(async () => {
  for (const runId of runIds) await roles.deleteRunRoles(runId);
  iam.destroy();
});

describe('IamRunRoles on moto', () => {
  it('creates the three roles under the run path with their trust policy, inline policy and tags', async () => {
    const runId = newRunId('create');
    const access = accessFor(runId);

    const ensured = await roles.ensureRunRoles(access, {
      tags: { 'sluice:output-bucket': access.output.bucket },
    });

    expect(ensured).toEqual({
      arns: runRoleArns('aws', ACCOUNT, runId),
      created: ['task', 'execution', 'watcher'],
    });
    const role = (await iam.send(new GetRoleCommand({ RoleName: runRoleName(runId, 'task') }))).Role;
    expect(role?.Path).toBe(`/sluice/${runId}/`);
    expect(parsePolicy(role?.AssumeRolePolicyDocument ?? '')).toEqual(ecsTasksTrustPolicy(ACCOUNT));
    const watcher = (await iam.send(new GetRoleCommand({ RoleName: runRoleName(runId, 'watcher') }))).Role;
    expect(parsePolicy(watcher?.AssumeRolePolicyDocument ?? '')).toEqual(lambdaTrustPolicy());
    expect(await storedPolicy(runRoleName(runId, 'task'))).toEqual(taskRolePolicy(access));
    expect(await storedPolicy(runRoleName(runId, 'execution'))).toEqual(executionRolePolicy(access));
    expect(await storedPolicy(runRoleName(runId, 'watcher'))).toEqual(watcherRolePolicy(access));
    for (const kind of ['task', 'execution', 'watcher'] as const) {
      expect(await storedTags(runRoleName(runId, kind))).toEqual({
        [RUN_ID_TAG]: runId,
        'sluice:managed': 'true',
        'sluice:output-bucket': access.output.bucket,
      });
    }
  });

  it('reuses the roles on a second provision and updates their policies', async () => {
    const runId = newRunId('again');
    await roles.ensureRunRoles(accessFor(runId));
    const changed = accessFor(runId, {
      output: { bucket: `out-${id}`, prefix: 'elsewhere/' },
      secretArns: [secretArn('it-token', { partition: 'aws', region: config.region, accountId: ACCOUNT })],
    });

    const again = await roles.ensureRunRoles(changed);

    expect(again).toEqual({ arns: runRoleArns('aws', ACCOUNT, runId), created: [] });
    expect(await storedPolicy(runRoleName(runId, 'task'))).toEqual(taskRolePolicy(changed));
    expect(await storedPolicy(runRoleName(runId, 'execution'))).toEqual(executionRolePolicy(changed));
    expect((await roles.findRunRoles(runId)).map((r) => r.name).sort()).toEqual([
      runRoleName(runId, 'execution'),
      runRoleName(runId, 'task'),
      runRoleName(runId, 'watcher'),
    ]);
  });

  it('finds and deletes only the run roles, and deleting twice is fine', async () => {
    const runId = newRunId('delete');
    const neighbour = `${runId}-b`;
    runIds.push(neighbour);
    await roles.ensureRunRoles(accessFor(runId));
    await roles.ensureRunRoles(accessFor(neighbour));

    const deleted = await roles.deleteRunRoles(runId);
    const again = await roles.deleteRunRoles(runId);

    expect([...deleted].sort()).toEqual([
      runRoleName(runId, 'execution'),
      runRoleName(runId, 'task'),
      runRoleName(runId, 'watcher'),
    ]);
    expect(again).toEqual([]);
    expect(await roles.findRunRoles(runId)).toEqual([]);
    await expect(
      iam.send(new GetRoleCommand({ RoleName: runRoleName(runId, 'task') })),
    ).rejects.toMatchObject({
      name: 'NoSuchEntityException',
    });
    expect(await roles.findRunRoles(neighbour)).toHaveLength(3);
  });

  it('refuses to take over a role of the same name that is not the run’s', async () => {
    const runId = newRunId('taken');
    const name = runRoleName(runId, 'task');
    await iam.send(
      new CreateRoleCommand({
        RoleName: name,
        Path: `/sluice/${runId}/`,
        AssumeRolePolicyDocument: JSON.stringify(ecsTasksTrustPolicy(ACCOUNT)),
      }),
    );
    try {
      const attempt = roles.ensureRunRoles(accessFor(runId));

      await expect(attempt).rejects.toThrow(ConfigurationError);
      await expect(attempt).rejects.toThrow(`IAM role ${name} already exists`);
    } finally {
      await iam.send(new DeleteRoleCommand({ RoleName: name }));
    }
  });

  it('refuses role ARNs for the watcher that are not the run roles', async () => {
    const runId = newRunId('arns');
    const access = accessFor(runId, {
      roleArns: {
        task: `arn:aws:iam::${ACCOUNT}:role/admin`,
        execution: runRoleArns('aws', ACCOUNT, runId).execution,
      },
    });

    await expect(roles.ensureRunRoles(access)).rejects.toThrow('as the task role');
    expect(await roles.findRunRoles(runId)).toEqual([]);
  });
});

describe("moto's IAM enforcement of the task role policy (a moto server of this file's own)", () => {
  let moto: StartedServer;
  let admin: { s3: S3Client; sqs: SQSClient; iam: IAMClient };
  let runner: { s3: S3Client; sqs: SQSClient };
  let queues: { task: string; dlq: string; other: string };
  const runId = `it-iam-enforce-${id}`;
  const userName = `runner-${id}`;

  beforeAll(async () => {
    // A server of its own: enforcement is switched on for the whole server, and the shared one
    // must keep answering every other test with dummy credentials.
    moto = await startMoto(
      join(REPOSITORY_ROOT, '.venv'),
      join(TESTBED_STATE_DIR, 'logs', `moto-iam-${id}.log`),
    );
    const base = { endpoint: moto.url, region: config.region, credentials: { ...config.credentials } };
    admin = {
      s3: new S3Client({ ...base, forcePathStyle: true }),
      sqs: new SQSClient(base),
      iam: new IAMClient(base),
    };
    await admin.s3.send(new CreateBucketCommand({ Bucket: 'photos' }));
    await admin.s3.send(new CreateBucketCommand({ Bucket: 'thumbs' }));
    const queueArn = async (name: string): Promise<string> => {
      const url = (await admin.sqs.send(new CreateQueueCommand({ QueueName: name }))).QueueUrl ?? '';
      const attributes = await admin.sqs.send(
        new GetQueueAttributesCommand({ QueueUrl: url, AttributeNames: ['QueueArn'] }),
      );
      return url + '|' + (attributes.Attributes?.QueueArn ?? '');
    };
    const [task, dlq, other] = await Promise.all([
      queueArn(`sluice-${runId}-tasks`),
      queueArn(`sluice-${runId}-tasks-dlq`),
      queueArn(`sluice-other-${id}-tasks`),
    ]);
    const url = (pair: string | undefined): string => pair?.split('|')[0] ?? '';
    const arn = (pair: string | undefined): string => pair?.split('|')[1] ?? '';
    queues = { task: url(task), dlq: url(dlq), other: url(other) };
    const access = accessFor(runId, {
      input: { bucket: 'photos', prefix: 'incoming/' },
      output: { bucket: 'thumbs', prefix: 'small/' },
      taskQueueArn: arn(task),
      deadLetterQueueArn: arn(dlq),
    });
    // Seed objects while no credentials are checked.
    await admin.s3.send(new PutObjectCommand({ Bucket: 'photos', Key: 'incoming/cat.jpg', Body: 'cat' }));
    await admin.s3.send(new PutObjectCommand({ Bucket: 'photos', Key: 'private/passport.jpg', Body: 'no' }));
    await admin.s3.send(new PutObjectCommand({ Bucket: 'thumbs', Key: 'small/other.png', Body: 'png' }));
    // The policy held by a user: moto cannot assume a role whose trust names a service principal.
    await admin.iam.send(new CreateUserCommand({ UserName: userName }));
    await admin.iam.send(
      new PutUserPolicyCommand({
        UserName: userName,
        PolicyName: RUN_ROLE_POLICY_NAME,
        PolicyDocument: JSON.stringify(taskRolePolicy(access)),
      }),
    );
    const key = (await admin.iam.send(new CreateAccessKeyCommand({ UserName: userName }))).AccessKey;
    const credentials = { accessKeyId: key?.AccessKeyId ?? '', secretAccessKey: key?.SecretAccessKey ?? '' };
    runner = {
      s3: new S3Client({ ...base, credentials, forcePathStyle: true }),
      sqs: new SQSClient({ ...base, credentials }),
    };
    // From now on moto checks every request's signature and policies.
    const switched = await fetch(`${moto.url}/moto-api/reset-auth`, { method: 'POST', body: '0' });
    expect(switched.status).toBe(200);
  });

  afterAll(async () => {
    // The server and everything in it (user, buckets, queues) go with it.
    for (const client of [admin.s3, admin.sqs, admin.iam, runner.s3, runner.sqs]) client.destroy();
    await moto.stop();
  });

  /**
   * 'denied' when moto refused the call. moto answers an SQS denial in XML while the SDK speaks
   * JSON to SQS, so the SDK fails to parse it: the status (403) and the raw body tell then.
   */
  async function outcome(call: Promise<unknown>): Promise<string> {
    try {
      await call;
      return 'allowed';
    } catch (thrown: unknown) {
      const error = thrown as {
        name?: string;
        $metadata?: { httpStatusCode?: number };
        $response?: { statusCode?: number };
        $responseBodyText?: string;
      };
      const status = error.$metadata?.httpStatusCode ?? error.$response?.statusCode;
      if (/AccessDenied/.test(error.name ?? '') || status === 403) return 'denied';
      return `failed otherwise: ${error.name ?? '?'} ${String(status)} ${error.$responseBodyText ?? ''}`;
    }
  }

  it('lets the runner use its queues, its input prefix, its ledger and its output prefix', async () => {
    await runner.sqs.send(new SendMessageCommand({ QueueUrl: queues.task, MessageBody: 'task' }));
    await runner.sqs.send(new SendMessageCommand({ QueueUrl: queues.dlq, MessageBody: 'failed' }));
    const received = await runner.sqs.send(
      new ReceiveMessageCommand({ QueueUrl: queues.task, WaitTimeSeconds: 0 }),
    );
    const input = await runner.s3.send(new GetObjectCommand({ Bucket: 'photos', Key: 'incoming/cat.jpg' }));
    await runner.s3.send(
      new PutObjectCommand({
        Bucket: 'thumbs',
        Key: `_sluice/${runId}/tasks/0123456789abcdef01234567.json`,
        Body: '{}',
      }),
    );
    await runner.s3.send(
      new PutObjectCommand({ Bucket: 'thumbs', Key: 'small/cat.jpg/cat-256.png', Body: 'png' }),
    );

    expect(received.Messages).toHaveLength(1);
    expect(await input.Body?.transformToString()).toBe('cat');
  });

  it('denies another queue, the dead letters, the queue attributes and queue deletion', async () => {
    const calls: Record<string, () => Promise<unknown>> = {
      'receive from another run’s queue': () =>
        runner.sqs.send(new ReceiveMessageCommand({ QueueUrl: queues.other, WaitTimeSeconds: 0 })),
      'receive from the dead-letter queue': () =>
        runner.sqs.send(new ReceiveMessageCommand({ QueueUrl: queues.dlq, WaitTimeSeconds: 0 })),
      'read the queue attributes': () =>
        runner.sqs.send(new GetQueueAttributesCommand({ QueueUrl: queues.task, AttributeNames: ['All'] })),
      'delete the task queue': () => runner.sqs.send(new DeleteQueueCommand({ QueueUrl: queues.task })),
    };
    const outcomes: Record<string, string> = {};

    for (const [what, call] of Object.entries(calls)) outcomes[what] = await outcome(call());

    expect(outcomes).toEqual(Object.fromEntries(Object.keys(calls).map((what) => [what, 'denied'])));
  });

  it('does not evaluate NotResource: object reads and writes outside the prefixes pass (iam-simulate denies them)', async () => {
    const calls: Record<string, () => Promise<unknown>> = {
      'read another prefix of the input bucket': () =>
        runner.s3.send(new GetObjectCommand({ Bucket: 'photos', Key: 'private/passport.jpg' })),
      'overwrite an input': () =>
        runner.s3.send(new PutObjectCommand({ Bucket: 'photos', Key: 'incoming/cat.jpg', Body: 'dog' })),
      'read a result': () =>
        runner.s3.send(new GetObjectCommand({ Bucket: 'thumbs', Key: 'small/other.png' })),
      'write another run’s ledger': () =>
        runner.s3.send(
          new PutObjectCommand({ Bucket: 'thumbs', Key: '_sluice/other-run/tasks/x.json', Body: '{}' }),
        ),
      'overwrite the run state': () =>
        runner.s3.send(
          new PutObjectCommand({ Bucket: 'thumbs', Key: `_sluice/${runId}/run.json`, Body: '{}' }),
        ),
    };
    const outcomes: Record<string, string> = {};

    for (const [what, call] of Object.entries(calls)) outcomes[what] = await outcome(call());

    // This documents moto's limit rather than the policy: the simulator refuses every one of these.
    expect(outcomes).toEqual(Object.fromEntries(Object.keys(calls).map((what) => [what, 'allowed'])));
  });

  it('does not evaluate conditions: ListBucket outside the prefix passes (iam-simulate denies it)', async () => {
    // The task role allows ListBucket only with s3:prefix under the input prefix; moto ignores the
    // condition, so this documents the limit rather than the policy.
    const listed = await runner.s3.send(new ListObjectsV2Command({ Bucket: 'photos', Prefix: 'private/' }));

    expect(listed.Contents?.map((o) => o.Key)).toEqual(['private/passport.jpg']);
  });
});

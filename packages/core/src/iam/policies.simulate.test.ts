// The run roles' policies enforced, offline: @cloud-copilot/iam-simulate evaluates each document as
// IAM would (resources, wildcards, condition operators) for the calls the runner, the ECS agent and
// the watcher make, and for the calls they must not be able to make. The allowed lists mirror the
// code (packages/runner: every S3 and SQS command it sends, with the keys it sends them for).
import { describe, expect, it } from '@jest/globals';
import { runSimulation, type EvaluationResult } from '@cloud-copilot/iam-simulate';

import {
  brokerRolePolicy,
  ecsTasksTrustPolicy,
  executionRolePolicy,
  lambdaTrustPolicy,
  runRoleArn,
  runRoleArns,
  sealedTaskRolePolicy,
  secretArn,
  taskRolePolicy,
  watcherRolePolicy,
  type PolicyDocument,
  type RunAccess,
} from './policies.js';

const account = '123456789012';
const where = { partition: 'aws', region: 'eu-west-1', accountId: account } as const;
const runId = 'thumbs-3f9a0c12';
const otherRun = 'thumbs-0badc0de';
const roles = { ...runRoleArns('aws', account, runId), broker: runRoleArn('aws', account, runId, 'broker') };
const cluster = `arn:aws:ecs:eu-west-1:${account}:cluster/sluice`;
const queue = (name: string): string => `arn:aws:sqs:eu-west-1:${account}:${name}`;

const access: RunAccess = {
  ...where,
  runId,
  input: { bucket: 'photos', prefix: 'incoming/' },
  output: { bucket: 'thumbs', prefix: 'small/' },
  taskQueueArn: queue(`sluice-${runId}-tasks`),
  deadLetterQueueArn: queue(`sluice-${runId}-tasks-dlq`),
  logGroupName: '/sluice/thumbs',
  watcherLogGroupName: `/aws/lambda/sluice-${runId}-watch`,
  clusterArn: cluster,
  taskDefinitionFamily: 'sluice-thumbs',
  imageRepositoryArn: `arn:aws:ecr:eu-west-1:${account}:repository/sluice/thumbs`,
  secretArns: [secretArn('watermark-token', where)],
  roleArns: { task: roles.task, execution: roles.execution },
};

type Decision = EvaluationResult;

interface Call {
  readonly action: string;
  readonly resource: string;
  readonly context?: Readonly<Record<string, string>>;
}

/** IAM's decision for one call by a principal holding `policy` (no resource policy, no SCP). */
async function decide(principal: string, policy: PolicyDocument, call: Call): Promise<Decision> {
  const result = await runSimulation(
    {
      request: {
        principal,
        action: call.action,
        resource: { resource: call.resource, accountId: account },
        contextVariables: { ...call.context },
      },
      identityPolicies: [{ name: 'sluice-run', policy }],
      serviceControlPolicies: [],
      resourceControlPolicies: [],
    },
    {},
  );
  if (result.resultType === 'error') {
    throw new Error(`cannot simulate ${call.action} on ${call.resource}: ${JSON.stringify(result.errors)}`);
  }
  return result.overallResult;
}

/** The calls of `calls` that IAM would not allow, as `action resource` lines (empty when all pass). */
async function refused(principal: string, policy: PolicyDocument, calls: readonly Call[]): Promise<string[]> {
  const out: string[] = [];
  for (const call of calls) {
    if ((await decide(principal, policy, call)) !== 'Allowed') out.push(show(call));
  }
  return out;
}

/** The calls of `calls` that IAM would allow. */
async function allowed(principal: string, policy: PolicyDocument, calls: readonly Call[]): Promise<string[]> {
  const out: string[] = [];
  for (const call of calls) {
    if ((await decide(principal, policy, call)) === 'Allowed') out.push(show(call));
  }
  return out;
}

function show(call: Call): string {
  const context = call.context === undefined ? '' : ` ${JSON.stringify(call.context)}`;
  return `${call.action} ${call.resource}${context}`;
}

const s3 = (path: string): string => `arn:aws:s3:::${path}`;
const brokerFunction = (run: string): string =>
  `arn:aws:lambda:eu-west-1:${account}:function:sluice-${run}-broker`;
const task = '0123456789abcdef01234567';
const ledger = `thumbs/_sluice/${runId}`;

/** Every S3 and SQS call a direct-mode runner makes (the broker makes them in sealed mode). */
const runnerCalls: readonly Call[] = [
  // runner.ts, task-processor.ts, heartbeat.ts: the task queue and the dead-letter queue
  { action: 'sqs:ReceiveMessage', resource: access.taskQueueArn },
  { action: 'sqs:DeleteMessage', resource: access.taskQueueArn },
  { action: 'sqs:ChangeMessageVisibility', resource: access.taskQueueArn },
  { action: 'sqs:SendMessage', resource: access.taskQueueArn },
  { action: 'sqs:SendMessage', resource: access.deadLetterQueueArn },
  // the input download (GetObject with If-Match, with VersionId when the event has one)
  { action: 's3:GetObject', resource: s3('photos/incoming/2024/cat.jpg') },
  { action: 's3:GetObjectVersion', resource: s3('photos/incoming/2024/cat.jpg') },
  // S3's 404-or-403 check for a missing input: ListBucket with the key as s3:prefix
  {
    action: 's3:ListBucket',
    resource: s3('photos'),
    context: { 's3:prefix': 'incoming/2024/cat.jpg' },
  },
  // ledger.ts: marker, record, rejected messages
  { action: 's3:GetObject', resource: s3(`${ledger}/done/${task}.json`) },
  { action: 's3:PutObject', resource: s3(`${ledger}/done/${task}.json`) },
  { action: 's3:GetObject', resource: s3(`${ledger}/tasks/${task}.json`) },
  { action: 's3:PutObject', resource: s3(`${ledger}/tasks/${task}.json`) },
  { action: 's3:PutObject', resource: s3(`${ledger}/rejected/msg-1.json`) },
  {
    action: 's3:ListBucket',
    resource: s3('thumbs'),
    context: { 's3:prefix': `_sluice/${runId}/done/${task}.json` },
  },
  // task-processor.ts and task-commit.ts: outputs straight to their final keys (multipart when
  // large), an earlier attempt's leftovers found (listing, HeadObject) and removed, the log
  { action: 's3:PutObject', resource: s3('thumbs/small/2024/cat.jpg/cat-256.png') },
  { action: 's3:AbortMultipartUpload', resource: s3('thumbs/small/2024/cat.jpg/big.bin') },
  { action: 's3:GetObject', resource: s3('thumbs/small/2024/cat.jpg/cat-256.png') },
  { action: 's3:DeleteObject', resource: s3('thumbs/small/2024/cat.jpg/cat-256.png') },
  {
    action: 's3:ListBucket',
    resource: s3('thumbs'),
    context: { 's3:prefix': 'small/2024/cat.jpg/' },
  },
  { action: 's3:PutObject', resource: s3(`${ledger}/logs/${task}/1.log`) },
  { action: 's3:AbortMultipartUpload', resource: s3(`${ledger}/logs/${task}/1.log`) },
];

describe('the task role, simulated', () => {
  const policy = taskRolePolicy(access);

  it('allows every call the runner makes for its run', async () => {
    expect(await refused(roles.task, policy, runnerCalls)).toEqual([]);
  });

  it('denies everything outside its run', async () => {
    const outside: Call[] = [
      // another run's queues, its own queues' administration, and reading the dead letters
      { action: 'sqs:ReceiveMessage', resource: queue(`sluice-${otherRun}-tasks`) },
      { action: 'sqs:SendMessage', resource: queue(`sluice-${otherRun}-tasks`) },
      { action: 'sqs:SendMessage', resource: queue(`sluice-${otherRun}-tasks-dlq`) },
      { action: 'sqs:ReceiveMessage', resource: access.deadLetterQueueArn },
      { action: 'sqs:DeleteMessage', resource: access.deadLetterQueueArn },
      { action: 'sqs:DeleteQueue', resource: access.taskQueueArn },
      { action: 'sqs:PurgeQueue', resource: access.taskQueueArn },
      { action: 'sqs:SetQueueAttributes', resource: access.taskQueueArn },
      { action: 'sqs:GetQueueAttributes', resource: access.taskQueueArn },
      // another prefix of the input bucket, another bucket, and changing inputs
      { action: 's3:GetObject', resource: s3('photos/private/passport.jpg') },
      { action: 's3:GetObject', resource: s3('photos/incoming-old/cat.jpg') },
      { action: 's3:GetObject', resource: s3('photos/_sluice/thumbs-3f9a0c12/end') },
      { action: 's3:GetObject', resource: s3('payroll/incoming/2024/cat.jpg') },
      { action: 's3:PutObject', resource: s3('photos/incoming/2024/cat.jpg') },
      { action: 's3:DeleteObject', resource: s3('photos/incoming/2024/cat.jpg') },
      // listing: without the prefix condition, another prefix, another run's ledger
      { action: 's3:ListBucket', resource: s3('photos') },
      { action: 's3:ListBucket', resource: s3('photos'), context: { 's3:prefix': 'private/' } },
      { action: 's3:ListBucket', resource: s3('photos'), context: { 's3:prefix': '' } },
      { action: 's3:ListBucket', resource: s3('thumbs') },
      { action: 's3:ListBucket', resource: s3('thumbs'), context: { 's3:prefix': '_sluice/' } },
      { action: 's3:ListBucket', resource: s3('thumbs'), context: { 's3:prefix': 'large/' } },
      { action: 's3:ListBucket', resource: s3('payroll'), context: { 's3:prefix': 'incoming/' } },
      // results: written, read and removed only under the output prefix
      { action: 's3:PutObject', resource: s3('thumbs/large/cat.png') },
      { action: 's3:GetObject', resource: s3('thumbs/large/cat.png') },
      { action: 's3:DeleteObject', resource: s3('thumbs/large/cat.png') },
      { action: 's3:AbortMultipartUpload', resource: s3('thumbs/large/cat.png') },
      { action: 's3:PutObject', resource: s3('payroll/small/x') },
      { action: 's3:DeleteObject', resource: s3('payroll/small/x') },
      // the ledger: run state, results, the records of another run, deleting records or markers
      { action: 's3:PutObject', resource: s3(`${ledger}/run.json`) },
      { action: 's3:GetObject', resource: s3(`${ledger}/run.json`) },
      { action: 's3:PutObject', resource: s3(`${ledger}/results.json`) },
      { action: 's3:GetObject', resource: s3(`thumbs/_sluice/${otherRun}/done/${task}.json`) },
      { action: 's3:PutObject', resource: s3(`thumbs/_sluice/${otherRun}/tasks/${task}.json`) },
      { action: 's3:DeleteObject', resource: s3(`${ledger}/done/${task}.json`) },
      { action: 's3:DeleteObject', resource: s3(`${ledger}/tasks/${task}.json`) },
      { action: 's3:DeleteObject', resource: s3(`${ledger}/logs/${task}/1.log`) },
      // the buckets themselves
      { action: 's3:DeleteBucket', resource: s3('photos') },
      { action: 's3:PutBucketNotification', resource: s3('photos') },
      { action: 's3:PutBucketPolicy', resource: s3('thumbs') },
      // other services
      { action: 'ecs:RunTask', resource: `arn:aws:ecs:eu-west-1:${account}:task-definition/sluice-thumbs:1` },
      { action: 'iam:PassRole', resource: roles.task },
      { action: 'iam:CreateRole', resource: `arn:aws:iam::${account}:role/escalate` },
      { action: 'sts:AssumeRole', resource: roles.watcher },
      {
        action: 'logs:PutLogEvents',
        resource: `arn:aws:logs:eu-west-1:${account}:log-group:/sluice/thumbs:log-stream:x`,
      },
      {
        action: 'secretsmanager:GetSecretValue',
        resource: `${secretArn('watermark-token', where).slice(0, -6)}AbCdEf`,
      },
    ];

    expect(await allowed(roles.task, policy, outside)).toEqual([]);
  });
});

describe('the execution role, simulated', () => {
  const policy = executionRolePolicy(access);
  const repository = (name: string): string => `arn:aws:ecr:eu-west-1:${account}:repository/${name}`;
  const stream = (group: string): string =>
    `arn:aws:logs:eu-west-1:${account}:log-group:${group}:log-stream:runner/algorithm/0a1b2c`;
  const secret = (name: string): string => `arn:aws:secretsmanager:eu-west-1:${account}:secret:${name}`;

  it('allows pulling the image, writing the runner logs and reading the named secret', async () => {
    const agentCalls: Call[] = [
      { action: 'ecr:GetAuthorizationToken', resource: '*' },
      { action: 'ecr:BatchCheckLayerAvailability', resource: repository('sluice/thumbs') },
      { action: 'ecr:BatchGetImage', resource: repository('sluice/thumbs') },
      { action: 'ecr:GetDownloadUrlForLayer', resource: repository('sluice/thumbs') },
      { action: 'logs:CreateLogStream', resource: stream('/sluice/thumbs') },
      { action: 'logs:PutLogEvents', resource: stream('/sluice/thumbs') },
      { action: 'secretsmanager:GetSecretValue', resource: secret('watermark-token-AbCdEf') },
    ];

    expect(await refused(roles.execution, policy, agentCalls)).toEqual([]);
  });

  it('denies other repositories, log groups and secrets', async () => {
    const outside: Call[] = [
      { action: 'ecr:BatchGetImage', resource: repository('sluice/other') },
      { action: 'ecr:PutImage', resource: repository('sluice/thumbs') },
      { action: 'logs:PutLogEvents', resource: stream('/sluice/other') },
      { action: 'logs:PutLogEvents', resource: stream('/sluice/thumbs-2') },
      {
        action: 'logs:DeleteLogGroup',
        resource: `arn:aws:logs:eu-west-1:${account}:log-group:/sluice/thumbs`,
      },
      { action: 'secretsmanager:GetSecretValue', resource: secret('database-password-AbCdEf') },
      { action: 'secretsmanager:GetSecretValue', resource: secret('watermark-token-extra-AbCdEf') },
      { action: 'ssm:GetParameters', resource: `arn:aws:ssm:eu-west-1:${account}:parameter/sluice/api-key` },
      { action: 's3:GetObject', resource: s3('photos/incoming/cat.jpg') },
      { action: 'sqs:ReceiveMessage', resource: access.taskQueueArn },
    ];

    expect(await allowed(roles.execution, policy, outside)).toEqual([]);
  });
});

describe('the watcher role, simulated', () => {
  const policy = watcherRolePolicy(access);
  const ecs = `arn:aws:ecs:eu-west-1:${account}`;
  const inCluster = { 'ecs:cluster': cluster };
  const otherCluster = { 'ecs:cluster': `${ecs}:cluster/production` };
  const toEcs = { 'iam:PassedToService': 'ecs-tasks.amazonaws.com' };
  const ownLogs = `arn:aws:logs:eu-west-1:${account}:log-group:/aws/lambda/sluice-${runId}-watch`;

  it('allows reading the backlog, starting and seeing runners in the cluster and passing the run roles', async () => {
    const watcherCalls: Call[] = [
      { action: 'sqs:GetQueueAttributes', resource: access.taskQueueArn },
      { action: 'ecs:RunTask', resource: `${ecs}:task-definition/sluice-thumbs:7`, context: inCluster },
      {
        action: 'ecs:TagResource',
        resource: `${ecs}:task/sluice/0a1b2c3d`,
        context: { 'ecs:CreateAction': 'RunTask' },
      },
      { action: 'ecs:ListTasks', resource: `${ecs}:container-instance/sluice/*`, context: inCluster },
      { action: 'ecs:DescribeTasks', resource: `${ecs}:task/sluice/0a1b2c3d`, context: inCluster },
      { action: 'iam:PassRole', resource: roles.task, context: toEcs },
      { action: 'iam:PassRole', resource: roles.execution, context: toEcs },
      { action: 'logs:CreateLogGroup', resource: ownLogs },
      { action: 'logs:CreateLogStream', resource: `${ownLogs}:log-stream:2024/01/01/[$LATEST]abc` },
      { action: 'logs:PutLogEvents', resource: `${ownLogs}:log-stream:2024/01/01/[$LATEST]abc` },
    ];

    expect(await refused(roles.watcher, policy, watcherCalls)).toEqual([]);
  });

  it('denies other clusters, families, roles and services', async () => {
    const outside: Call[] = [
      { action: 'ecs:RunTask', resource: `${ecs}:task-definition/sluice-thumbs:7`, context: otherCluster },
      { action: 'ecs:RunTask', resource: `${ecs}:task-definition/sluice-thumbs:7` },
      { action: 'ecs:RunTask', resource: `${ecs}:task-definition/sluice-payroll:1`, context: inCluster },
      { action: 'ecs:RunTask', resource: `${ecs}:task-definition/sluice-thumbs-2:1`, context: inCluster },
      { action: 'ecs:ListTasks', resource: `${ecs}:container-instance/production/*`, context: otherCluster },
      { action: 'ecs:DescribeTasks', resource: `${ecs}:task/production/0a1b2c3d`, context: otherCluster },
      { action: 'ecs:StopTask', resource: `${ecs}:task/sluice/0a1b2c3d`, context: inCluster },
      { action: 'ecs:TagResource', resource: `${ecs}:task/sluice/0a1b2c3d` },
      { action: 'ecs:RegisterTaskDefinition', resource: '*' },
      { action: 'iam:PassRole', resource: roles.watcher, context: toEcs },
      { action: 'iam:PassRole', resource: `arn:aws:iam::${account}:role/admin`, context: toEcs },
      {
        action: 'iam:PassRole',
        resource: roles.task,
        context: { 'iam:PassedToService': 'lambda.amazonaws.com' },
      },
      { action: 'sqs:GetQueueAttributes', resource: queue(`sluice-${otherRun}-tasks`) },
      { action: 'sqs:ReceiveMessage', resource: access.taskQueueArn },
      { action: 'logs:PutLogEvents', resource: `${ownLogs}-2:log-stream:x` },
      { action: 's3:GetObject', resource: s3('photos/incoming/cat.jpg') },
    ];

    expect(await allowed(roles.watcher, policy, outside)).toEqual([]);
  });
});

const sealedAccess: RunAccess = {
  ...access,
  broker: { functionArn: brokerFunction(runId), logGroupName: `/aws/lambda/sluice-${runId}-broker` },
};
const viaUrl = { 'lambda:FunctionUrlAuthType': 'AWS_IAM' } as const;

describe('the sealed task role, simulated', () => {
  const policy = sealedTaskRolePolicy(sealedAccess);

  it("allows calling its own run's broker through the function URL (IAM auth), as Lambda checks it", async () => {
    const calls: Call[] = [
      { action: 'lambda:InvokeFunctionUrl', resource: brokerFunction(runId), context: viaUrl },
      {
        action: 'lambda:InvokeFunction',
        resource: brokerFunction(runId),
        context: { 'lambda:InvokedViaFunctionUrl': 'true' },
      },
    ];

    expect(await refused(roles.task, policy, calls)).toEqual([]);
  });

  it("denies every S3 and SQS call on its own run's resources: the broker makes them", async () => {
    const own: Call[] = [
      { action: 's3:GetObject', resource: s3('photos/incoming/2024/cat.jpg') },
      { action: 's3:PutObject', resource: s3('thumbs/small/2024/cat.jpg/cat-256.png') },
      { action: 's3:ListBucket', resource: s3('photos'), context: { 's3:prefix': 'incoming/' } },
      { action: 'sqs:ReceiveMessage', resource: access.taskQueueArn },
      { action: 'sqs:SendMessage', resource: access.taskQueueArn },
      { action: 'sqs:DeleteMessage', resource: access.taskQueueArn },
      ...runnerCalls,
    ];

    expect(await allowed(roles.task, policy, own)).toEqual([]);
  });

  it("denies another run's broker, a public (NONE) URL, invoking through the API, and everything else", async () => {
    const outside: Call[] = [
      { action: 'lambda:InvokeFunctionUrl', resource: brokerFunction(otherRun), context: viaUrl },
      {
        action: 'lambda:InvokeFunction',
        resource: brokerFunction(otherRun),
        context: { 'lambda:InvokedViaFunctionUrl': 'true' },
      },
      {
        action: 'lambda:InvokeFunctionUrl',
        resource: brokerFunction(runId),
        context: { 'lambda:FunctionUrlAuthType': 'NONE' },
      },
      { action: 'lambda:InvokeFunctionUrl', resource: brokerFunction(runId) },
      { action: 'lambda:InvokeFunction', resource: brokerFunction(runId) },
      {
        action: 'lambda:InvokeFunctionUrl',
        resource: `arn:aws:lambda:eu-west-1:${account}:function:sluice-${runId}-watch`,
        context: viaUrl,
      },
      { action: 'lambda:GetFunctionConfiguration', resource: brokerFunction(runId) },
      { action: 'lambda:UpdateFunctionCode', resource: brokerFunction(runId) },
      { action: 'ecs:RunTask', resource: `arn:aws:ecs:eu-west-1:${account}:task-definition/sluice-thumbs:1` },
      { action: 'iam:PassRole', resource: roles.broker },
      { action: 'sts:AssumeRole', resource: roles.broker },
    ];

    expect(await allowed(roles.task, policy, outside)).toEqual([]);
  });
});

describe('the broker role, simulated', () => {
  const policy = brokerRolePolicy(sealedAccess);
  const logGroup = `arn:aws:logs:eu-west-1:${account}:log-group:/aws/lambda/sluice-${runId}-broker`;

  it('allows every call the direct runner made (the task control moved here), and its own logs', async () => {
    const calls: Call[] = [
      ...runnerCalls,
      { action: 'logs:CreateLogStream', resource: `${logGroup}:log-stream:2024/01/01/x` },
      { action: 'logs:PutLogEvents', resource: `${logGroup}:log-stream:2024/01/01/x` },
    ];

    expect(await refused(roles.broker, policy, calls)).toEqual([]);
  });

  it("denies another run's queue and ledger, and the watcher's logs", async () => {
    const outside: Call[] = [
      { action: 'sqs:ReceiveMessage', resource: queue(`sluice-${otherRun}-tasks`) },
      { action: 's3:GetObject', resource: s3(`thumbs/_sluice/${otherRun}/done/${task}.json`) },
      { action: 's3:PutObject', resource: s3(`${ledger}/run.json`) },
      { action: 's3:GetObject', resource: s3('photos/private/passport.jpg') },
      {
        action: 'logs:PutLogEvents',
        resource: `arn:aws:logs:eu-west-1:${account}:log-group:/aws/lambda/sluice-${runId}-watch:log-stream:x`,
      },
      { action: 'lambda:InvokeFunctionUrl', resource: brokerFunction(runId), context: viaUrl },
    ];

    expect(await allowed(roles.broker, policy, outside)).toEqual([]);
  });
});

describe('the trust policies, simulated', () => {
  /** Whether `service` may assume `role` under `trust`, asked with the given source account. */
  async function mayAssume(
    trust: PolicyDocument,
    service: string,
    sourceAccount?: string,
  ): Promise<Decision> {
    const result = await runSimulation(
      {
        request: {
          principal: service,
          action: 'sts:AssumeRole',
          resource: { resource: roles.task, accountId: account },
          contextVariables: sourceAccount === undefined ? {} : { 'aws:SourceAccount': sourceAccount },
        },
        identityPolicies: [],
        serviceControlPolicies: [],
        resourceControlPolicies: [],
        resourcePolicy: trust,
      },
      {},
    );
    if (result.resultType === 'error') throw new Error(JSON.stringify(result.errors));
    return result.overallResult;
  }

  it('lets ECS tasks of this account, and nobody else, assume the task and execution roles', async () => {
    const trust = ecsTasksTrustPolicy(account);

    expect(await mayAssume(trust, 'ecs-tasks.amazonaws.com', account)).toBe('Allowed');
    expect(await mayAssume(trust, 'ecs-tasks.amazonaws.com', '999999999999')).not.toBe('Allowed');
    expect(await mayAssume(trust, 'lambda.amazonaws.com', account)).not.toBe('Allowed');
  });

  it('lets Lambda, and nobody else, assume the watcher and broker roles', async () => {
    const trust = lambdaTrustPolicy();

    expect(await mayAssume(trust, 'lambda.amazonaws.com')).toBe('Allowed');
    expect(await mayAssume(trust, 'ecs-tasks.amazonaws.com')).not.toBe('Allowed');
  });
});

// The prefixes that made the task role reach past its run: an empty prefix (the default of
// output.prefix) is `<bucket>/*`, which holds every run's ledger `_sluice/<run-id>/`, and a prefix
// holding `*` or `?` was written into the ARN as an IAM wildcard.
describe('the task role, simulated with empty, shared and wildcard prefixes', () => {
  interface Layout {
    readonly name: string;
    readonly input: { readonly bucket: string; readonly prefix: string };
    readonly output: { readonly bucket: string; readonly prefix: string };
  }
  const layouts: readonly Layout[] = [
    {
      name: 'two buckets, empty prefixes',
      input: { bucket: 'photos', prefix: '' },
      output: { bucket: 'thumbs', prefix: '' },
    },
    {
      name: 'one bucket, empty prefixes',
      input: { bucket: 'data', prefix: '' },
      output: { bucket: 'data', prefix: '' },
    },
    {
      name: 'one bucket, empty output prefix',
      input: { bucket: 'data', prefix: 'incoming/' },
      output: { bucket: 'data', prefix: '' },
    },
    {
      name: 'one bucket, empty input prefix',
      input: { bucket: 'data', prefix: '' },
      output: { bucket: 'data', prefix: 'small/' },
    },
    // The simulator reads a requested key holding `*` or `?` as a pattern (a query over many keys),
    // so for these layouts "allows every call" shows only that the grant overlaps the key; the
    // escapes themselves are proved by the refusals below and by the `$` layout, whose keys it reads
    // literally.
    {
      name: 'wildcard characters in prefixes',
      input: { bucket: 'photos', prefix: 'team?/' },
      output: { bucket: 'thumbs', prefix: 'out*/' },
    },
    {
      name: 'a dollar sign in prefixes',
      input: { bucket: 'photos', prefix: 'cost$/' },
      output: { bucket: 'thumbs', prefix: 'a${b}/' },
    },
    {
      name: 'one bucket, ledger-like input prefix',
      input: { bucket: 'data', prefix: '_' },
      output: { bucket: 'data', prefix: '' },
    },
  ];

  /** Every call the runner makes for one input `2024/cat.jpg` of the run (as in the test above). */
  function runnerCalls(layout: Layout): Call[] {
    const { input, output } = layout;
    const own = `${output.bucket}/_sluice/${runId}`;
    const inputKey = `${input.prefix}2024/cat.jpg`;
    return [
      { action: 's3:GetObject', resource: s3(`${input.bucket}/${inputKey}`) },
      { action: 's3:GetObjectVersion', resource: s3(`${input.bucket}/${inputKey}`) },
      { action: 's3:ListBucket', resource: s3(input.bucket), context: { 's3:prefix': inputKey } },
      ...['done', 'tasks'].map((folder) => ({
        action: 's3:GetObject',
        resource: s3(`${own}/${folder}/${task}.json`),
      })),
      ...['done', 'logs', 'rejected', 'tasks'].map((folder) => ({
        action: 's3:PutObject',
        resource: s3(`${own}/${folder}/${task}.json`),
      })),
      { action: 's3:AbortMultipartUpload', resource: s3(`${own}/logs/${task}/1.log`) },
      {
        action: 's3:ListBucket',
        resource: s3(output.bucket),
        context: { 's3:prefix': `_sluice/${runId}/done/${task}.json` },
      },
      ...['s3:PutObject', 's3:AbortMultipartUpload', 's3:GetObject', 's3:DeleteObject'].map((action) => ({
        action,
        resource: s3(`${output.bucket}/${output.prefix}2024/cat.jpg/cat-256.png`),
      })),
      {
        action: 's3:ListBucket',
        resource: s3(output.bucket),
        context: { 's3:prefix': `${output.prefix}2024/cat.jpg/` },
      },
    ];
  }

  /** Reading, writing, deleting or listing another run's ledger, or this run's state files. */
  function forbiddenCalls(layout: Layout): Call[] {
    const buckets = [...new Set([layout.input.bucket, layout.output.bucket])];
    const keys = [
      `_sluice/${otherRun}/done/${task}.json`,
      `_sluice/${otherRun}/tasks/${task}.json`,
      `_sluice/${otherRun}/logs/${task}/1.log`,
      `_sluice/${otherRun}/staging/${task}/1/cat-256.png`,
      `_sluice/${otherRun}/results.json`,
      `_sluice/${otherRun}/run.json`,
      `_sluice/${otherRun}/end`,
      `_sluice/${runId}/run.json`,
      `_sluice/${runId}/results.json`,
      `_sluice/${runId}/end`,
      `_sluice/${runId}/other/x`,
      '_sluice/x',
    ];
    const objects = buckets.flatMap((bucket) =>
      keys.flatMap((key) =>
        [
          's3:GetObject',
          's3:GetObjectVersion',
          's3:PutObject',
          's3:DeleteObject',
          's3:AbortMultipartUpload',
        ].map((action) => ({ action, resource: s3(`${bucket}/${key}`) })),
      ),
    );
    const listings = buckets.flatMap((bucket) =>
      ['', '_', '_slu', '_sluice', '_sluice/', `_sluice/${otherRun}/`, `_sluice/${runId}`].map((prefix) => ({
        action: 's3:ListBucket',
        resource: s3(bucket),
        context: { 's3:prefix': prefix },
      })),
    );
    const ownLedger = `${layout.output.bucket}/_sluice/${runId}`;
    return [
      ...objects,
      ...listings,
      { action: 's3:GetObjectVersion', resource: s3(`${ownLedger}/tasks/${task}.json`) },
      { action: 's3:GetObject', resource: s3(`${ownLedger}/logs/${task}/1.log`) },
      { action: 's3:GetObject', resource: s3(`payroll/${layout.input.prefix}2024/cat.jpg`) },
      { action: 's3:PutObject', resource: s3(`payroll/${layout.output.prefix}x`) },
    ];
  }

  it.each(layouts)('$name: allows every call the runner makes', async (layout) => {
    const policy = taskRolePolicy({ ...access, input: layout.input, output: layout.output });

    expect(await refused(roles.task, policy, runnerCalls(layout))).toEqual([]);
  });

  it.each(layouts)("$name: denies other runs' ledgers and this run's state files", async (layout) => {
    const policy = taskRolePolicy({ ...access, input: layout.input, output: layout.output });

    expect(await allowed(roles.task, policy, forbiddenCalls(layout))).toEqual([]);
  });

  it('reads `team?/`, `out*/` and `$` literally: not teamB/, outside/ nor what a variable would make', async () => {
    const wildcards = taskRolePolicy({
      ...access,
      input: { bucket: 'photos', prefix: 'team?/' },
      output: { bucket: 'thumbs', prefix: 'out*/' },
    });
    const dollars = taskRolePolicy({
      ...access,
      input: { bucket: 'photos', prefix: 'cost$/' },
      output: { bucket: 'thumbs', prefix: 'a${b}/' },
    });

    expect(
      await allowed(roles.task, wildcards, [
        { action: 's3:GetObject', resource: s3('photos/teamB/cat.jpg') },
        { action: 's3:GetObjectVersion', resource: s3('photos/teamB/cat.jpg') },
        { action: 's3:ListBucket', resource: s3('photos'), context: { 's3:prefix': 'teamB/cat.jpg' } },
        { action: 's3:PutObject', resource: s3('thumbs/outside/cat.png') },
        { action: 's3:PutObject', resource: s3('thumbs/out/cat.png') },
      ]),
    ).toEqual([]);
    expect(
      await allowed(roles.task, dollars, [
        { action: 's3:GetObject', resource: s3('photos/cost/cat.jpg') },
        { action: 's3:PutObject', resource: s3('thumbs/a/cat.png') },
        { action: 's3:PutObject', resource: s3('thumbs/ab/cat.png') },
      ]),
    ).toEqual([]);
    expect(
      await refused(roles.task, dollars, [
        { action: 's3:GetObject', resource: s3('photos/cost$/cat.jpg') },
        { action: 's3:ListBucket', resource: s3('photos'), context: { 's3:prefix': 'cost$/cat.jpg' } },
        { action: 's3:PutObject', resource: s3('thumbs/a${b}/cat.png') },
      ]),
    ).toEqual([]);
  });
});

import { describe, expect, it } from '@jest/globals';

import {
  IAM_ROLE_NAME_MAX,
  RUN_ROLE_KINDS,
  ecsTasksTrustPolicy,
  executionRolePolicy,
  lambdaTrustPolicy,
  runRoleArn,
  runRoleArns,
  runRoleDocuments,
  sealedTaskRolePolicy,
  runRoleName,
  secretArn,
  taskRolePolicy,
  watcherRolePolicy,
  type RunAccess,
} from './policies.js';

const where = { partition: 'aws', region: 'eu-west-1', accountId: '123456789012' } as const;
const runId = 'thumbs-3f9a0c12';

const access: RunAccess = {
  ...where,
  runId,
  input: { bucket: 'photos', prefix: 'incoming/' },
  output: { bucket: 'thumbs', prefix: 'small/' },
  taskQueueArn: 'arn:aws:sqs:eu-west-1:123456789012:sluice-thumbs-3f9a0c12-tasks',
  deadLetterQueueArn: 'arn:aws:sqs:eu-west-1:123456789012:sluice-thumbs-3f9a0c12-tasks-dlq',
  logGroupName: '/sluice/thumbs',
  watcherLogGroupName: '/aws/lambda/sluice-thumbs-3f9a0c12-watch',
  clusterArn: 'arn:aws:ecs:eu-west-1:123456789012:cluster/sluice',
  taskDefinitionFamily: 'sluice-thumbs',
  imageRepositoryArn: 'arn:aws:ecr:eu-west-1:123456789012:repository/sluice/thumbs',
  secretArns: [secretArn('watermark-token', where)],
  parameterArns: ['arn:aws:ssm:eu-west-1:123456789012:parameter/sluice/api-key'],
  roleArns: runRoleArns('aws', '123456789012', runId),
};

describe('taskRolePolicy', () => {
  it('grants the runner its own queue, input prefix, ledger and output prefix, and nothing else', () => {
    expect(taskRolePolicy(access)).toEqual({
      Version: '2012-10-17',
      Statement: [
        {
          Sid: 'WorkTaskQueue',
          Effect: 'Allow',
          Action: [
            'sqs:ChangeMessageVisibility',
            'sqs:DeleteMessage',
            'sqs:ReceiveMessage',
            'sqs:SendMessage',
          ],
          Resource: ['arn:aws:sqs:eu-west-1:123456789012:sluice-thumbs-3f9a0c12-tasks'],
        },
        {
          Sid: 'MoveToDeadLetterQueue',
          Effect: 'Allow',
          Action: ['sqs:SendMessage'],
          Resource: ['arn:aws:sqs:eu-west-1:123456789012:sluice-thumbs-3f9a0c12-tasks-dlq'],
        },
        {
          Sid: 'ReadOutsideLedgers',
          Effect: 'Allow',
          Action: ['s3:GetObject', 's3:GetObjectVersion'],
          NotResource: ['arn:aws:s3:::photos/_sluice/*', 'arn:aws:s3:::thumbs/_sluice/*'],
        },
        {
          Sid: 'ReadOnlyInputsAndLedger',
          Effect: 'Deny',
          Action: ['s3:GetObject', 's3:GetObjectVersion'],
          NotResource: [
            'arn:aws:s3:::photos/incoming/*',
            'arn:aws:s3:::thumbs/small/*',
            'arn:aws:s3:::thumbs/_sluice/thumbs-3f9a0c12/done/*',
            'arn:aws:s3:::thumbs/_sluice/thumbs-3f9a0c12/tasks/*',
          ],
        },
        {
          Sid: 'ListInputPrefix',
          Effect: 'Allow',
          Action: ['s3:ListBucket'],
          Resource: ['arn:aws:s3:::photos'],
          Condition: {
            StringLike: { 's3:prefix': ['incoming/*'] },
            StringNotLike: {
              's3:prefix': ['', '_', '_s', '_sl', '_slu', '_slui', '_sluic', '_sluice', '_sluice/*'],
            },
          },
        },
        {
          Sid: 'ReadLedger',
          Effect: 'Allow',
          Action: ['s3:GetObject'],
          Resource: [
            'arn:aws:s3:::thumbs/_sluice/thumbs-3f9a0c12/done/*',
            'arn:aws:s3:::thumbs/_sluice/thumbs-3f9a0c12/tasks/*',
          ],
        },
        {
          Sid: 'WriteLedger',
          Effect: 'Allow',
          Action: ['s3:PutObject'],
          Resource: [
            'arn:aws:s3:::thumbs/_sluice/thumbs-3f9a0c12/done/*',
            'arn:aws:s3:::thumbs/_sluice/thumbs-3f9a0c12/logs/*',
            'arn:aws:s3:::thumbs/_sluice/thumbs-3f9a0c12/rejected/*',
            'arn:aws:s3:::thumbs/_sluice/thumbs-3f9a0c12/tasks/*',
          ],
        },
        {
          Sid: 'AbortLargeUploads',
          Effect: 'Allow',
          Action: ['s3:AbortMultipartUpload'],
          Resource: ['arn:aws:s3:::thumbs/_sluice/thumbs-3f9a0c12/logs/*'],
        },
        {
          Sid: 'ListResultsPrefix',
          Effect: 'Allow',
          Action: ['s3:ListBucket'],
          Resource: ['arn:aws:s3:::thumbs'],
          Condition: {
            StringLike: { 's3:prefix': ['small/*'] },
            StringNotLike: {
              's3:prefix': ['', '_', '_s', '_sl', '_slu', '_slui', '_sluic', '_sluice', '_sluice/*'],
            },
          },
        },
        {
          Sid: 'ListLedgerPrefix',
          Effect: 'Allow',
          Action: ['s3:ListBucket'],
          Resource: ['arn:aws:s3:::thumbs'],
          Condition: { StringLike: { 's3:prefix': ['_sluice/thumbs-3f9a0c12/*'] } },
        },
        {
          Sid: 'WriteOutsideLedgers',
          Effect: 'Allow',
          Action: ['s3:AbortMultipartUpload', 's3:DeleteObject', 's3:PutObject'],
          NotResource: ['arn:aws:s3:::photos/_sluice/*', 'arn:aws:s3:::thumbs/_sluice/*'],
        },
        {
          Sid: 'WriteOnlyResultsAndLedger',
          Effect: 'Deny',
          Action: ['s3:AbortMultipartUpload', 's3:DeleteObject', 's3:PutObject'],
          NotResource: [
            'arn:aws:s3:::thumbs/small/*',
            'arn:aws:s3:::thumbs/_sluice/thumbs-3f9a0c12/done/*',
            'arn:aws:s3:::thumbs/_sluice/thumbs-3f9a0c12/logs/*',
            'arn:aws:s3:::thumbs/_sluice/thumbs-3f9a0c12/rejected/*',
            'arn:aws:s3:::thumbs/_sluice/thumbs-3f9a0c12/tasks/*',
          ],
        },
      ],
    });
  });

  it('has no wildcard resource and no action outside SQS and S3', () => {
    const statements = taskRolePolicy(access).Statement;

    const resources = statements.flatMap((s) => [...(s.Resource ?? []), ...(s.NotResource ?? [])]);
    const actions = statements.flatMap((s) => s.Action);

    expect(resources).not.toContain('*');
    expect(actions.filter((a) => !/^(sqs|s3):[A-Za-z]+$/.test(a))).toEqual([]);
  });

  it('reads the whole input bucket but the ledgers when the job has no input prefix', () => {
    const statements = taskRolePolicy({ ...access, input: { bucket: 'photos', prefix: '' } }).Statement;

    expect(statements.find((s) => s.Sid === 'ReadOnlyInputsAndLedger')?.NotResource?.[0]).toBe(
      'arn:aws:s3:::photos/*',
    );
    expect(statements.find((s) => s.Sid === 'ReadOutsideLedgers')?.NotResource).toEqual([
      'arn:aws:s3:::photos/_sluice/*',
      'arn:aws:s3:::thumbs/_sluice/*',
    ]);
    expect(statements.find((s) => s.Sid === 'ListInputPrefix')?.Condition?.StringLike).toEqual({
      's3:prefix': ['*'],
    });
  });

  it('names one ledger root when input and output share a bucket', () => {
    const statements = taskRolePolicy({ ...access, input: { bucket: 'thumbs', prefix: '' } }).Statement;

    expect(statements.find((s) => s.Sid === 'WriteOutsideLedgers')?.NotResource).toEqual([
      'arn:aws:s3:::thumbs/_sluice/*',
    ]);
  });

  it('writes `*`, `?` and `$` of a prefix as IAM escapes, not wildcards or variables', () => {
    const statements = taskRolePolicy({
      ...access,
      input: { bucket: 'photos', prefix: 'team?/' },
      output: { bucket: 'thumbs', prefix: 'out*/$x/' },
    }).Statement;

    expect(statements.find((s) => s.Sid === 'ReadOnlyInputsAndLedger')?.NotResource?.[0]).toBe(
      'arn:aws:s3:::photos/team${?}/*',
    );
    expect(statements.find((s) => s.Sid === 'ListInputPrefix')?.Condition?.StringLike).toEqual({
      's3:prefix': ['team${?}/*'],
    });
    expect(statements.find((s) => s.Sid === 'WriteOnlyResultsAndLedger')?.NotResource?.[0]).toBe(
      'arn:aws:s3:::thumbs/out${*}/${$}x/*',
    );
  });

  it('uses the partition of the run', () => {
    const resources = taskRolePolicy({ ...access, partition: 'aws-cn' }).Statement.flatMap((s) => [
      ...(s.Resource ?? []),
      ...(s.NotResource ?? []),
    ]);

    expect(resources.filter((r) => r.startsWith('arn:aws:s3:'))).toEqual([]);
    expect(resources).toContain('arn:aws-cn:s3:::thumbs/small/*');
  });
});

describe('executionRolePolicy', () => {
  it('pulls the image from its repository, writes the run log group and reads the named secrets', () => {
    expect(executionRolePolicy(access)).toEqual({
      Version: '2012-10-17',
      Statement: [
        {
          Sid: 'LogInToEcr',
          Effect: 'Allow',
          Action: ['ecr:GetAuthorizationToken'],
          Resource: ['*'],
        },
        {
          Sid: 'PullWrappedImage',
          Effect: 'Allow',
          Action: ['ecr:BatchCheckLayerAvailability', 'ecr:BatchGetImage', 'ecr:GetDownloadUrlForLayer'],
          Resource: ['arn:aws:ecr:eu-west-1:123456789012:repository/sluice/thumbs'],
        },
        {
          Sid: 'WriteRunnerLogs',
          Effect: 'Allow',
          Action: ['logs:CreateLogStream', 'logs:PutLogEvents'],
          Resource: ['arn:aws:logs:eu-west-1:123456789012:log-group:/sluice/thumbs:*'],
        },
        {
          Sid: 'ReadJobSecrets',
          Effect: 'Allow',
          Action: ['secretsmanager:GetSecretValue'],
          Resource: ['arn:aws:secretsmanager:eu-west-1:123456789012:secret:watermark-token-??????'],
        },
        {
          Sid: 'ReadJobParameters',
          Effect: 'Allow',
          Action: ['ssm:GetParameters'],
          Resource: ['arn:aws:ssm:eu-west-1:123456789012:parameter/sluice/api-key'],
        },
      ],
    });
  });

  it('only writes logs when the image is not in ECR and the job names no secret', () => {
    const {
      imageRepositoryArn: _repository,
      secretArns: _secrets,
      parameterArns: _parameters,
      ...plain
    } = access;

    expect(executionRolePolicy({ ...plain, secretArns: [] })).toEqual({
      Version: '2012-10-17',
      Statement: [
        {
          Sid: 'WriteRunnerLogs',
          Effect: 'Allow',
          Action: ['logs:CreateLogStream', 'logs:PutLogEvents'],
          Resource: ['arn:aws:logs:eu-west-1:123456789012:log-group:/sluice/thumbs:*'],
        },
      ],
    });
  });
});

describe('watcherRolePolicy', () => {
  it('starts and sees runners in the run cluster and passes exactly the run roles', () => {
    expect(watcherRolePolicy(access)).toEqual({
      Version: '2012-10-17',
      Statement: [
        {
          Sid: 'ReadBacklog',
          Effect: 'Allow',
          Action: ['sqs:GetQueueAttributes'],
          Resource: ['arn:aws:sqs:eu-west-1:123456789012:sluice-thumbs-3f9a0c12-tasks'],
        },
        {
          Sid: 'StartRunners',
          Effect: 'Allow',
          Action: ['ecs:RunTask'],
          Resource: ['arn:aws:ecs:eu-west-1:123456789012:task-definition/sluice-thumbs:*'],
          Condition: { ArnEquals: { 'ecs:cluster': 'arn:aws:ecs:eu-west-1:123456789012:cluster/sluice' } },
        },
        {
          Sid: 'TagRunnersOnStart',
          Effect: 'Allow',
          Action: ['ecs:TagResource'],
          Resource: ['arn:aws:ecs:eu-west-1:123456789012:task/sluice/*'],
          Condition: { StringEquals: { 'ecs:CreateAction': 'RunTask' } },
        },
        {
          Sid: 'ListRunners',
          Effect: 'Allow',
          Action: ['ecs:ListTasks'],
          Resource: ['*'],
          Condition: { ArnEquals: { 'ecs:cluster': 'arn:aws:ecs:eu-west-1:123456789012:cluster/sluice' } },
        },
        {
          Sid: 'DescribeRunners',
          Effect: 'Allow',
          Action: ['ecs:DescribeTasks'],
          Resource: ['arn:aws:ecs:eu-west-1:123456789012:task/sluice/*'],
          Condition: { ArnEquals: { 'ecs:cluster': 'arn:aws:ecs:eu-west-1:123456789012:cluster/sluice' } },
        },
        {
          Sid: 'PassRunnerRoles',
          Effect: 'Allow',
          Action: ['iam:PassRole'],
          Resource: [
            'arn:aws:iam::123456789012:role/sluice/thumbs-3f9a0c12/sluice-thumbs-3f9a0c12-task',
            'arn:aws:iam::123456789012:role/sluice/thumbs-3f9a0c12/sluice-thumbs-3f9a0c12-execution',
          ],
          Condition: { StringEquals: { 'iam:PassedToService': 'ecs-tasks.amazonaws.com' } },
        },
        {
          Sid: 'WriteOwnLogs',
          Effect: 'Allow',
          Action: ['logs:CreateLogGroup', 'logs:CreateLogStream', 'logs:PutLogEvents'],
          Resource: [
            'arn:aws:logs:eu-west-1:123456789012:log-group:/aws/lambda/sluice-thumbs-3f9a0c12-watch',
            'arn:aws:logs:eu-west-1:123456789012:log-group:/aws/lambda/sluice-thumbs-3f9a0c12-watch:*',
          ],
        },
      ],
    });
  });
});

describe('trust policies', () => {
  it('lets ECS tasks of this account assume the task and execution roles', () => {
    expect(ecsTasksTrustPolicy('123456789012')).toEqual({
      Version: '2012-10-17',
      Statement: [
        {
          Sid: 'EcsTasksAssumeRole',
          Effect: 'Allow',
          Principal: { Service: 'ecs-tasks.amazonaws.com' },
          Action: ['sts:AssumeRole'],
          Condition: { StringEquals: { 'aws:SourceAccount': '123456789012' } },
        },
      ],
    });
  });

  it('lets Lambda assume the watcher role', () => {
    expect(lambdaTrustPolicy()).toEqual({
      Version: '2012-10-17',
      Statement: [
        {
          Sid: 'LambdaAssumeRole',
          Effect: 'Allow',
          Principal: { Service: 'lambda.amazonaws.com' },
          Action: ['sts:AssumeRole'],
        },
      ],
    });
  });

  it('pairs each role with its trust policy', () => {
    const documents = runRoleDocuments(access);

    expect(documents.task).toEqual({
      trust: ecsTasksTrustPolicy('123456789012'),
      policy: taskRolePolicy(access),
    });
    expect(documents.execution).toEqual({
      trust: ecsTasksTrustPolicy('123456789012'),
      policy: executionRolePolicy(access),
    });
    expect(documents.watcher).toEqual({ trust: lambdaTrustPolicy(), policy: watcherRolePolicy(access) });
    expect(documents.broker).toBeUndefined();
  });

  it('in sealed mode, gives the task role only its broker and the broker role what the direct task role had', () => {
    const functionArn = `arn:aws:lambda:eu-west-1:123456789012:function:sluice-${runId}-broker`;
    const sealed = { ...access, broker: { functionArn, logGroupName: `/aws/lambda/sluice-${runId}-broker` } };
    const documents = runRoleDocuments(sealed);

    expect(documents.task.policy.Statement.flatMap((statement) => statement.Action)).toEqual([
      'lambda:InvokeFunctionUrl',
      'lambda:InvokeFunction',
    ]);
    expect(documents.task.policy.Statement.flatMap((statement) => statement.Resource)).toEqual([
      functionArn,
      functionArn,
    ]);
    expect(documents.broker?.trust).toEqual(lambdaTrustPolicy());
    expect(documents.broker?.policy.Statement.slice(0, -1)).toEqual(taskRolePolicy(access).Statement);
    expect(documents.broker?.policy.Statement.at(-1)?.Sid).toBe('WriteOwnLogs');
    expect(() => sealedTaskRolePolicy(access)).toThrow('has no broker');
  });
});

describe('runRoleName', () => {
  it('names the roles after the run', () => {
    expect(RUN_ROLE_KINDS.map((kind) => runRoleName(runId, kind))).toEqual([
      'sluice-thumbs-3f9a0c12-task',
      'sluice-thumbs-3f9a0c12-execution',
      'sluice-thumbs-3f9a0c12-watcher',
    ]);
  });

  it('keeps the longest run id sluice makes (39 characters) as it is', () => {
    const longest = `${'a'.repeat(30)}-3f9a0c12`;

    expect(runRoleName(longest, 'execution')).toBe(`sluice-${longest}-execution`);
    expect(runRoleName(longest, 'execution')).toHaveLength(56);
  });

  it('keeps a run id of 47 characters, the most that fits, as it is', () => {
    const fits = 'r'.repeat(47);

    expect(runRoleName(fits, 'execution')).toBe(`sluice-${fits}-execution`);
    expect(runRoleName(fits, 'execution')).toHaveLength(IAM_ROLE_NAME_MAX);
  });

  it('shortens a longer run id with a hash, deterministically and within 64 characters', () => {
    const long = `${'x'.repeat(40)}-${'y'.repeat(23)}`;
    const names = RUN_ROLE_KINDS.map((kind) => runRoleName(long, kind));

    expect(names.map((n) => n.length <= IAM_ROLE_NAME_MAX)).toEqual([true, true, true]);
    expect(names[1]).toMatch(/^sluice-x{38}-[0-9a-f]{8}-execution$/);
    expect(names[0]?.replace(/-task$/, '')).toBe(names[1]?.replace(/-execution$/, ''));
    expect(RUN_ROLE_KINDS.map((kind) => runRoleName(long, kind))).toEqual(names);
  });

  it('gives two long run ids with the same start different names', () => {
    const start = 'z'.repeat(60);

    expect(runRoleName(`${start}-one`, 'task')).not.toBe(runRoleName(`${start}-two`, 'task'));
  });

  it('does not leave a hyphen before the hash', () => {
    const long = `${'a'.repeat(37)}-${'b'.repeat(26)}`;

    expect(runRoleName(long, 'task')).toMatch(/^sluice-a{37}-[0-9a-f]{8}-task$/);
  });

  it('refuses what is not a run id', () => {
    expect(() => runRoleName('Thumbs_1', 'task')).toThrow('not a run id');
    expect(() => runRoleName('', 'task')).toThrow('not a run id');
    expect(() => runRoleName('a'.repeat(65), 'task')).toThrow('not a run id');
  });
});

describe('runRoleArns', () => {
  it('puts the roles under the run path', () => {
    expect(runRoleArns('aws-us-gov', '123456789012', runId)).toEqual({
      task: 'arn:aws-us-gov:iam::123456789012:role/sluice/thumbs-3f9a0c12/sluice-thumbs-3f9a0c12-task',
      execution:
        'arn:aws-us-gov:iam::123456789012:role/sluice/thumbs-3f9a0c12/sluice-thumbs-3f9a0c12-execution',
      watcher: 'arn:aws-us-gov:iam::123456789012:role/sluice/thumbs-3f9a0c12/sluice-thumbs-3f9a0c12-watcher',
    });
    expect(runRoleArn('aws', '123456789012', runId, 'broker')).toBe(
      'arn:aws:iam::123456789012:role/sluice/thumbs-3f9a0c12/sluice-thumbs-3f9a0c12-broker',
    );
  });
});

describe('secretArn', () => {
  it('turns a name into the ARN pattern of the secret', () => {
    expect(secretArn('app/token', where)).toBe(
      'arn:aws:secretsmanager:eu-west-1:123456789012:secret:app/token-??????',
    );
  });

  it('keeps an ARN, without the JSON key and version an ECS reference may add', () => {
    const arn = 'arn:aws:secretsmanager:eu-west-1:123456789012:secret:token-AbCdEf';

    expect(secretArn(arn, where)).toBe(arn);
    expect(secretArn(`${arn}:password:AWSCURRENT:`, where)).toBe(arn);
  });
});

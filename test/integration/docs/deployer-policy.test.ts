// The policy of the identity that runs sluice's steps (docs/iam.md) against what the code calls:
// every AWS operation scripts/aws-calls.mjs finds in sluice's steps, mapped to the IAM actions AWS
// authorizes it with, is granted — and nothing is granted that no operation needs.
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';

import { describe, expect, it } from '@jest/globals';
import { deployerPolicy } from '@sluice/core/iam';
import { REPOSITORY_ROOT } from '@sluice/testing';

/** IAM's service prefix for each SDK client. */
const SERVICE_PREFIX: Readonly<Record<string, string>> = {
  s3: 's3',
  sqs: 'sqs',
  ecs: 'ecs',
  ecr: 'ecr',
  iam: 'iam',
  ec2: 'ec2',
  'cloudwatch-logs': 'logs',
  lambda: 'lambda',
  eventbridge: 'events',
  sts: 'sts',
};

/** Operations AWS authorizes under other action names (the rest are `<prefix>:<Operation>`). */
const AUTHORIZED_AS: Readonly<Record<string, readonly string[]>> = {
  's3 ListObjectsV2': ['s3:ListBucket'],
  's3 HeadBucket': ['s3:ListBucket'],
  's3 HeadObject': ['s3:GetObject'],
  's3 CopyObject': ['s3:GetObject', 's3:PutObject'],
  // With delete-data, versions go too (a versioned bucket).
  's3 DeleteObjects': ['s3:DeleteObject', 's3:DeleteObjectVersion'],
  's3 GetBucketNotificationConfiguration': ['s3:GetBucketNotification'],
  's3 PutBucketNotificationConfiguration': ['s3:PutBucketNotification'],
  's3 ListObjectVersions': ['s3:ListBucketVersions'],
  'sqs SendMessageBatch': ['sqs:SendMessage'],
  'sqs DeleteMessageBatch': ['sqs:DeleteMessage'],
  // Allowed to every identity; no policy can deny it.
  'sts GetCallerIdentity': [],
  // Of the local runner role only, whose trust policy names the caller: no permission of its own needed.
  'sts AssumeRole': [],
};

/** Actions a call needs besides its own: tags on create, roles handed over, the engine's ECR push. */
const IMPLIED: Readonly<Record<string, string>> = {
  'iam:PassRole': 'RunTask and CreateFunction hand the run roles to ECS and Lambda',
  'ecs:TagResource': 'RunTask tags the runners',
  'logs:TagResource': 'CreateLogGroup with tags',
  'lambda:TagResource': 'CreateFunction with tags',
  'events:TagResource': 'PutRule with tags',
  'ec2:CreateTags': 'CreateSecurityGroup with TagSpecifications',
  'ecr:BatchCheckLayerAvailability': 'the container engine pushing the wrapped image',
  'ecr:InitiateLayerUpload': 'the container engine pushing the wrapped image',
  'ecr:UploadLayerPart': 'the container engine pushing the wrapped image',
  'ecr:CompleteLayerUpload': 'the container engine pushing the wrapped image',
  'ecr:PutImage': 'the container engine pushing the wrapped image',
  'ecr:BatchGetImage': 'the container engine reading the pushed manifest back',
  'ecr:GetDownloadUrlForLayer': 'the container engine reading layers back (cross-repository mounts)',
};

interface CallRow {
  readonly call: string;
  readonly file: string;
}

/** The IAM actions sluice's steps need: every operation outside the runner's and the watcher's code. */
function neededActions(): Set<string> {
  const rows = JSON.parse(
    execFileSync(process.execPath, [join(REPOSITORY_ROOT, 'scripts', 'aws-calls.mjs'), '--json'], {
      encoding: 'utf8',
    }),
  ) as CallRow[];
  const needed = new Set<string>();
  for (const { call, file } of rows) {
    // The runner and the watcher hold their own roles (taskRolePolicy, watcherRolePolicy).
    if (/^packages\/(runner|lambda)\//.test(file)) continue;
    const [client = '', operation = ''] = call.split(' ');
    const prefix = SERVICE_PREFIX[client];
    if (prefix === undefined) throw new Error(`no IAM prefix known for the ${client} client: add it here`);
    for (const action of AUTHORIZED_AS[call] ?? [`${prefix}:${operation}`]) needed.add(action);
  }
  return needed;
}

const granted = new Set(
  deployerPolicy({ partition: 'aws', region: 'eu-west-1', accountId: '123456789012' }).Statement.flatMap(
    (statement) => statement.Action,
  ),
);

describe('the policy of the identity that runs the steps', () => {
  it('grants every action an operation of the steps needs', () => {
    const needed = neededActions();
    expect(needed.size).toBeGreaterThan(50);
    expect([...needed].filter((action) => !granted.has(action)).sort()).toEqual([]);
  });

  it('grants nothing no operation needs (the implied ones say why they are there)', () => {
    const needed = neededActions();
    expect([...granted].filter((action) => !needed.has(action) && !(action in IMPLIED)).sort()).toEqual([]);
  });

  it('would fail for an operation the policy does not grant', () => {
    const needed = neededActions();
    needed.add('sqs:DeleteMessageBatchEverything');
    expect([...needed].filter((action) => !granted.has(action))).toEqual([
      'sqs:DeleteMessageBatchEverything',
    ]);
  });
});

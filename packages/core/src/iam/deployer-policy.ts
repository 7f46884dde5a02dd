// The policy of the identity that runs sluice's steps — a workflow's OIDC role, or a user — for users
// who set that identity up themselves (docs/iam.md). It grants what wrap-algorithm, provision-run,
// dispatch-tasks, collect-results and teardown call, on resources named as sluice names them
// (`sluice-*` queues, roles under `/sluice/`, the `sluice` cluster, `/sluice/runs/*` log groups,
// `sluice-*-watch` functions and rules, `sluice-*-broker` functions and their URLs, `sluice/*` ECR
// repositories). Buckets are the user's own and vary by job: they are granted on every bucket here,
// and the docs say how to narrow them.
// test/docs/deployer-policy.test.ts checks it against every AWS operation the code sends.
import { POLICY_VERSION, type PolicyDocument, type PolicyStatement } from './policies.js';

/** Where the steps run: the partition, region and account of the runs. */
export interface DeployerScope {
  readonly partition: string;
  readonly region: string;
  readonly accountId: string;
}

/**
 * The least-privilege policy of the identity that runs sluice's steps in one account and region.
 *
 * @example
 * JSON.stringify(deployerPolicy({ partition: 'aws', region: 'eu-west-1', accountId: '123456789012' }));
 * @throws never.
 */
export function deployerPolicy(scope: DeployerScope): PolicyDocument {
  const arn = arnIn(scope);
  return {
    Version: POLICY_VERSION,
    // Grouped by service, in the published order (docs/iam.md is generated from this document).
    Statement: [
      ...bucketStatements(scope),
      ...queueStatements(arn),
      ...roleStatements(scope),
      ...ecsStatements(arn),
      ...networkStatements(arn),
      ...watcherStatements(arn),
      ...brokerStatements(arn),
      ...registryStatements(arn),
    ],
  };
}

/** An ARN builder for the scope: `arn(service, resource)` in its partition, region and account. */
type ArnOf = (service: string, resource: string) => string;

function arnIn(scope: DeployerScope): ArnOf {
  const { partition, region, accountId } = scope;
  return (service, resource) => `arn:${partition}:${service}:${region}:${accountId}:${resource}`;
}

/** The run's buckets and their objects: the user's own, so any bucket (docs/iam.md says how to narrow it). */
function bucketStatements(scope: DeployerScope): PolicyStatement[] {
  const { partition } = scope;
  return [
    {
      Sid: 'RunBuckets',
      Effect: 'Allow',
      Action: [
        's3:CreateBucket',
        's3:DeleteBucket',
        's3:ListBucket',
        's3:ListBucketVersions',
        's3:GetBucketNotification',
        's3:PutBucketNotification',
        's3:GetBucketTagging',
        's3:PutBucketTagging',
      ],
      Resource: [`arn:${partition}:s3:::*`],
    },
    {
      Sid: 'RunObjects',
      Effect: 'Allow',
      Action: ['s3:GetObject', 's3:PutObject', 's3:DeleteObject', 's3:DeleteObjectVersion'],
      Resource: [`arn:${partition}:s3:::*/*`],
    },
  ];
}

/** The run's `sluice-*` queues, and finding them (ListQueues cannot be scoped). */
function queueStatements(arn: ArnOf): PolicyStatement[] {
  return [
    {
      Sid: 'RunQueues',
      Effect: 'Allow',
      Action: [
        'sqs:CreateQueue',
        'sqs:DeleteQueue',
        'sqs:GetQueueUrl',
        'sqs:GetQueueAttributes',
        'sqs:SetQueueAttributes',
        'sqs:TagQueue',
        'sqs:ListQueueTags',
        'sqs:SendMessage',
        'sqs:ReceiveMessage',
        'sqs:DeleteMessage',
        'sqs:ChangeMessageVisibility',
        'sqs:PurgeQueue',
      ],
      Resource: [arn('sqs', 'sluice-*')],
    },
    {
      Sid: 'FindRunQueues',
      Effect: 'Allow',
      Action: ['sqs:ListQueues'],
      Resource: ['*'],
    },
  ];
}

/** The run's roles under `/sluice/`, finding them, and passing them to ECS tasks and the watcher only. */
function roleStatements(scope: DeployerScope): PolicyStatement[] {
  const runRoles = `arn:${scope.partition}:iam::${scope.accountId}:role/sluice/*`;
  return [
    {
      Sid: 'RunRoles',
      Effect: 'Allow',
      Action: [
        'iam:CreateRole',
        'iam:DeleteRole',
        'iam:GetRole',
        'iam:TagRole',
        'iam:ListRoleTags',
        'iam:UpdateAssumeRolePolicy',
        'iam:PutRolePolicy',
        'iam:DeleteRolePolicy',
        'iam:ListRolePolicies',
        'iam:ListAttachedRolePolicies',
        'iam:DetachRolePolicy',
        'iam:PutRolePermissionsBoundary',
      ],
      Resource: [runRoles],
    },
    {
      Sid: 'FindRunRoles',
      Effect: 'Allow',
      Action: ['iam:ListRoles'],
      Resource: ['*'],
    },
    {
      Sid: 'PassRunRoles',
      Effect: 'Allow',
      Action: ['iam:PassRole'],
      Resource: [runRoles],
      Condition: {
        StringEquals: { 'iam:PassedToService': ['ecs-tasks.amazonaws.com', 'lambda.amazonaws.com'] },
      },
    },
  ];
}

/** Task definitions, the `sluice` cluster, and runner tasks started and stopped on it. */
function ecsStatements(arn: ArnOf): PolicyStatement[] {
  return [
    {
      Sid: 'TaskDefinitions',
      Effect: 'Allow',
      // Task definitions cannot be scoped by family for these: AWS authorizes them on `*`.
      Action: [
        'ecs:RegisterTaskDefinition',
        'ecs:DeregisterTaskDefinition',
        'ecs:DescribeTaskDefinition',
        'ecs:ListTaskDefinitions',
      ],
      Resource: ['*'],
    },
    {
      Sid: 'Cluster',
      Effect: 'Allow',
      Action: ['ecs:CreateCluster', 'ecs:DescribeClusters'],
      Resource: [arn('ecs', 'cluster/sluice')],
    },
    {
      Sid: 'Runners',
      Effect: 'Allow',
      Action: ['ecs:RunTask', 'ecs:StopTask', 'ecs:ListTasks', 'ecs:TagResource'],
      Resource: ['*'],
      Condition: { ArnEquals: { 'ecs:cluster': arn('ecs', 'cluster/sluice') } },
    },
  ];
}

/** The network runners use (VPCs and subnets looked up, the run's security group) and their log group. */
function networkStatements(arn: ArnOf): PolicyStatement[] {
  return [
    {
      Sid: 'RunNetwork',
      Effect: 'Allow',
      Action: ['ec2:DescribeVpcs', 'ec2:DescribeSubnets', 'ec2:DescribeSecurityGroups'],
      Resource: ['*'],
    },
    {
      Sid: 'RunSecurityGroup',
      Effect: 'Allow',
      Action: ['ec2:CreateSecurityGroup', 'ec2:CreateTags'],
      Resource: [arn('ec2', 'security-group/*'), arn('ec2', 'vpc/*')],
    },
    {
      Sid: 'DeleteRunSecurityGroup',
      Effect: 'Allow',
      Action: ['ec2:DeleteSecurityGroup'],
      Resource: [arn('ec2', 'security-group/*')],
      Condition: { StringEquals: { 'aws:ResourceTag/sluice:managed': 'true' } },
    },
    {
      Sid: 'RunnerLogs',
      Effect: 'Allow',
      Action: ['logs:CreateLogGroup', 'logs:PutRetentionPolicy', 'logs:DeleteLogGroup', 'logs:TagResource'],
      Resource: [arn('logs', 'log-group:/sluice/runs/*')],
    },
  ];
}

/** The watcher: its `sluice-*-watch` function and the schedule rule of the same name. */
function watcherStatements(arn: ArnOf): PolicyStatement[] {
  return [
    {
      Sid: 'Watcher',
      Effect: 'Allow',
      Action: [
        'lambda:CreateFunction',
        'lambda:DeleteFunction',
        'lambda:GetFunction',
        'lambda:UpdateFunctionCode',
        'lambda:UpdateFunctionConfiguration',
        'lambda:GetFunctionEventInvokeConfig',
        'lambda:PutFunctionEventInvokeConfig',
        'lambda:AddPermission',
        'lambda:RemovePermission',
        'lambda:GetPolicy',
        'lambda:TagResource',
      ],
      Resource: [arn('lambda', 'function:sluice-*-watch')],
    },
    {
      Sid: 'WatcherSchedule',
      Effect: 'Allow',
      Action: [
        'events:PutRule',
        'events:DescribeRule',
        'events:DeleteRule',
        'events:PutTargets',
        'events:RemoveTargets',
        'events:ListTargetsByRule',
        'events:ListTagsForResource',
        'events:TagResource',
      ],
      Resource: [arn('events', 'rule/sluice-*-watch')],
    },
  ];
}

/**
 * Sealed mode's broker: its `sluice-*-broker` function and that function's URL, which may only be
 * made or changed with IAM auth (`lambda:FunctionUrlAuthType`): a public broker URL is refused.
 */
function brokerStatements(arn: ArnOf): PolicyStatement[] {
  const fn = [arn('lambda', 'function:sluice-*-broker')];
  return [
    {
      Sid: 'Broker',
      Effect: 'Allow',
      Action: [
        'lambda:CreateFunction',
        'lambda:DeleteFunction',
        'lambda:GetFunction',
        'lambda:UpdateFunctionCode',
        'lambda:UpdateFunctionConfiguration',
        'lambda:TagResource',
        // The URL goes with DeleteFunction: no DeleteFunctionUrlConfig.
        'lambda:GetFunctionUrlConfig',
      ],
      Resource: fn,
    },
    {
      Sid: 'BrokerUrlWithIamAuth',
      Effect: 'Allow',
      Action: ['lambda:CreateFunctionUrlConfig', 'lambda:UpdateFunctionUrlConfig'],
      Resource: fn,
      Condition: { StringEquals: { 'lambda:FunctionUrlAuthType': 'AWS_IAM' } },
    },
  ];
}

/** wrap-algorithm's push of wrapped images to `sluice/*` ECR repositories. */
function registryStatements(arn: ArnOf): PolicyStatement[] {
  return [
    {
      Sid: 'RegistryLogin',
      Effect: 'Allow',
      // wrap-algorithm's ECR login: the token covers the whole registry, so it cannot be scoped.
      Action: ['ecr:GetAuthorizationToken'],
      Resource: ['*'],
    },
    {
      Sid: 'WrappedImages',
      Effect: 'Allow',
      // CreateRepository/DescribeRepositories from sluice; the rest is the engine's push.
      Action: [
        'ecr:CreateRepository',
        'ecr:DescribeRepositories',
        'ecr:BatchCheckLayerAvailability',
        'ecr:InitiateLayerUpload',
        'ecr:UploadLayerPart',
        'ecr:CompleteLayerUpload',
        'ecr:PutImage',
        'ecr:BatchGetImage',
        'ecr:GetDownloadUrlForLayer',
      ],
      Resource: [arn('ecr', 'repository/sluice/*')],
    },
  ];
}

/** GitHub's OIDC identity provider: tokens are issued by this host, for this audience. */
export const GITHUB_OIDC_HOST = 'token.actions.githubusercontent.com';
export const GITHUB_OIDC_AUDIENCE = 'sts.amazonaws.com';

/** Whose workflows may assume the role: one repository, optionally one ref of it. */
export interface GitHubTrustScope {
  readonly partition: string;
  readonly accountId: string;
  /** `owner/name` of the repository whose workflows run sluice (with a reusable workflow: the caller). */
  readonly repository: string;
  /** A ref such as `refs/heads/main` or `refs/tags/v*`; undefined: any branch, tag or environment. */
  readonly ref?: string;
}

/**
 * The trust policy of a role that the workflows of one GitHub repository assume through GitHub's
 * OIDC provider (no stored keys): audience `sts.amazonaws.com`, subject `repo:<owner>/<name>:*` or
 * `repo:<owner>/<name>:ref:<ref>`.
 *
 * @example
 * githubOidcTrustPolicy({ partition: 'aws', accountId: '123456789012', repository: 'octo/jobs', ref: 'refs/heads/main' });
 * @throws never.
 */
export function githubOidcTrustPolicy(scope: GitHubTrustScope): PolicyDocument {
  const audience = { [`${GITHUB_OIDC_HOST}:aud`]: GITHUB_OIDC_AUDIENCE };
  const subject = {
    [`${GITHUB_OIDC_HOST}:sub`]: `repo:${scope.repository}:${scope.ref === undefined ? '*' : `ref:${scope.ref}`}`,
  };
  // A pattern needs StringLike; an exact ref is matched exactly, beside the audience.
  const exact = scope.ref !== undefined && !scope.ref.includes('*');
  return {
    Version: POLICY_VERSION,
    Statement: [
      {
        Sid: 'GitHubActionsOfOneRepository',
        Effect: 'Allow',
        Principal: {
          Federated: `arn:${scope.partition}:iam::${scope.accountId}:oidc-provider/${GITHUB_OIDC_HOST}`,
        },
        Action: ['sts:AssumeRoleWithWebIdentity'],
        Condition: exact
          ? { StringEquals: { ...audience, ...subject } }
          : { StringEquals: audience, StringLike: subject },
      },
    ],
  };
}

/**
 * The partition of a region's ARNs: `aws-cn` in China, `aws-us-gov` in GovCloud, `aws` elsewhere.
 *
 * @example
 * partitionOfRegion('cn-north-1'); // 'aws-cn'
 */
export function partitionOfRegion(region: string): string {
  if (region.startsWith('cn-')) return 'aws-cn';
  if (region.startsWith('us-gov-')) return 'aws-us-gov';
  return 'aws';
}

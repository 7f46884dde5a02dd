// The IAM policy documents of a run, as pure functions of what the run touches: the runner's task
// role (direct mode: the run's queue and buckets; sealed mode: its broker's function URL only), the
// ECS execution role, the watcher Lambda's role and, in sealed mode, the broker Lambda's role, each
// with its trust policy. They are
// published in docs/iam.md (generated from these functions) for users who create the roles
// themselves, and asserted exactly, and by an offline policy simulator, in the tests beside this file.
//
// Nothing here checks its input: docs/iam.md renders the documents with placeholders such as
// `<input-bucket>`. The adapter that creates the roles (iam-run-roles.ts) checks the run id.
import { createHash } from 'node:crypto';

import { SluiceError } from '../errors.js';
import { LEDGER_ROOT } from '../ids/ledger-keys.js';

/** The only policy language version there is worth writing. */
export const POLICY_VERSION = '2012-10-17';

/** IAM's limit on a role name. */
export const IAM_ROLE_NAME_MAX = 64;

/** The inline policy every run role carries (PutRolePolicy replaces it on a re-provision). */
export const RUN_ROLE_POLICY_NAME = 'sluice-run';

/** The roles of a run on AWS: three in every run, and the broker's in sealed mode. */
export type RunRoleKind = 'task' | 'execution' | 'watcher' | 'broker';

/** The roles every ECS run has, in the order they are created (the broker's comes last, in sealed mode). */
export const RUN_ROLE_KINDS: readonly RunRoleKind[] = ['task', 'execution', 'watcher'];

/** Every {@link RunRoleKind}: what role names are sized for. */
const ALL_ROLE_KINDS: readonly RunRoleKind[] = [...RUN_ROLE_KINDS, 'broker'];

/** A condition block: operator → context key → value(s). */
export type PolicyCondition = Readonly<Record<string, Readonly<Record<string, string | readonly string[]>>>>;

/** One statement, in the subset of the policy grammar sluice writes. */
export interface PolicyStatement {
  readonly Sid: string;
  readonly Effect: 'Allow' | 'Deny';
  /** Trust policies only: the service (or the identity provider's users) that may assume the role. */
  readonly Principal?: { readonly Service: string } | { readonly Federated: string };
  readonly Action: readonly string[];
  /** Absent in trust policies and where {@link NotResource} is given. */
  readonly Resource?: readonly string[];
  /** Every resource but these (the task role's reads and writes outside every ledger). */
  readonly NotResource?: readonly string[];
  readonly Condition?: PolicyCondition;
}

/** An IAM policy document (identity or trust policy). */
export interface PolicyDocument {
  readonly Version: typeof POLICY_VERSION;
  readonly Statement: readonly PolicyStatement[];
}

/** What a run's roles may touch; every field is a name or ARN the run already knows. */
export interface RunAccess {
  /** `aws`, `aws-cn` or `aws-us-gov`. */
  readonly partition: string;
  readonly region: string;
  readonly accountId: string;
  readonly runId: string;
  /** Where inputs are read: the bucket and the job's `input.prefix` (ending in `/`, or empty). */
  readonly input: { readonly bucket: string; readonly prefix: string };
  /** Where results go: the bucket and the job's `output.prefix`. The ledger is in this bucket too. */
  readonly output: { readonly bucket: string; readonly prefix: string };
  readonly taskQueueArn: string;
  readonly deadLetterQueueArn: string;
  /** The CloudWatch Logs group the runners write to (the awslogs driver, via the execution role). */
  readonly logGroupName: string;
  /** The watcher Lambda's own log group, `/aws/lambda/<function-name>` (`watcherFunctionName`). */
  readonly watcherLogGroupName: string;
  /** The ECS cluster the runners run in. */
  readonly clusterArn: string;
  /** The wrapped image's task definition family (`sluice-<algorithm>`). */
  readonly taskDefinitionFamily: string;
  /** The ECR repository of the wrapped image; absent when the image is pulled from elsewhere. */
  readonly imageRepositoryArn?: string;
  /** Secrets Manager secrets the job's `fromSecret` values name (see {@link secretArn}). */
  readonly secretArns?: readonly string[];
  /** SSM parameters the job's `fromSecret` values name (`arn:…:ssm:…:parameter/<name>`). */
  readonly parameterArns?: readonly string[];
  /** The task and execution roles, which the watcher passes to RunTask (see {@link runRoleArns}). */
  readonly roleArns: { readonly task: string; readonly execution: string };
  /**
   * Sealed mode: the run's broker Lambda. The task role may then invoke its function URL and nothing
   * else, and the broker's role gets what the task role has in direct mode (see {@link runRoleDocuments}).
   */
  readonly broker?: {
    /** `arn:…:lambda:<region>:<account>:function:sluice-<run-id>-broker` (`brokerFunctionName`). */
    readonly functionArn: string;
    /** Its own log group, `/aws/lambda/<function-name>`. */
    readonly logGroupName: string;
  };
}

/**
 * The IAM path of a run's roles: `/sluice/<run-id>/`, so ListRoles with it as the path prefix finds
 * the run's roles and nothing else, in one call.
 *
 * @example
 * runRolePath('thumbs-3f9a0c12'); // '/sluice/thumbs-3f9a0c12/'
 * @throws never.
 */
export function runRolePath(runId: string): string {
  return `/sluice/${runId}/`;
}

const RUN_ID_SHAPE = /^[a-z0-9-]{1,64}$/;
// The longest suffix decides for all three roles, so a run's roles always share one stem.
const LONGEST_KIND = Math.max(...ALL_ROLE_KINDS.map((kind) => kind.length));
const HASH_LENGTH = 8;

/**
 * The stem of a run's role names: the run id when `sluice-<run-id>-execution` fits IAM's 64
 * characters (every run id {@link runId} makes does), else the run id cut short and followed by the
 * first 8 hex of its sha256, so two long run ids sharing a start still get different names.
 */
function roleStem(runId: string): string {
  if (!RUN_ID_SHAPE.test(runId)) {
    throw new SluiceError(
      `not a run id (lower-case letters, digits, "-"; at most 64): ${JSON.stringify(runId)}`,
    );
  }
  const fixed = 'sluice-'.length + 1 + LONGEST_KIND;
  if (fixed + runId.length <= IAM_ROLE_NAME_MAX) return runId;
  const digest = createHash('sha256').update(runId).digest('hex').slice(0, HASH_LENGTH);
  const head = runId.slice(0, IAM_ROLE_NAME_MAX - fixed - HASH_LENGTH - 1).replace(/-+$/, '');
  return `${head}-${digest}`;
}

/**
 * The name of one of a run's roles: `sluice-<run-id>-<kind>`, at most 64 characters (a run id too
 * long for that is shortened with a hash of it, deterministically).
 *
 * @example
 * runRoleName('thumbs-3f9a0c12', 'task'); // 'sluice-thumbs-3f9a0c12-task'
 * @throws {SluiceError} when the run id is not lower-case letters, digits and `-` (at most 64).
 */
export function runRoleName(runId: string, kind: RunRoleKind): string {
  return `sluice-${roleStem(runId)}-${kind}`;
}

/**
 * The ARN one of a run's roles gets when sluice creates it (path {@link runRolePath}).
 *
 * @example
 * runRoleArn('aws', '123456789012', 'thumbs-3f9a0c12', 'broker');
 * // 'arn:aws:iam::123456789012:role/sluice/thumbs-3f9a0c12/sluice-thumbs-3f9a0c12-broker'
 * @throws {SluiceError} when the run id is malformed.
 */
export function runRoleArn(partition: string, accountId: string, runId: string, kind: RunRoleKind): string {
  return `arn:${partition}:iam::${accountId}:role${runRolePath(runId)}${runRoleName(runId, kind)}`;
}

/**
 * The ARNs the three roles of every run get when sluice creates them (path {@link runRolePath}); the
 * broker's, in sealed mode, is {@link runRoleArn} of `broker`.
 *
 * @example
 * runRoleArns('aws', '123456789012', 'thumbs-3f9a0c12').task;
 * // 'arn:aws:iam::123456789012:role/sluice/thumbs-3f9a0c12/sluice-thumbs-3f9a0c12-task'
 * @throws {SluiceError} when the run id is malformed.
 */
export function runRoleArns(
  partition: string,
  accountId: string,
  runId: string,
): Readonly<Record<'task' | 'execution' | 'watcher', string>> {
  const arn = (kind: RunRoleKind): string => runRoleArn(partition, accountId, runId, kind);
  return { task: arn('task'), execution: arn('execution'), watcher: arn('watcher') };
}

/**
 * The Secrets Manager ARN to grant for a job's `fromSecret` value. A name becomes the ARN pattern
 * `…:secret:<name>-??????` (AWS appends six random characters to every secret's ARN); an ARN is
 * kept, without the `:json-key:version-stage:version-id` an ECS `valueFrom` may add.
 *
 * @example
 * secretArn('watermark-token', { partition: 'aws', region: 'eu-west-1', accountId: '123456789012' });
 * // 'arn:aws:secretsmanager:eu-west-1:123456789012:secret:watermark-token-??????'
 * @throws never.
 */
export function secretArn(
  nameOrArn: string,
  where: { readonly partition: string; readonly region: string; readonly accountId: string },
): string {
  if (nameOrArn.startsWith('arn:')) return nameOrArn.split(':').slice(0, 7).join(':');
  return `arn:${where.partition}:secretsmanager:${where.region}:${where.accountId}:secret:${nameOrArn}-??????`;
}

function s3Arn(access: RunAccess, path: string): string {
  return `arn:${access.partition}:s3:::${path}`;
}

function logGroupArn(access: RunAccess, name: string): string {
  return `arn:${access.partition}:logs:${access.region}:${access.accountId}:log-group:${name}`;
}

/** The cluster's name, for the task ARNs under it (`…:task/<cluster-name>/<task-id>`). */
function clusterName(clusterArn: string): string {
  return clusterArn.slice(clusterArn.lastIndexOf('/') + 1);
}

/**
 * A key prefix as IAM reads it literally: `*`, `?` and `$` become the policy variables `${*}`, `${?}`
 * and `${$}` (IAM's escapes, in policy version 2012-10-17), so a prefix `team?/` grants `team?/`
 * and not `teamB/`. Used in resource ARNs and in `s3:prefix` condition values.
 *
 * @example
 * iamLiteral('team?/'); // 'team${?}/'
 * @throws never.
 */
function iamLiteral(text: string): string {
  return text.replace(/[*?$]/g, (char) => `\${${char}}`);
}

/**
 * What `ListBucket` may never be asked with, from the input prefix: `_sluice/*` and every shorter
 * start of it (`""`, `_`, … `_sluice`), each of which would list the ledgers of every run.
 */
function ledgerListingPrefixes(): string[] {
  const starts = Array.from({ length: LEDGER_ROOT.length }, (_, n) => LEDGER_ROOT.slice(0, n));
  return [...starts, `${LEDGER_ROOT}*`];
}

/**
 * The runner's task role: exactly what the runner (packages/runner) sends, for this run only.
 *
 * SQS, the task queue: ReceiveMessage; DeleteMessage(Batch); ChangeMessageVisibility (heartbeat, retry
 * back-off); SendMessage(Batch) (a task handed back on SIGTERM; an
 * S3 event with several records split into one message per task). The dead-letter queue:
 * SendMessage(Batch) (a task whose last attempt failed). No GetQueueAttributes: the runner never asks.
 *
 * S3, the input: GetObject with If-Match, and with VersionId when the event named one
 * (s3:GetObjectVersion). ListBucket on the input prefix only: without it S3 answers a missing input
 * with 403 instead of 404, and the runner could not tell "gone" from "denied" (S3 evaluates that
 * check with the object's key as `s3:prefix`).
 *
 * S3, the output bucket's ledger `_sluice/<run-id>/`:
 * - GetObject: done/ (marker), tasks/ (record, read-modify-write);
 * - PutObject: tasks/, rejected/ and done/ (conditional, If-None-Match), logs/ (multipart above
 *   16 MiB, hence AbortMultipartUpload there);
 * - ListBucket on the ledger prefix only, so a missing marker or record is a 404.
 * Not run.json, results.json, the end marker or anything of another run.
 *
 * S3, the results under the output prefix: PutObject (each output straight to its final key,
 * multipart above 16 MiB: AbortMultipartUpload), and for an attempt after one that may have left
 * outputs behind: ListBucket on the output prefix, GetObject (HeadObject: whose an object is, by
 * its metadata) and DeleteObject (the earlier attempt's leftovers).
 *
 * An empty prefix (the default) covers every run's ledger `_sluice/…` in its bucket, and IAM has no
 * "all but" in a resource pattern. So inputs and results are granted as "every object outside the
 * ledgers" (`NotResource`), and a `Deny` with `NotResource` caps reads to the input prefix and the
 * run's ledger folders, writes to the output prefix and the run's ledger folders: what remains is
 * (prefix minus `_sluice/…`) plus this run's folders, whatever the prefixes. The two Deny statements
 * also cap S3 object reads and writes granted to this role by any other policy. Prefixes are written
 * with {@link iamLiteral}.
 *
 * Nothing else: no wildcard resource, no IAM, no ECS, no KMS (an SSE-KMS bucket or queue with a
 * customer managed key needs kms:Decrypt/GenerateDataKey added by the user, on that key).
 *
 * @example
 * const policy = JSON.stringify(taskRolePolicy(access));
 * @throws never.
 */
export function taskRolePolicy(access: RunAccess): PolicyDocument {
  const ledger = `${access.output.bucket}/${LEDGER_ROOT}${access.runId}/`;
  const under = (...folders: string[]): string[] =>
    folders.map((folder) => s3Arn(access, `${ledger}${folder}/*`));
  const readFolders = under('done', 'tasks');
  const writeFolders = under('done', 'logs', 'rejected', 'tasks');
  const ledgers = [...new Set([access.input.bucket, access.output.bucket])].map((bucket) =>
    s3Arn(access, `${bucket}/${LEDGER_ROOT}*`),
  );
  const inputs = s3Arn(access, `${access.input.bucket}/${iamLiteral(access.input.prefix)}*`);
  const results = s3Arn(access, `${access.output.bucket}/${iamLiteral(access.output.prefix)}*`);
  return {
    Version: POLICY_VERSION,
    Statement: [
      {
        Sid: 'WorkTaskQueue',
        Effect: 'Allow',
        Action: ['sqs:ChangeMessageVisibility', 'sqs:DeleteMessage', 'sqs:ReceiveMessage', 'sqs:SendMessage'],
        Resource: [access.taskQueueArn],
      },
      {
        Sid: 'MoveToDeadLetterQueue',
        Effect: 'Allow',
        Action: ['sqs:SendMessage'],
        Resource: [access.deadLetterQueueArn],
      },
      {
        Sid: 'ReadOutsideLedgers',
        Effect: 'Allow',
        Action: ['s3:GetObject', 's3:GetObjectVersion'],
        NotResource: ledgers,
      },
      {
        Sid: 'ReadOnlyInputsAndLedger',
        Effect: 'Deny',
        Action: ['s3:GetObject', 's3:GetObjectVersion'],
        NotResource: [inputs, results, ...readFolders],
      },
      {
        Sid: 'ListInputPrefix',
        Effect: 'Allow',
        Action: ['s3:ListBucket'],
        Resource: [s3Arn(access, access.input.bucket)],
        Condition: {
          StringLike: { 's3:prefix': [`${iamLiteral(access.input.prefix)}*`] },
          StringNotLike: { 's3:prefix': ledgerListingPrefixes() },
        },
      },
      {
        Sid: 'ReadLedger',
        Effect: 'Allow',
        Action: ['s3:GetObject'],
        Resource: readFolders,
      },
      {
        Sid: 'WriteLedger',
        Effect: 'Allow',
        Action: ['s3:PutObject'],
        Resource: writeFolders,
      },
      {
        Sid: 'AbortLargeUploads',
        Effect: 'Allow',
        Action: ['s3:AbortMultipartUpload'],
        Resource: under('logs'),
      },
      {
        Sid: 'ListResultsPrefix',
        Effect: 'Allow',
        Action: ['s3:ListBucket'],
        Resource: [s3Arn(access, access.output.bucket)],
        Condition: {
          StringLike: { 's3:prefix': [`${iamLiteral(access.output.prefix)}*`] },
          StringNotLike: { 's3:prefix': ledgerListingPrefixes() },
        },
      },
      {
        Sid: 'ListLedgerPrefix',
        Effect: 'Allow',
        Action: ['s3:ListBucket'],
        Resource: [s3Arn(access, access.output.bucket)],
        Condition: { StringLike: { 's3:prefix': [`${LEDGER_ROOT}${access.runId}/*`] } },
      },
      {
        Sid: 'WriteOutsideLedgers',
        Effect: 'Allow',
        Action: ['s3:AbortMultipartUpload', 's3:DeleteObject', 's3:PutObject'],
        NotResource: ledgers,
      },
      {
        Sid: 'WriteOnlyResultsAndLedger',
        Effect: 'Deny',
        Action: ['s3:AbortMultipartUpload', 's3:DeleteObject', 's3:PutObject'],
        NotResource: [results, ...writeFolders],
      },
    ],
  };
}

/**
 * The runner's task role in sealed mode: it may call its run's broker through the broker's function
 * URL (IAM auth, SigV4 signed with this role) and nothing else — no S3, no SQS. Inputs and outputs
 * move through the presigned GET and POST the broker hands out, which carry the broker's authority,
 * not this role's.
 *
 * Two statements, both on the run's broker function only: `lambda:InvokeFunctionUrl`, held to URLs
 * with `AWS_IAM` auth (`lambda:FunctionUrlAuthType`); and `lambda:InvokeFunction`, which Lambda
 * requires as well for function URLs created since October 2025, held to invocations through the
 * function URL (`lambda:InvokedViaFunctionUrl`), so the role cannot call Invoke on the API itself.
 *
 * @example
 * const policy = JSON.stringify(sealedTaskRolePolicy({ ...access, broker }));
 * @throws {SluiceError} when `access.broker` is absent (a direct-mode run has no broker).
 */
export function sealedTaskRolePolicy(access: RunAccess): PolicyDocument {
  if (access.broker === undefined) {
    throw new SluiceError(
      `run ${access.runId} has no broker: its task role is the direct one (taskRolePolicy)`,
    );
  }
  return {
    Version: POLICY_VERSION,
    Statement: [
      {
        Sid: 'CallRunBroker',
        Effect: 'Allow',
        Action: ['lambda:InvokeFunctionUrl'],
        Resource: [access.broker.functionArn],
        Condition: { StringEquals: { 'lambda:FunctionUrlAuthType': 'AWS_IAM' } },
      },
      {
        Sid: 'CallRunBrokerThroughItsUrl',
        Effect: 'Allow',
        Action: ['lambda:InvokeFunction'],
        Resource: [access.broker.functionArn],
        Condition: { Bool: { 'lambda:InvokedViaFunctionUrl': 'true' } },
      },
    ],
  };
}

/**
 * The broker Lambda's role (sealed mode): the run's task control moves from the runner to the
 * broker, so the broker gets exactly what the direct-mode task role has ({@link taskRolePolicy}: the
 * run's queues, input prefix, ledger and results; presigned transfers are signed with these
 * credentials and can do no more than they can), plus writing its own logs.
 *
 * @example
 * const policy = JSON.stringify(brokerRolePolicy({ ...access, broker }));
 * @throws {SluiceError} when `access.broker` is absent.
 */
export function brokerRolePolicy(access: RunAccess): PolicyDocument {
  if (access.broker === undefined) {
    throw new SluiceError(`run ${access.runId} has no broker`);
  }
  const logGroup = logGroupArn(access, access.broker.logGroupName);
  return {
    Version: POLICY_VERSION,
    Statement: [
      ...taskRolePolicy(access).Statement,
      {
        Sid: 'WriteOwnLogs',
        Effect: 'Allow',
        Action: ['logs:CreateLogGroup', 'logs:CreateLogStream', 'logs:PutLogEvents'],
        Resource: [logGroup, `${logGroup}:*`],
      },
    ],
  };
}

/**
 * The ECS execution role (used by the ECS agent, not by the runner): pull the wrapped image from
 * its ECR repository, create the runner's log streams and write to them, and read the secrets the
 * job names so ECS can put them in the container's environment.
 *
 * ecr:GetAuthorizationToken cannot be scoped to a repository (it returns a token for the whole
 * registry), so it is the one `*` resource, granted only when the image is in ECR. A secret
 * encrypted with a customer managed KMS key also needs kms:Decrypt on that key, added by the user.
 *
 * @example
 * const policy = JSON.stringify(executionRolePolicy(access));
 * @throws never.
 */
export function executionRolePolicy(access: RunAccess): PolicyDocument {
  const statements: PolicyStatement[] = [];
  if (access.imageRepositoryArn !== undefined) {
    statements.push(
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
        Resource: [access.imageRepositoryArn],
      },
    );
  }
  statements.push({
    Sid: 'WriteRunnerLogs',
    Effect: 'Allow',
    Action: ['logs:CreateLogStream', 'logs:PutLogEvents'],
    Resource: [`${logGroupArn(access, access.logGroupName)}:*`],
  });
  if (access.secretArns !== undefined && access.secretArns.length > 0) {
    statements.push({
      Sid: 'ReadJobSecrets',
      Effect: 'Allow',
      Action: ['secretsmanager:GetSecretValue'],
      Resource: [...access.secretArns],
    });
  }
  if (access.parameterArns !== undefined && access.parameterArns.length > 0) {
    statements.push({
      Sid: 'ReadJobParameters',
      Effect: 'Allow',
      Action: ['ssm:GetParameters'],
      Resource: [...access.parameterArns],
    });
  }
  return { Version: POLICY_VERSION, Statement: statements };
}

/**
 * The watcher Lambda's role: read the task queue's backlog, start runners (RunTask of the run's
 * task definition family, in the run's cluster only, tagged on creation), see the runners it
 * started, pass exactly the run's task and execution roles to ECS, and write its own logs.
 *
 * ecs:ListTasks is authorized against container instances, which a Fargate listing has none of:
 * it is granted on `*` and held to the cluster by the `ecs:cluster` condition, as AWS documents.
 *
 * @example
 * const policy = JSON.stringify(watcherRolePolicy(access));
 * @throws never.
 */
export function watcherRolePolicy(access: RunAccess): PolicyDocument {
  const ecsArn = `arn:${access.partition}:ecs:${access.region}:${access.accountId}`;
  const inCluster = { ArnEquals: { 'ecs:cluster': access.clusterArn } };
  const tasks = `${ecsArn}:task/${clusterName(access.clusterArn)}/*`;
  const logGroup = logGroupArn(access, access.watcherLogGroupName);
  return {
    Version: POLICY_VERSION,
    Statement: [
      {
        Sid: 'ReadBacklog',
        Effect: 'Allow',
        Action: ['sqs:GetQueueAttributes'],
        Resource: [access.taskQueueArn],
      },
      {
        Sid: 'StartRunners',
        Effect: 'Allow',
        Action: ['ecs:RunTask'],
        Resource: [`${ecsArn}:task-definition/${access.taskDefinitionFamily}:*`],
        Condition: inCluster,
      },
      {
        Sid: 'TagRunnersOnStart',
        Effect: 'Allow',
        Action: ['ecs:TagResource'],
        Resource: [tasks],
        Condition: { StringEquals: { 'ecs:CreateAction': 'RunTask' } },
      },
      {
        Sid: 'ListRunners',
        Effect: 'Allow',
        Action: ['ecs:ListTasks'],
        Resource: ['*'],
        Condition: inCluster,
      },
      {
        Sid: 'DescribeRunners',
        Effect: 'Allow',
        Action: ['ecs:DescribeTasks'],
        Resource: [tasks],
        Condition: inCluster,
      },
      {
        Sid: 'PassRunnerRoles',
        Effect: 'Allow',
        Action: ['iam:PassRole'],
        Resource: [access.roleArns.task, access.roleArns.execution],
        Condition: { StringEquals: { 'iam:PassedToService': 'ecs-tasks.amazonaws.com' } },
      },
      {
        Sid: 'WriteOwnLogs',
        Effect: 'Allow',
        Action: ['logs:CreateLogGroup', 'logs:CreateLogStream', 'logs:PutLogEvents'],
        Resource: [logGroup, `${logGroup}:*`],
      },
    ],
  };
}

/**
 * Trust policy of the task and execution roles: ECS tasks may assume them, on behalf of this
 * account only (`aws:SourceAccount`, against the confused deputy).
 *
 * @example
 * ecsTasksTrustPolicy('123456789012').Statement[0]?.Principal; // { Service: 'ecs-tasks.amazonaws.com' }
 * @throws never.
 */
export function ecsTasksTrustPolicy(accountId: string): PolicyDocument {
  return {
    Version: POLICY_VERSION,
    Statement: [
      {
        Sid: 'EcsTasksAssumeRole',
        Effect: 'Allow',
        Principal: { Service: 'ecs-tasks.amazonaws.com' },
        Action: ['sts:AssumeRole'],
        Condition: { StringEquals: { 'aws:SourceAccount': accountId } },
      },
    ],
  };
}

/**
 * Trust policy of the watcher's role: the Lambda service may assume it.
 *
 * @example
 * lambdaTrustPolicy().Statement[0]?.Principal; // { Service: 'lambda.amazonaws.com' }
 * @throws never.
 */
export function lambdaTrustPolicy(): PolicyDocument {
  return {
    Version: POLICY_VERSION,
    Statement: [
      {
        Sid: 'LambdaAssumeRole',
        Effect: 'Allow',
        Principal: { Service: 'lambda.amazonaws.com' },
        Action: ['sts:AssumeRole'],
      },
    ],
  };
}

/** A role's two documents: who may assume it, and what it may do. */
export interface RunRoleDocuments {
  readonly trust: PolicyDocument;
  readonly policy: PolicyDocument;
}

/**
 * The roles' documents for a run: task, execution and watcher; with `access.broker` (sealed mode)
 * the task role is {@link sealedTaskRolePolicy} and a fourth role, the broker's, holds what the
 * direct task role would.
 *
 * @example
 * const { task } = runRoleDocuments(access);
 * await iam.send(new PutRolePolicyCommand({ RoleName, PolicyName, PolicyDocument: JSON.stringify(task.policy) }));
 * @throws never.
 */
export function runRoleDocuments(
  access: RunAccess,
): Readonly<Partial<Record<RunRoleKind, RunRoleDocuments>>> &
  Readonly<Record<'task' | 'execution' | 'watcher', RunRoleDocuments>> {
  const ecsTrust = ecsTasksTrustPolicy(access.accountId);
  const common = {
    execution: { trust: ecsTrust, policy: executionRolePolicy(access) },
    watcher: { trust: lambdaTrustPolicy(), policy: watcherRolePolicy(access) },
  };
  if (access.broker === undefined) {
    return { task: { trust: ecsTrust, policy: taskRolePolicy(access) }, ...common };
  }
  return {
    task: { trust: ecsTrust, policy: sealedTaskRolePolicy(access) },
    ...common,
    broker: { trust: lambdaTrustPolicy(), policy: brokerRolePolicy(access) },
  };
}

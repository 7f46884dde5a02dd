// The role a direct-mode run's local runner containers hold: the direct task role's policy
// (taskRolePolicy), assumable only by the identity that runs the step (an IAM user, or one session
// of an assumed role), which hands the session it gets to the containers. The caller's own session
// never reaches a runner. See docs/architecture.md, "Two modes", and docs/iam.md.
import { SluiceError } from '../errors.js';
import {
  POLICY_VERSION,
  runRoleName,
  taskRolePolicy,
  type PolicyDocument,
  type RunAccess,
} from './policies.js';

/**
 * How long a session of the local runner role may last when the caller is an IAM user: IAM's
 * largest `MaxSessionDuration`, which the role is created with.
 */
export const LOCAL_RUNNER_MAX_SESSION_SECONDS = 43_200;

/** STS's cap on a session of a role assumed with another role's session ("role chaining"). */
export const ROLE_CHAINING_MAX_SESSION_SECONDS = 3_600;

/** The kinds of identity `sts:GetCallerIdentity` reports, as the local runner session treats them. */
export type CallerKind = 'user' | 'assumed-role' | 'root' | 'federated-user';

/**
 * The kind of a caller's ARN (the `Arn` of GetCallerIdentity).
 *
 * @example
 * callerKind('arn:aws:sts::123456789012:assumed-role/deployer/GitHubActions'); // 'assumed-role'
 * @throws {SluiceError} for an ARN that is none of an IAM user, an assumed role, the root user or a federated user.
 */
export function callerKind(callerArn: string): CallerKind {
  const match = /^arn:[a-z-]+:(iam|sts)::[0-9]{12}:(user\/|assumed-role\/|root$|federated-user\/)/.exec(
    callerArn,
  );
  const kind = match?.[2]?.replace(/\/$/, '');
  if (kind === 'user' || kind === 'assumed-role' || kind === 'root' || kind === 'federated-user') return kind;
  throw new SluiceError(`not the ARN of an AWS caller sluice knows: ${callerArn}`);
}

/**
 * The name of a run's local runner role: `sluice-<run-id>-local`, under the run's role path, sized
 * (and shortened for a long run id) as the ECS roles are.
 *
 * @example
 * localRunnerRoleName('thumbs-3f9a0c12'); // 'sluice-thumbs-3f9a0c12-local'
 * @throws {SluiceError} when the run id is malformed.
 */
export function localRunnerRoleName(runId: string): string {
  // 'local' is shorter than 'execution', the suffix every run's stem is sized for.
  return `${runRoleName(runId, 'task').slice(0, -'task'.length)}local`;
}

/** What a direct-mode run's runners touch: its queues, buckets and prefixes, and its partition. */
export type LocalRunnerAccess = Pick<
  RunAccess,
  'partition' | 'runId' | 'input' | 'output' | 'taskQueueArn' | 'deadLetterQueueArn'
>;

/**
 * The local runner role's policy: the direct task role's ({@link taskRolePolicy}), whatever the
 * backend, for a run that has no ECS side. The ECS fields of a {@link RunAccess} are left empty:
 * taskRolePolicy reads none of them (local-runner-role.test.ts holds the two documents equal).
 *
 * @example
 * const policy = JSON.stringify(localRunnerPolicy({ partition: 'aws', runId, input, output, taskQueueArn, deadLetterQueueArn }));
 * @throws never.
 */
export function localRunnerPolicy(access: LocalRunnerAccess): PolicyDocument {
  return taskRolePolicy({
    ...access,
    region: '',
    accountId: '',
    logGroupName: '',
    watcherLogGroupName: '',
    clusterArn: '',
    taskDefinitionFamily: '',
    roleArns: { task: '', execution: '' },
  });
}

/** A trust policy whose principal is an AWS identity (a user, or a role session). */
export interface LocalRunnerTrustPolicy {
  readonly Version: typeof POLICY_VERSION;
  readonly Statement: readonly [
    {
      readonly Sid: string;
      readonly Effect: 'Allow';
      readonly Principal: { readonly AWS: string };
      readonly Action: readonly ['sts:AssumeRole'];
    },
  ];
}

/**
 * The local runner role's trust policy: the one principal that runs the step may assume it — an
 * IAM user by its ARN, an assumed role by its session's ARN (`…:assumed-role/<role>/<session>`), so
 * another session of the same role may not. Naming the principal in the trust policy is what allows
 * the call: the caller needs no `sts:AssumeRole` permission of its own.
 *
 * @example
 * localRunnerTrustPolicy('arn:aws:iam::123456789012:user/ana');
 * @throws never.
 */
export function localRunnerTrustPolicy(callerArn: string): LocalRunnerTrustPolicy {
  return {
    Version: POLICY_VERSION,
    Statement: [
      {
        Sid: 'TheCallerOfTheRun',
        Effect: 'Allow',
        Principal: { AWS: callerArn },
        Action: ['sts:AssumeRole'],
      },
    ],
  };
}

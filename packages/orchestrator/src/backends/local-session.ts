// Direct mode on the local backend: the AWS session the runner containers get. Never the caller's
// own: the caller (an IAM user's keys, or an assumed role such as a workflow's deployer role) makes
// or reuses the run's local runner role — the direct task role's policy, trusting only the caller —
// and assumes it; the containers get that session, which may do what the run's runners do and no
// more. Sessions expire (after 1 hour when the caller is itself an assumed role: role chaining), so
// the runner is told when (SLUICE_RUN `credentialsExpireAt`) and stops leasing in time, and every
// ensure() hands replacements a session fresh enough for a whole task (see docs/architecture.md,
// "Two modes").
import {
  CreateRoleCommand,
  GetRoleCommand,
  PutRolePolicyCommand,
  IAMClient,
  UpdateAssumeRolePolicyCommand,
  paginateListRoleTags,
  type Role,
} from '@aws-sdk/client-iam';
import { AssumeRoleCommand, GetCallerIdentityCommand, STSClient } from '@aws-sdk/client-sts';

import {
  ConfigurationError,
  RUN_ID_TAG,
  RUNNER_CREDENTIALS_MARGIN_SECONDS,
  runTags,
  type Logger,
} from '@sluice/core';
import { classifyAwsError, describeAwsError, withRetries } from '@sluice/core/aws';
import { IamRunRoles } from '@sluice/core/ecs';
import {
  LOCAL_RUNNER_MAX_SESSION_SECONDS,
  RUN_ROLE_POLICY_NAME,
  ROLE_CHAINING_MAX_SESSION_SECONDS,
  callerKind,
  localRunnerPolicy,
  localRunnerRoleName,
  localRunnerTrustPolicy,
  runRolePath,
} from '@sluice/core/iam';

import type { EcsClientSettings } from './ecs-resources.js';

/** The shortest time a runner started with a session may lease tasks for, beyond one task's limit and margin. */
export const MIN_LEASE_WINDOW_SECONDS = 300;

const NO_SUCH_ENTITY: ReadonlySet<string> = new Set(['NoSuchEntity', 'NoSuchEntityException']);
const ALREADY_EXISTS: ReadonlySet<string> = new Set(['EntityAlreadyExists', 'EntityAlreadyExistsException']);

/** A session of the run's local runner role, as the runner containers get it. */
export interface RunnerSession {
  /** `AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`, `AWS_SESSION_TOKEN`. */
  readonly env: Readonly<Record<string, string>>;
  readonly expiresAt: Date;
}

/** What a session is scoped to: the run's queues, buckets and prefixes (a RunState has them). */
export interface SessionRun {
  readonly runId: string;
  readonly queue: { readonly arn?: string | undefined };
  readonly deadLetterQueue: { readonly arn?: string | undefined };
  readonly input: { readonly bucket: string; readonly prefix: string };
  readonly output: { readonly bucket: string; readonly prefix: string };
}

/** The IAM and STS clients of one refresh, destroyed when it is done (no socket outlives it). */
export interface LocalSessionClients {
  readonly iam: IAMClient;
  readonly sts: STSClient;
  destroy(): void;
}

/** What the sessions are made with. */
export interface LocalRunnerSessionDeps {
  /** Makes the clients of one refresh (the caller's own credentials, endpoint and region). */
  readonly clients: () => LocalSessionClients;
  readonly logger: Logger;
  /** The clock sessions are judged on (tests pass their own). */
  readonly now?: () => number;
  /** Retries of AssumeRole while IAM makes a new role or trust policy known (default: about a minute). */
  readonly assumeRetry?: { readonly maxElapsedMs: number; readonly baseDelayMs: number };
}

/**
 * The sessions a direct-mode local run's runners get: the run's local runner role, made or updated
 * once, then assumed again whenever the last session is too near its end for a runner started now
 * to lease even one task.
 *
 * @example
 * const sessions = new LocalRunnerSessions(state, 900, { clients: () => sessionClients(config), logger });
 * const { env, expiresAt } = await sessions.current();
 * @throws {ConfigurationError} from `current` when the caller cannot have a run-scoped session (the
 *   root user, a federated user, no right to create or assume the role) or the sessions it can have
 *   are too short for the task time limit.
 */
export class LocalRunnerSessions {
  private role: Promise<{ arn: string; maxSeconds: number }> | undefined;
  private session: RunnerSession | undefined;
  private clients: LocalSessionClients | undefined;
  private readonly now: () => number;

  constructor(
    private readonly state: SessionRun,
    /** The run's time limit per task, which a runner's session must outlast with a margin. */
    private readonly timeoutSeconds: number,
    private readonly deps: LocalRunnerSessionDeps,
  ) {
    this.now = deps.now ?? Date.now;
  }

  /** A session with enough time left for a runner started now; a new one when the last is too old. */
  async current(): Promise<RunnerSession> {
    const needed =
      (this.timeoutSeconds + RUNNER_CREDENTIALS_MARGIN_SECONDS + MIN_LEASE_WINDOW_SECONDS) * 1000;
    if (this.session !== undefined && this.session.expiresAt.getTime() - this.now() >= needed) {
      return this.session;
    }
    this.clients = this.deps.clients();
    try {
      this.session = await this.refresh(needed);
    } finally {
      this.clients.destroy();
      this.clients = undefined;
    }
    return this.session;
  }

  private async refresh(needed: number): Promise<RunnerSession> {
    this.role ??= this.ensureRole();
    let role: { arn: string; maxSeconds: number };
    try {
      role = await this.role;
    } catch (thrown: unknown) {
      this.role = undefined; // the next ensure() tries again
      throw thrown;
    }
    if (role.maxSeconds * 1000 < needed) {
      throw new ConfigurationError(
        `run ${this.state.runId}: in direct mode a local runner gets a session of at most ${role.maxSeconds} s (${role.maxSeconds === ROLE_CHAINING_MAX_SESSION_SECONDS ? 'the caller is an assumed role, and AWS caps a session assumed with it at 1 hour' : 'the run role allows no more'}), shorter than the task time limit (${this.timeoutSeconds} s) plus ${RUNNER_CREDENTIALS_MARGIN_SECONDS + MIN_LEASE_WINDOW_SECONDS} s. Lower the job's "timeoutSeconds", or use sealed mode (remove "mode": "direct"), whose runners hold no AWS credential.`,
      );
    }
    return this.assume(role);
  }

  private get iam(): IAMClient {
    if (this.clients === undefined) throw new Error('no IAM client outside a refresh');
    return this.clients.iam;
  }

  private get sts(): STSClient {
    if (this.clients === undefined) throw new Error('no STS client outside a refresh');
    return this.clients.sts;
  }

  private async caller(): Promise<{ arn: string; account: string; kind: ReturnType<typeof callerKind> }> {
    let identity;
    try {
      identity = await this.sts.send(new GetCallerIdentityCommand({}));
    } catch (thrown: unknown) {
      throw classifyAwsError(thrown, 'STS.GetCallerIdentity', 'the caller');
    }
    const arn = identity.Arn ?? '';
    const account = identity.Account ?? '';
    let kind;
    try {
      kind = callerKind(arn);
    } catch {
      throw new ConfigurationError(
        `STS reports the caller as ${JSON.stringify(arn)}: direct mode on the local backend needs an IAM user or an assumed role. Use sealed mode (the default).`,
      );
    }
    if (kind === 'root' || kind === 'federated-user') {
      throw new ConfigurationError(
        `the caller is ${kind === 'root' ? "the account's root user, which cannot assume roles" : 'a federated user, whose session cannot call STS'}: direct mode on the local backend hands runners a session of the run's own role, which the caller must assume. Use an IAM user or role, or sealed mode (the default), whose runners hold no AWS credential.`,
      );
    }
    return { arn, account, kind };
  }

  /** Creates the run's local runner role, or brings an existing one up to date; its ARN and longest session. */
  private async ensureRole(): Promise<{ arn: string; maxSeconds: number }> {
    const { state } = this;
    const { runId } = state;
    const caller = await this.caller();
    const queueArn = state.queue.arn;
    const deadLetterQueueArn = state.deadLetterQueue.arn;
    if (queueArn === undefined || deadLetterQueueArn === undefined) {
      throw new ConfigurationError(`run ${runId}: its queues are not provisioned; provision it again.`);
    }
    const partition = queueArn.split(':')[1] ?? 'aws';
    const policy = localRunnerPolicy({
      partition,
      runId,
      input: { bucket: state.input.bucket, prefix: state.input.prefix },
      output: { bucket: state.output.bucket, prefix: state.output.prefix },
      taskQueueArn: queueArn,
      deadLetterQueueArn,
    });
    const trust = localRunnerTrustPolicy(caller.arn);
    const name = localRunnerRoleName(runId);
    const path = runRolePath(runId);
    let role = await this.getRole(name);
    if (role === undefined) {
      try {
        role = (
          await this.iam.send(
            new CreateRoleCommand({
              RoleName: name,
              Path: path,
              AssumeRolePolicyDocument: JSON.stringify(trust),
              Description: `sluice run ${runId}: local runners (direct mode)`,
              MaxSessionDuration: LOCAL_RUNNER_MAX_SESSION_SECONDS,
              Tags: Object.entries(runTags(runId)).map(([Key, Value]) => ({ Key, Value })),
            }),
          )
        ).Role;
      } catch (thrown: unknown) {
        if (!ALREADY_EXISTS.has(describeAwsError(thrown).code))
          throw this.denied(thrown, 'IAM.CreateRole', name);
        role = await this.getRole(name);
      }
    } else {
      await this.checkOwner(name, role);
      if (!sameDocument(role.AssumeRolePolicyDocument, trust)) {
        await this.call('IAM.UpdateAssumeRolePolicy', name, () =>
          this.iam.send(
            new UpdateAssumeRolePolicyCommand({ RoleName: name, PolicyDocument: JSON.stringify(trust) }),
          ),
        );
      }
    }
    await this.call('IAM.PutRolePolicy', name, () =>
      this.iam.send(
        new PutRolePolicyCommand({
          RoleName: name,
          PolicyName: RUN_ROLE_POLICY_NAME,
          PolicyDocument: JSON.stringify(policy),
        }),
      ),
    );
    const arn = role?.Arn;
    if (arn === undefined) throw new ConfigurationError(`IAM role ${name} has no ARN`);
    const roleMax = role?.MaxSessionDuration ?? ROLE_CHAINING_MAX_SESSION_SECONDS;
    const maxSeconds =
      caller.kind === 'assumed-role' ? Math.min(roleMax, ROLE_CHAINING_MAX_SESSION_SECONDS) : roleMax;
    return { arn, maxSeconds };
  }

  private async assume(role: { arn: string; maxSeconds: number }): Promise<RunnerSession> {
    const { runId } = this.state;
    const retry = this.deps.assumeRetry ?? { maxElapsedMs: 60_000, baseDelayMs: 1_000 };
    let output;
    try {
      // A role or trust policy just written takes a few seconds to be assumable (IAM is eventually consistent).
      output = await withRetries(
        () =>
          this.sts.send(
            new AssumeRoleCommand({
              RoleArn: role.arn,
              RoleSessionName: `sluice-${runId}`.slice(0, 64),
              DurationSeconds: role.maxSeconds,
            }),
          ),
        {
          maxAttempts: Infinity,
          maxElapsedMs: retry.maxElapsedMs,
          baseDelayMs: retry.baseDelayMs,
          retryOn: (thrown) => describeAwsError(thrown).code === 'AccessDenied',
        },
      );
    } catch (thrown: unknown) {
      throw this.denied(thrown, 'STS.AssumeRole', role.arn);
    }
    const credentials = output.Credentials;
    const { AccessKeyId, SecretAccessKey, SessionToken, Expiration } = credentials ?? {};
    if (AccessKeyId === undefined || SecretAccessKey === undefined || SessionToken === undefined) {
      throw new ConfigurationError(`STS.AssumeRole ${role.arn} returned no credentials`);
    }
    this.deps.logger.setSecret(SecretAccessKey);
    this.deps.logger.setSecret(SessionToken);
    const expiresAt = Expiration ?? new Date(this.now() + role.maxSeconds * 1000);
    this.deps.logger.debug(
      `run ${runId}: runners get a session of ${role.arn} until ${expiresAt.toISOString()}`,
    );
    return {
      env: {
        AWS_ACCESS_KEY_ID: AccessKeyId,
        AWS_SECRET_ACCESS_KEY: SecretAccessKey,
        AWS_SESSION_TOKEN: SessionToken,
      },
      expiresAt,
    };
  }

  private async getRole(name: string): Promise<Role | undefined> {
    try {
      return (await this.iam.send(new GetRoleCommand({ RoleName: name }))).Role;
    } catch (thrown: unknown) {
      if (NO_SUCH_ENTITY.has(describeAwsError(thrown).code)) return undefined;
      throw this.denied(thrown, 'IAM.GetRole', name);
    }
  }

  private async checkOwner(name: string, role: Role): Promise<void> {
    const tags: Record<string, string> = {};
    try {
      for await (const page of paginateListRoleTags({ client: this.iam }, { RoleName: name })) {
        for (const tag of page.Tags ?? []) if (tag.Key !== undefined) tags[tag.Key] = tag.Value ?? '';
      }
    } catch (thrown: unknown) {
      throw this.denied(thrown, 'IAM.ListRoleTags', name);
    }
    if (tags[RUN_ID_TAG] !== this.state.runId) {
      throw new ConfigurationError(
        `IAM role ${name} already exists (${role.Arn ?? '?'}) but is not run ${this.state.runId}'s (its ${RUN_ID_TAG} tag is ${tags[RUN_ID_TAG] ?? 'missing'}). Delete or rename that role, or change the job's name.`,
      );
    }
  }

  private async call<T>(operation: string, name: string, send: () => Promise<T>): Promise<T> {
    try {
      return await send();
    } catch (thrown: unknown) {
      throw this.denied(thrown, operation, name);
    }
  }

  /** An AWS error, with what to do when it is a refusal: the caller may not make or assume the run's role. */
  private denied(thrown: unknown, operation: string, target: string): Error {
    const error = classifyAwsError(thrown, operation, target);
    if (!(error instanceof ConfigurationError)) return error;
    return new ConfigurationError(
      `${error.message}. In direct mode the local backend makes the run a role (${localRunnerRoleName(this.state.runId)}, under ${runRolePath(this.state.runId)}) and hands its runners a session of it, never the caller's own: the caller needs the RunRoles statement of \`sluice iam deployer\`. Or use sealed mode (the default), whose runners hold no AWS credential.`,
      { cause: thrown },
    );
  }
}

/** Whether IAM's (URL-encoded) policy text says what `expected` says. */
function sameDocument(text: string | undefined, expected: object): boolean {
  if (text === undefined) return false;
  try {
    return JSON.stringify(JSON.parse(decodeURIComponent(text))) === JSON.stringify(expected);
  } catch {
    return false;
  }
}

/**
 * The IAM and STS clients of one refresh, from a step's client settings (the caller's credentials,
 * endpoint and region).
 *
 * @example
 * const sessions = new LocalRunnerSessions(state, 900, { clients: () => localSessionClients(aws.config.base as EcsClientSettings), logger });
 * @throws never.
 */
export function localSessionClients(config: EcsClientSettings): LocalSessionClients {
  const settings = {
    ...(config.region !== undefined && { region: config.region }),
    ...(config.endpoint !== undefined && { endpoint: config.endpoint }),
    ...(config.profile !== undefined && { profile: config.profile }),
    ...(config.credentials !== undefined && { credentials: config.credentials }),
  };
  const iam = new IAMClient(settings);
  const sts = new STSClient(settings);
  return {
    iam,
    sts,
    destroy: () => {
      iam.destroy();
      sts.destroy();
    },
  };
}

/**
 * Deletes a direct-mode local run's runner role (any role of the run under its path, with its tag:
 * IamRunRoles finds them as teardown does for an ECS run). Idempotent.
 *
 * @example
 * const deleted = await deleteLocalRunnerRole('thumbs-3f9a0c12', aws.config.base as EcsClientSettings);
 * @throws {ConfigurationError} when access is denied; AwsRequestError for faults.
 */
export async function deleteLocalRunnerRole(runId: string, config: EcsClientSettings): Promise<string[]> {
  const clients = localSessionClients(config);
  try {
    return [...(await new IamRunRoles(clients.iam).deleteRunRoles(runId))];
  } finally {
    clients.destroy();
  }
}

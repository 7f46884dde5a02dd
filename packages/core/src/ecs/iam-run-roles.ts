// The run's IAM roles on AWS (or moto): three, and the broker's in sealed mode,: created or reused idempotently by provision-run, each
// with its trust policy and one inline policy (policies.ts), tagged with the run id, and deleted by
// teardown, which finds them by their path and tags.
//
// IAM is eventually consistent: a role just created (or a policy just put) may not be assumable by
// ECS or Lambda for about ten seconds, and CreateFunction / RunTask then fail with "cannot be
// assumed" / "not authorized". Nothing here waits; the caller that starts a task or creates the
// function right after ensureRunRoles retries those errors with backoff.
import {
  CreateRoleCommand,
  DeleteRoleCommand,
  DeleteRolePolicyCommand,
  DetachRolePolicyCommand,
  GetRoleCommand,
  PutRolePermissionsBoundaryCommand,
  PutRolePolicyCommand,
  TagRoleCommand,
  UpdateAssumeRolePolicyCommand,
  paginateListAttachedRolePolicies,
  paginateListRolePolicies,
  paginateListRoleTags,
  paginateListRoles,
  type IAMClient,
  type Role,
  type Tag,
} from '@aws-sdk/client-iam';

import { ConfigurationError, SluiceError } from '../errors.js';
import { RUN_ID_TAG, runTags } from '../ids/run-names.js';
import { classifyAwsError, describeAwsError } from '../aws/errors.js';
import {
  RUN_ROLE_POLICY_NAME,
  runRoleArns,
  runRoleDocuments,
  runRoleName,
  runRolePath,
  type PolicyDocument,
  type RunAccess,
  type RunRoleKind,
} from '../iam/policies.js';

const NO_SUCH_ENTITY: ReadonlySet<string> = new Set(['NoSuchEntity', 'NoSuchEntityException']);
const ALREADY_EXISTS: ReadonlySet<string> = new Set(['EntityAlreadyExists', 'EntityAlreadyExistsException']);

/** Options of {@link IamRunRoles.ensureRunRoles}. */
export interface EnsureRunRolesOptions {
  /** A permissions boundary every role gets, for accounts whose rules require one. */
  readonly permissionsBoundaryArn?: string;
  /** Tags besides the run's own (`sluice:run-id`, `sluice:managed`). */
  readonly tags?: Readonly<Record<string, string>>;
}

/** What {@link IamRunRoles.ensureRunRoles} left in place. */
export interface EnsuredRunRoles {
  /** The roles' ARNs, as IAM reports them (`broker` only in sealed mode). */
  readonly arns: Readonly<Record<Exclude<RunRoleKind, 'broker'>, string>> & { readonly broker?: string };
  /** The roles this call created (empty on a repeat). */
  readonly created: readonly RunRoleKind[];
}

/** A role of a run, as {@link IamRunRoles.findRunRoles} finds it. */
export interface FoundRunRole {
  readonly name: string;
  readonly arn: string;
  readonly tags: Readonly<Record<string, string>>;
}

/**
 * The run's IAM roles: task (the runner), execution (the ECS agent) and watcher (the Lambda).
 *
 * @example
 * const roles = new IamRunRoles(new IAMClient({}));
 * const { arns } = await roles.ensureRunRoles(access);
 * // … at teardown:
 * await roles.deleteRunRoles(access.runId);
 * @throws ConfigurationError from any method when access is denied; AwsRequestError for faults.
 */
export class IamRunRoles {
  constructor(private readonly client: IAMClient) {}

  /**
   * Creates the three roles, or reuses them when they exist and carry this run's tag: the trust
   * policy is set again (UpdateAssumeRolePolicy) and the inline policy put again (PutRolePolicy),
   * so a re-provision with other buckets or secrets updates what the roles may do. Roles live under
   * the path `/sluice/<run-id>/`. The watcher's policy names the task and execution roles, so
   * `access.roleArns` must be {@link runRoleArns} of the run.
   *
   * @example
   * const access = { ...known, roleArns: runRoleArns('aws', accountId, runId) };
   * const { arns, created } = await roles.ensureRunRoles(access, { tags: { [OUTPUT_BUCKET_TAG]: bucket } });
   * @throws {ConfigurationError} when a role of the same name exists but belongs to another run (or
   *   to nobody sluice knows), or access is denied. {@link SluiceError} when `access.roleArns` are
   *   not the roles this creates, or the run id is malformed. AwsRequestError for faults.
   */
  async ensureRunRoles(access: RunAccess, options: EnsureRunRolesOptions = {}): Promise<EnsuredRunRoles> {
    const { runId } = access;
    const expected = runRoleArns(access.partition, access.accountId, runId);
    for (const kind of ['task', 'execution'] as const) {
      if (access.roleArns[kind] !== expected[kind]) {
        throw new SluiceError(
          `the watcher policy would pass ${access.roleArns[kind]} as the ${kind} role, but the run's ${kind} role is ${expected[kind]}`,
        );
      }
    }
    const documents = runRoleDocuments(access);
    const tags = { ...options.tags, ...runTags(runId) };
    const created: RunRoleKind[] = [];
    const ensure = async (kind: RunRoleKind): Promise<string> => {
      const name = runRoleName(runId, kind);
      const document = documents[kind];
      if (document === undefined) throw new SluiceError(`run ${runId} has no ${kind} role`);
      const role = await this.ensureRole(runId, kind, name, document.trust, tags, options);
      await this.send('IAM.PutRolePolicy', name, () =>
        this.client.send(
          new PutRolePolicyCommand({
            RoleName: name,
            PolicyName: RUN_ROLE_POLICY_NAME,
            PolicyDocument: JSON.stringify(document.policy),
          }),
        ),
      );
      if (role.created) created.push(kind);
      return role.arn;
    };
    // In RUN_ROLE_KINDS order, one after the other: the watcher's policy names the other two.
    const task = await ensure('task');
    const execution = await ensure('execution');
    const watcher = await ensure('watcher');
    // Sealed mode: the broker Lambda's role, with the run's S3 and SQS access the task role lacks.
    if (documents.broker !== undefined) {
      const broker = await ensure('broker');
      return { arns: { task, execution, watcher, broker }, created };
    }
    return { arns: { task, execution, watcher }, created };
  }

  /**
   * The roles under the run's path that carry its run id tag (ListRoles with the path prefix, then
   * ListRoleTags for each: a handful of calls whatever the account holds).
   *
   * @example
   * for (const role of await roles.findRunRoles('thumbs-3f9a0c12')) console.log(role.arn);
   * @throws {ConfigurationError} when access is denied; AwsRequestError for faults.
   */
  async findRunRoles(runId: string): Promise<readonly FoundRunRole[]> {
    const path = runRolePath(runId);
    const listed: Role[] = [];
    try {
      for await (const page of paginateListRoles({ client: this.client }, { PathPrefix: path })) {
        // AWS matches the path as a prefix; the trailing `/` keeps `run-1` from finding `run-10`.
        listed.push(...(page.Roles ?? []).filter((role) => role.Path === path));
      }
    } catch (thrown: unknown) {
      throw classifyAwsError(thrown, 'IAM.ListRoles', path);
    }
    const found: FoundRunRole[] = [];
    for (const role of listed) {
      if (role.RoleName === undefined || role.Arn === undefined) continue;
      const tags = await this.roleTags(role.RoleName);
      if (tags?.[RUN_ID_TAG] === runId) found.push({ name: role.RoleName, arn: role.Arn, tags });
    }
    return found;
  }

  /**
   * Deletes the run's roles ({@link findRunRoles}): inline policies, then any managed policy someone
   * attached, then the role. Idempotent: a role or policy already gone counts as deleted.
   *
   * @example
   * const deleted = await roles.deleteRunRoles('thumbs-3f9a0c12'); // ['sluice-thumbs-3f9a0c12-task', …]
   * @returns the names of the roles deleted (empty when none was left).
   * @throws {ConfigurationError} when access is denied; AwsRequestError for faults (e.g. a role that
   *   someone added to an instance profile: DeleteConflict).
   */
  async deleteRunRoles(runId: string): Promise<readonly string[]> {
    const deleted: string[] = [];
    for (const role of await this.findRunRoles(runId)) {
      if (await this.deleteRole(role.name)) deleted.push(role.name);
    }
    return deleted;
  }

  private async ensureRole(
    runId: string,
    kind: RunRoleKind,
    name: string,
    trust: PolicyDocument,
    tags: Readonly<Record<string, string>>,
    options: EnsureRunRolesOptions,
  ): Promise<{ arn: string; created: boolean }> {
    const path = runRolePath(runId);
    let existing = await this.getRole(name);
    if (existing === undefined) {
      try {
        const output = await this.client.send(
          new CreateRoleCommand({
            RoleName: name,
            Path: path,
            AssumeRolePolicyDocument: JSON.stringify(trust),
            Description: `sluice run ${runId}: ${kind} role`,
            Tags: toTagList(tags),
            ...(options.permissionsBoundaryArn !== undefined && {
              PermissionsBoundary: options.permissionsBoundaryArn,
            }),
          }),
        );
        const arn = output.Role?.Arn;
        if (arn === undefined) throw new SluiceError(`IAM.CreateRole ${name} returned no ARN`);
        return { arn, created: true };
      } catch (thrown: unknown) {
        // Another provision of the same run created it meanwhile: reuse it like any existing role.
        if (!ALREADY_EXISTS.has(describeAwsError(thrown).code)) {
          throw classifyAwsError(thrown, 'IAM.CreateRole', name);
        }
        existing = await this.getRole(name);
        if (existing === undefined) throw classifyAwsError(thrown, 'IAM.CreateRole', name);
      }
    }
    const owner = (await this.roleTags(name))?.[RUN_ID_TAG];
    if (owner !== runId || existing.Path !== path) {
      throw new ConfigurationError(
        `IAM role ${name} already exists (${existing.Arn ?? '?'}) but is not run ${runId}'s: ${owner === undefined ? `it has no ${RUN_ID_TAG} tag` : `its ${RUN_ID_TAG} tag is ${owner}`}${existing.Path !== path ? ` and its path is ${existing.Path ?? '?'}, not ${path}` : ''}. Delete or rename that role, or change the job's name so the run gets another id.`,
      );
    }
    await this.send('IAM.UpdateAssumeRolePolicy', name, () =>
      this.client.send(
        new UpdateAssumeRolePolicyCommand({ RoleName: name, PolicyDocument: JSON.stringify(trust) }),
      ),
    );
    await this.send('IAM.TagRole', name, () =>
      this.client.send(new TagRoleCommand({ RoleName: name, Tags: toTagList(tags) })),
    );
    if (options.permissionsBoundaryArn !== undefined) {
      const boundary = options.permissionsBoundaryArn;
      await this.send('IAM.PutRolePermissionsBoundary', name, () =>
        this.client.send(
          new PutRolePermissionsBoundaryCommand({ RoleName: name, PermissionsBoundary: boundary }),
        ),
      );
    }
    const arn = existing.Arn;
    if (arn === undefined) throw new SluiceError(`IAM.GetRole ${name} returned no ARN`);
    return { arn, created: false };
  }

  /** The role, or undefined when there is none of that name. */
  private async getRole(name: string): Promise<Role | undefined> {
    try {
      return (await this.client.send(new GetRoleCommand({ RoleName: name }))).Role;
    } catch (thrown: unknown) {
      if (NO_SUCH_ENTITY.has(describeAwsError(thrown).code)) return undefined;
      throw classifyAwsError(thrown, 'IAM.GetRole', name);
    }
  }

  /** The role's tags, or undefined when the role is gone. */
  private async roleTags(name: string): Promise<Record<string, string> | undefined> {
    const tags: Record<string, string> = {};
    try {
      for await (const page of paginateListRoleTags({ client: this.client }, { RoleName: name })) {
        for (const tag of page.Tags ?? []) {
          if (tag.Key !== undefined) tags[tag.Key] = tag.Value ?? '';
        }
      }
    } catch (thrown: unknown) {
      if (NO_SUCH_ENTITY.has(describeAwsError(thrown).code)) return undefined;
      throw classifyAwsError(thrown, 'IAM.ListRoleTags', name);
    }
    return tags;
  }

  /** Deletes one role and what keeps IAM from deleting it; false when it was already gone. */
  private async deleteRole(name: string): Promise<boolean> {
    try {
      const inline: string[] = [];
      for await (const page of paginateListRolePolicies({ client: this.client }, { RoleName: name })) {
        inline.push(...(page.PolicyNames ?? []));
      }
      for (const policy of inline) {
        await this.client.send(new DeleteRolePolicyCommand({ RoleName: name, PolicyName: policy }));
      }
      const attached: string[] = [];
      for await (const page of paginateListAttachedRolePolicies(
        { client: this.client },
        { RoleName: name },
      )) {
        for (const policy of page.AttachedPolicies ?? []) {
          if (policy.PolicyArn !== undefined) attached.push(policy.PolicyArn);
        }
      }
      for (const policyArn of attached) {
        await this.client.send(new DetachRolePolicyCommand({ RoleName: name, PolicyArn: policyArn }));
      }
      await this.client.send(new DeleteRoleCommand({ RoleName: name }));
      return true;
    } catch (thrown: unknown) {
      // Gone at any step (a concurrent teardown): what this call wanted.
      if (NO_SUCH_ENTITY.has(describeAwsError(thrown).code)) return false;
      throw classifyAwsError(thrown, 'IAM.DeleteRole', name);
    }
  }

  private async send<T>(operation: string, name: string, call: () => Promise<T>): Promise<T> {
    try {
      return await call();
    } catch (thrown: unknown) {
      throw classifyAwsError(thrown, operation, name);
    }
  }
}

function toTagList(tags: Readonly<Record<string, string>>): Tag[] {
  return Object.entries(tags).map(([Key, Value]) => ({ Key, Value }));
}

// Networking of a run's ECS tasks (awsvpc): the job's subnets and security groups, or defaults — the
// default VPC's subnets, and a security group made for the run that allows egress only (runners pull
// from SQS and S3; nothing connects to them). The run's group is tagged with the run id and deleted at
// teardown.
import {
  CreateSecurityGroupCommand,
  DeleteSecurityGroupCommand,
  DescribeSecurityGroupsCommand,
  DescribeSubnetsCommand,
  DescribeVpcsCommand,
  paginateDescribeSubnets,
  type EC2Client,
} from '@aws-sdk/client-ec2';

import { InfrastructureError, jobProblem, toError } from '../errors.js';
import { silentLogger, type Logger } from '../logging/logger.js';
import { RUN_ID_TAG, runTags } from '../ids/run-names.js';
import type { Job } from '../schemas/job.js';
import { classifyAwsError, describeAwsError } from '../aws/errors.js';
import { withRetries } from '../aws/retry.js';

/**
 * The name of a run's own security group: `sluice-<run-id>`.
 *
 * @example
 * runSecurityGroupName('thumbs-3f9a0c12'); // 'sluice-thumbs-3f9a0c12'
 * @throws never.
 */
export function runSecurityGroupName(runId: string): string {
  return `sluice-${runId}`;
}

/** The network a run's tasks get. */
export interface RunNetwork {
  readonly subnets: string[];
  readonly securityGroups: string[];
  readonly assignPublicIp: boolean;
  /** The VPC, when it had to be found (defaults in use). */
  readonly vpcId?: string;
  /** The run's own security group, when this call created it. */
  readonly createdSecurityGroup?: string;
}

/** How {@link EcsNetwork} waits out a security group still in use. */
export interface EcsNetworkOptions {
  readonly logger?: Logger;
  readonly sleep?: (ms: number) => Promise<void>;
  /**
   * Delete attempts while the group is in use (default 8, about 4 minutes): ECS releases a stopped
   * task's network interface a little after the task stops.
   */
  readonly deleteAttempts?: number;
  /** First wait between delete attempts (default 2 s), doubled up to 60 s. */
  readonly deleteDelayMs?: number;
}

/**
 * The VPC side of a run's ECS tasks, over EC2.
 *
 * @example
 * const network = await new EcsNetwork(new EC2Client({ region })).resolve(runId, job.compute);
 * const template = ecsLaunchTemplate({ ...options, subnets: network.subnets, securityGroups: network.securityGroups });
 * @throws {ConfigurationError} when there is no default VPC and no subnets are given, or when denied;
 *   AwsRequestError for faults.
 */
export class EcsNetwork {
  private readonly logger: Logger;
  private readonly sleep: ((ms: number) => Promise<void>) | undefined;
  private readonly deleteAttempts: number;
  private readonly deleteDelayMs: number;

  constructor(
    private readonly client: EC2Client,
    options: EcsNetworkOptions = {},
  ) {
    this.logger = options.logger ?? silentLogger;
    this.sleep = options.sleep;
    this.deleteAttempts = Math.max(1, options.deleteAttempts ?? 8);
    this.deleteDelayMs = options.deleteDelayMs ?? 2000;
  }

  /**
   * The job's subnets and security groups, with the defaults filled in: the default VPC's subnets
   * when none are given; the run's own egress-only group (created or reused) when no security group
   * is given, in the subnets' VPC. `assignPublicIp` is the job's (normalisation already made it true
   * exactly when `subnets` was omitted).
   *
   * @example
   * const { subnets, securityGroups, assignPublicIp } = await network.resolve('thumbs-3f9a0c12', job.compute);
   * @throws {ConfigurationError} with no default VPC and no subnets, subnets in several VPCs, or when
   *   denied; AwsRequestError for faults.
   */
  async resolve(
    runId: string,
    compute: Pick<Job['compute'], 'subnets' | 'securityGroups' | 'assignPublicIp'>,
  ): Promise<RunNetwork> {
    let subnets = [...compute.subnets];
    let vpcId: string | undefined;
    if (subnets.length === 0) {
      const found = await this.defaultVpc();
      subnets = found.subnets;
      vpcId = found.vpcId;
    }
    if (compute.securityGroups.length > 0) {
      return {
        subnets,
        securityGroups: [...compute.securityGroups],
        assignPublicIp: compute.assignPublicIp,
        ...(vpcId !== undefined && { vpcId }),
      };
    }
    vpcId ??= await this.vpcOfSubnets(subnets);
    const group = await this.ensureRunSecurityGroup(runId, vpcId);
    return {
      subnets,
      securityGroups: [group.groupId],
      assignPublicIp: compute.assignPublicIp,
      vpcId,
      ...(group.created && { createdSecurityGroup: group.groupId }),
    };
  }

  /**
   * The region's default VPC and its subnets (sorted by id).
   *
   * @example
   * const { vpcId, subnets } = await network.defaultVpc();
   * @throws {ConfigurationError} when the region has no default VPC or it has no subnets (the message
   *   says to set `compute.subnets`); AwsRequestError for faults.
   */
  async defaultVpc(): Promise<{ vpcId: string; subnets: string[] }> {
    let vpcId: string | undefined;
    try {
      const vpcs = await this.client.send(
        new DescribeVpcsCommand({ Filters: [{ Name: 'isDefault', Values: ['true'] }] }),
      );
      vpcId = vpcs.Vpcs?.[0]?.VpcId;
    } catch (thrown: unknown) {
      throw classifyAwsError(thrown, 'EC2.DescribeVpcs', 'isDefault=true');
    }
    if (vpcId === undefined) {
      throw jobProblem(
        '$.compute.subnets',
        'the region has no default VPC, so sluice cannot choose subnets for the ECS tasks',
        'List the subnets (and securityGroups) to use in "compute".',
      );
    }
    const subnets: string[] = [];
    try {
      for await (const page of paginateDescribeSubnets(
        { client: this.client },
        { Filters: [{ Name: 'vpc-id', Values: [vpcId] }] },
      )) {
        for (const subnet of page.Subnets ?? []) {
          if (subnet.SubnetId !== undefined && (subnet.State ?? 'available') === 'available')
            subnets.push(subnet.SubnetId);
        }
      }
    } catch (thrown: unknown) {
      throw classifyAwsError(thrown, 'EC2.DescribeSubnets', vpcId);
    }
    if (subnets.length === 0) {
      throw jobProblem(
        '$.compute.subnets',
        `the default VPC ${vpcId} has no subnets`,
        'List the subnets to use in "compute".',
      );
    }
    return { vpcId, subnets: subnets.sort() };
  }

  /**
   * The VPC of the given subnets.
   *
   * @example
   * const vpcId = await network.vpcOfSubnets(['subnet-0abc1234']);
   * @throws {ConfigurationError} when a subnet does not exist or they lie in several VPCs; AwsRequestError for faults.
   */
  async vpcOfSubnets(subnets: readonly string[]): Promise<string> {
    let vpcs: Set<string>;
    try {
      const described = await this.client.send(new DescribeSubnetsCommand({ SubnetIds: [...subnets] }));
      vpcs = new Set(
        (described.Subnets ?? []).flatMap((subnet) => (subnet.VpcId !== undefined ? [subnet.VpcId] : [])),
      );
    } catch (thrown: unknown) {
      if (describeAwsError(thrown).code === 'InvalidSubnetID.NotFound') {
        throw jobProblem(
          '$.compute.subnets',
          toError(thrown).message,
          'Check the subnet ids and the region.',
          {
            cause: thrown,
          },
        );
      }
      throw classifyAwsError(thrown, 'EC2.DescribeSubnets', subnets.join(','));
    }
    const [vpcId, ...others] = [...vpcs];
    if (vpcId === undefined || others.length > 0) {
      throw jobProblem(
        '$.compute.subnets',
        `the subnets must all lie in one VPC; found ${vpcs.size === 0 ? 'none' : [...vpcs].join(', ')}`,
      );
    }
    return vpcId;
  }

  /**
   * The run's own security group in the VPC, `sluice-<run-id>`: no inbound rule, all outbound (a new
   * group's default), tagged with the run. Reused when it exists.
   *
   * @example
   * const { groupId, created } = await network.ensureRunSecurityGroup('thumbs-3f9a0c12', 'vpc-0abc1234');
   * @throws {ConfigurationError} when denied; AwsRequestError for faults.
   */
  async ensureRunSecurityGroup(runId: string, vpcId: string): Promise<{ groupId: string; created: boolean }> {
    const name = runSecurityGroupName(runId);
    const existing = await this.findRunSecurityGroups(runId, vpcId);
    if (existing[0] !== undefined) return { groupId: existing[0], created: false };
    try {
      const created = await this.client.send(
        new CreateSecurityGroupCommand({
          GroupName: name,
          Description: `sluice run ${runId}: runner tasks (egress only)`,
          VpcId: vpcId,
          TagSpecifications: [
            {
              ResourceType: 'security-group',
              Tags: Object.entries({ Name: name, ...runTags(runId) }).map(([Key, Value]) => ({ Key, Value })),
            },
          ],
        }),
      );
      if (created.GroupId === undefined)
        throw new InfrastructureError(`EC2.CreateSecurityGroup ${name} returned no id`);
      this.logger.info(`created security group ${name} (${created.GroupId}) in ${vpcId}`);
      return { groupId: created.GroupId, created: true };
    } catch (thrown: unknown) {
      // Made meanwhile by another provision of the same run.
      if (describeAwsError(thrown).code === 'InvalidGroup.Duplicate') {
        const again = await this.findRunSecurityGroups(runId, vpcId);
        if (again[0] !== undefined) return { groupId: again[0], created: false };
      }
      throw classifyAwsError(thrown, 'EC2.CreateSecurityGroup', name);
    }
  }

  /** Ids of the security groups tagged with the run (in the VPC, when given). */
  private async findRunSecurityGroups(runId: string, vpcId?: string): Promise<string[]> {
    try {
      const found = await this.client.send(
        new DescribeSecurityGroupsCommand({
          Filters: [
            { Name: `tag:${RUN_ID_TAG}`, Values: [runId] },
            ...(vpcId !== undefined ? [{ Name: 'vpc-id', Values: [vpcId] }] : []),
          ],
        }),
      );
      return (found.SecurityGroups ?? []).flatMap((group) =>
        group.GroupId !== undefined ? [group.GroupId] : [],
      );
    } catch (thrown: unknown) {
      throw classifyAwsError(thrown, 'EC2.DescribeSecurityGroups', `tag:${RUN_ID_TAG}=${runId}`);
    }
  }

  /**
   * Deletes the security groups tagged with the run (at teardown, after its tasks stopped). A group
   * still in use (`DependencyViolation`: a stopped task's network interface not yet released) is tried
   * again with backoff. Idempotent: returns the ids deleted.
   *
   * @example
   * const deleted = await network.deleteRunSecurityGroups('thumbs-3f9a0c12');
   * @throws {InfrastructureError} when a group is still in use after the retries (tear down again a
   *   little later); ConfigurationError when denied; AwsRequestError for faults.
   */
  async deleteRunSecurityGroups(runId: string): Promise<string[]> {
    const deleted: string[] = [];
    for (const groupId of await this.findRunSecurityGroups(runId)) {
      try {
        await withRetries(() => this.client.send(new DeleteSecurityGroupCommand({ GroupId: groupId })), {
          retryOn: (thrown) => describeAwsError(thrown).code === 'DependencyViolation',
          maxAttempts: this.deleteAttempts,
          baseDelayMs: this.deleteDelayMs,
          maxDelayMs: 60_000,
          jitter: 'none',
          ...(this.sleep !== undefined && { sleep: this.sleep }),
        });
      } catch (thrown: unknown) {
        const { code } = describeAwsError(thrown);
        if (code === 'InvalidGroup.NotFound') continue;
        if (code !== 'DependencyViolation')
          throw classifyAwsError(thrown, 'EC2.DeleteSecurityGroup', groupId);
        throw new InfrastructureError(
          `security group ${groupId} of run ${runId} is still in use (${toError(thrown).message}): its tasks' network interfaces have not been released yet. Tear the run down again in a few minutes.`,
          { cause: thrown },
        );
      }
      deleted.push(groupId);
      this.logger.info(`deleted security group ${groupId} of run ${runId}`);
    }
    return deleted;
  }
}

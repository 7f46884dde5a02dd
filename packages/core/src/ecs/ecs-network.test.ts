import { EC2Client, EC2ServiceException } from '@aws-sdk/client-ec2';
import { describe, expect, it } from '@jest/globals';

import { ConfigurationError, InfrastructureError } from '../errors.js';
import { EcsNetwork } from './ecs-network.js';
import { answeringLocally, FAKE_CLIENT_CONFIG, type SentCommand } from './local-sdk-client.test-support.js';

/** An EC2Client whose requests never leave the process: `respond` answers each command by name. */
function fakeEc2(respond: (command: string, input: Record<string, unknown>) => unknown): {
  client: EC2Client;
  calls: SentCommand[];
} {
  return answeringLocally(new EC2Client(FAKE_CLIENT_CONFIG), respond);
}

const inUse = (): EC2ServiceException =>
  new EC2ServiceException({
    name: 'DependencyViolation',
    $fault: 'client',
    $metadata: { httpStatusCode: 400 },
    message: 'resource sg-0abc12345 has a dependent object',
  });

describe('EcsNetwork', () => {
  it('waits out a security group still in use, with growing delays', async () => {
    const sleeps: number[] = [];
    let deletes = 0;
    const { client } = fakeEc2((command) => {
      if (command === 'DescribeSecurityGroupsCommand')
        return { SecurityGroups: [{ GroupId: 'sg-0abc12345' }] };
      deletes += 1;
      if (deletes < 3) throw inUse();
      return {};
    });
    const network = new EcsNetwork(client, {
      sleep: (ms) => Promise.resolve(void sleeps.push(ms)),
      deleteDelayMs: 1000,
    });

    expect(await network.deleteRunSecurityGroups('thumbs-3f9a0c12')).toEqual(['sg-0abc12345']);
    expect(sleeps).toEqual([1000, 2000]);
  });

  it('gives up on a group still in use after its attempts, saying to tear down again', async () => {
    const { client } = fakeEc2((command) => {
      if (command === 'DescribeSecurityGroupsCommand')
        return { SecurityGroups: [{ GroupId: 'sg-0abc12345' }] };
      throw inUse();
    });
    const network = new EcsNetwork(client, { sleep: () => Promise.resolve(), deleteAttempts: 3 });

    await expect(network.deleteRunSecurityGroups('thumbs-3f9a0c12')).rejects.toThrow(InfrastructureError);
    await expect(network.deleteRunSecurityGroups('thumbs-3f9a0c12')).rejects.toThrow(
      /Tear the run down again/,
    );
  });

  it('refuses to guess subnets in a region without a default VPC', async () => {
    const { client } = fakeEc2(() => ({ Vpcs: [] }));

    await expect(
      new EcsNetwork(client).resolve('thumbs-3f9a0c12', {
        subnets: [],
        securityGroups: [],
        assignPublicIp: true,
      }),
    ).rejects.toThrow(ConfigurationError);
  });

  it('refuses subnets in several VPCs when it must make the run’s security group', async () => {
    const { client } = fakeEc2(() => ({
      Subnets: [
        { SubnetId: 'subnet-0aaa1111', VpcId: 'vpc-0aaa1111' },
        { SubnetId: 'subnet-0bbb2222', VpcId: 'vpc-0bbb2222' },
      ],
    }));

    await expect(
      new EcsNetwork(client).resolve('thumbs-3f9a0c12', {
        subnets: ['subnet-0aaa1111', 'subnet-0bbb2222'],
        securityGroups: [],
        assignPublicIp: false,
      }),
    ).rejects.toThrow(/must all lie in one VPC/);
  });
});

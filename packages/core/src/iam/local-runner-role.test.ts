import { describe, expect, it } from '@jest/globals';

import {
  callerKind,
  localRunnerPolicy,
  localRunnerRoleName,
  localRunnerTrustPolicy,
} from './local-runner-role.js';
import { IAM_ROLE_NAME_MAX, runRoleArns, taskRolePolicy, type RunAccess } from './policies.js';

const runId = 'thumbs-3f9a0c12';
const scope = {
  partition: 'aws',
  runId,
  input: { bucket: 'photos', prefix: 'incoming/' },
  output: { bucket: 'thumbs', prefix: 'small/' },
  taskQueueArn: 'arn:aws:sqs:eu-west-1:123456789012:sluice-thumbs-3f9a0c12-tasks',
  deadLetterQueueArn: 'arn:aws:sqs:eu-west-1:123456789012:sluice-thumbs-3f9a0c12-tasks-dlq',
} as const;

describe('the local runner role', () => {
  it("has exactly the direct task role's policy, so the simulator's proofs of it hold here", () => {
    const ecsRun: RunAccess = {
      ...scope,
      region: 'eu-west-1',
      accountId: '123456789012',
      logGroupName: '/sluice/thumbs',
      watcherLogGroupName: '/aws/lambda/sluice-thumbs-3f9a0c12-watch',
      clusterArn: 'arn:aws:ecs:eu-west-1:123456789012:cluster/sluice',
      taskDefinitionFamily: 'sluice-thumbs',
      roleArns: runRoleArns('aws', '123456789012', runId),
    };
    expect(localRunnerPolicy(scope)).toEqual(taskRolePolicy(ecsRun));
  });

  it('trusts the one caller that runs the step, by its ARN', () => {
    const caller = 'arn:aws:sts::123456789012:assumed-role/deployer/GitHubActions';
    expect(localRunnerTrustPolicy(caller)).toEqual({
      Version: '2012-10-17',
      Statement: [
        { Sid: 'TheCallerOfTheRun', Effect: 'Allow', Principal: { AWS: caller }, Action: ['sts:AssumeRole'] },
      ],
    });
  });

  it("is named after the run like the run's other roles, and fits IAM's limit", () => {
    expect(localRunnerRoleName(runId)).toBe('sluice-thumbs-3f9a0c12-local');
    expect(localRunnerRoleName('a'.repeat(64)).length).toBeLessThanOrEqual(IAM_ROLE_NAME_MAX);
  });

  it.each([
    ['arn:aws:iam::123456789012:user/ana', 'user'],
    ['arn:aws:iam::123456789012:user/team/ana', 'user'],
    ['arn:aws:sts::123456789012:assumed-role/deployer/GitHubActions', 'assumed-role'],
    ['arn:aws:iam::123456789012:root', 'root'],
    ['arn:aws-cn:sts::123456789012:federated-user/ana', 'federated-user'],
  ])('tells the kind of caller %s', (arn, kind) => {
    expect(callerKind(arn)).toBe(kind);
  });

  it('refuses an ARN that is no caller', () => {
    expect(() => callerKind('arn:aws:iam::123456789012:role/deployer')).toThrow(
      /not the ARN of an AWS caller/,
    );
  });
});

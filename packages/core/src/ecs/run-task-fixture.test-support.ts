// One run's launch options, shared by the tests of the RunTask request and of the ECS workers adapter.
import type { RunnerConfig } from '../schemas/runner-config.js';
import type { EcsLaunchOptions } from './run-task-request.js';

export const RUN = 'thumbs-3f9a0c12';
export const ACCOUNT = '123456789012';
export const TASK_ROLE = `arn:aws:iam::${ACCOUNT}:role/sluice-${RUN}-task`;
export const EXECUTION_ROLE = `arn:aws:iam::${ACCOUNT}:role/sluice-${RUN}-execution`;
export const RUN_TD = `arn:aws:ecs:eu-west-1:${ACCOUNT}:task-definition/sluice-run-${RUN}:1`;

export const config: RunnerConfig = {
  runId: RUN,
  queueUrl: 'https://sqs.eu-west-1.amazonaws.com/123456789012/sluice-thumbs-3f9a0c12-tasks',
  deadLetterQueueUrl: 'https://sqs.eu-west-1.amazonaws.com/123456789012/sluice-thumbs-3f9a0c12-tasks-dlq',
  input: { bucket: 'photos', prefix: 'in/', include: ['**/*.jpg'] },
  output: { bucket: 'thumbs', prefix: 'out/' },
  maxAttempts: 3,
  idleSeconds: 60,
  env: { SIZE: '256' },
  secretEnv: ['TOKEN'],
};

/** The launch options of the run above: Fargate, two subnets, one security group. */
export function launch(overrides: Partial<EcsLaunchOptions> = {}): EcsLaunchOptions {
  return {
    runId: RUN,
    cluster: 'sluice',
    taskDefinition: RUN_TD,
    config,
    compute: { launchType: 'FARGATE', spot: false, assignPublicIp: true },
    subnets: ['subnet-0aaa1111', 'subnet-0bbb2222'],
    securityGroups: ['sg-0ccc3333'],
    taskRoleArn: TASK_ROLE,
    executionRoleArn: EXECUTION_ROLE,
    ...overrides,
  };
}

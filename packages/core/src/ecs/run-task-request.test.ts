import { describe, expect, it } from '@jest/globals';

import { ConfigurationError } from '../errors.js';
import { ecsLaunchTemplate } from './run-task-request.js';
import { RUN, TASK_ROLE, EXECUTION_ROLE, RUN_TD, config, launch } from './run-task-fixture.test-support.js';

describe('ecsLaunchTemplate', () => {
  it('builds the RunTask request of a Fargate run', () => {
    const template = ecsLaunchTemplate(
      launch({ environment: { AWS_ENDPOINT_URL: 'http://127.0.0.1:5000' } }),
    );

    expect(template).toEqual({
      cluster: 'sluice',
      taskDefinition: RUN_TD,
      startedBy: `sluice-${RUN}`,
      group: `sluice:${RUN}`,
      launchType: 'FARGATE',
      networkConfiguration: {
        awsvpcConfiguration: {
          subnets: ['subnet-0aaa1111', 'subnet-0bbb2222'],
          securityGroups: ['sg-0ccc3333'],
          assignPublicIp: 'ENABLED',
        },
      },
      overrides: {
        containerOverrides: [
          {
            name: 'algorithm',
            environment: [
              { name: 'AWS_ENDPOINT_URL', value: 'http://127.0.0.1:5000' },
              { name: 'SLUICE_RUN', value: JSON.stringify(config) },
            ],
          },
        ],
        taskRoleArn: TASK_ROLE,
        executionRoleArn: EXECUTION_ROLE,
      },
      propagateTags: 'TASK_DEFINITION',
      tags: [
        { key: 'sluice:run-id', value: RUN },
        { key: 'sluice:managed', value: 'true' },
      ],
      enableExecuteCommand: false,
    });
  });

  it('gives every runner container of a worker the run’s environment', () => {
    const template = ecsLaunchTemplate(launch({ tasksPerWorker: 3 }));

    const overrides = template.overrides?.containerOverrides ?? [];
    expect(overrides.map((override) => override.name)).toEqual(['algorithm', 'algorithm-2', 'algorithm-3']);
    for (const override of overrides) {
      expect(override.environment).toEqual([{ name: 'SLUICE_RUN', value: JSON.stringify(config) }]);
    }
  });

  it('says to lower tasksPerWorker when the copies of SLUICE_RUN outgrow the overrides', () => {
    const big = { ...config, env: { NOTE: 'x'.repeat(1500) } };
    expect(() => ecsLaunchTemplate(launch({ config: big }))).not.toThrow();
    expect(() => ecsLaunchTemplate(launch({ config: big, tasksPerWorker: 6 }))).toThrow(
      /once for each of the 6 runner containers.*lower "compute\.tasksPerWorker"/,
    );
  });

  it('uses the FARGATE_SPOT capacity provider instead of a launch type for spot', () => {
    const template = ecsLaunchTemplate(
      launch({ compute: { launchType: 'FARGATE', spot: true, assignPublicIp: false } }),
    );

    expect(template.launchType).toBeUndefined();
    expect(template.capacityProviderStrategy).toEqual([{ capacityProvider: 'FARGATE_SPOT', weight: 1 }]);
    expect(template.networkConfiguration?.awsvpcConfiguration?.assignPublicIp).toBe('DISABLED');
  });

  it('gives EC2 tasks no public IP, and refuses Spot on EC2', () => {
    const ec2 = ecsLaunchTemplate(
      launch({ compute: { launchType: 'EC2', spot: false, assignPublicIp: true } }),
    );

    expect(ec2.launchType).toBe('EC2');
    expect(ec2.networkConfiguration?.awsvpcConfiguration?.assignPublicIp).toBe('DISABLED');
    expect(() =>
      ecsLaunchTemplate(launch({ compute: { launchType: 'EC2', spot: true, assignPublicIp: false } })),
    ).toThrow(/Spot is supported on Fargate only/);
  });

  it('sets cpu and memory overrides on the task and the container when given', () => {
    const { overrides } = ecsLaunchTemplate(launch({ cpuUnits: 1024, memoryMiB: 3072 }));

    expect(overrides).toMatchObject({ cpu: '1024', memory: '3072' });
    expect(overrides?.containerOverrides?.[0]?.memory).toBe(3072);
  });

  it('leaves workerId out of SLUICE_RUN: every task of a call shares the overrides', () => {
    const { overrides } = ecsLaunchTemplate(launch({ config: { ...config, workerId: 'one' } }));
    const value = overrides?.containerOverrides?.[0]?.environment?.find(
      (e) => e.name === 'SLUICE_RUN',
    )?.value;

    expect(JSON.parse(value ?? '{}')).toEqual(config);
  });

  it('refuses no subnets, too many security groups, and overrides above 8192 characters', () => {
    expect(() => ecsLaunchTemplate(launch({ subnets: [] }))).toThrow(ConfigurationError);
    expect(() =>
      ecsLaunchTemplate(launch({ securityGroups: ['sg-01', 'sg-02', 'sg-03', 'sg-04', 'sg-05', 'sg-06'] })),
    ).toThrow(/at most 5 security groups/);
    expect(() =>
      ecsLaunchTemplate(launch({ config: { ...config, env: { BIG: 'x'.repeat(8000) } } })),
    ).toThrow(/overrides would be \d+ characters; ECS allows 8192/);
  });
});

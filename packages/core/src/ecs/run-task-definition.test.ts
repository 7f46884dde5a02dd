import type { TaskDefinition } from '@aws-sdk/client-ecs';
import { describe, expect, it } from '@jest/globals';

import { runTaskDefinitionInput } from './run-task-definition.js';

const RUN = 'thumbs-3f9a0c12';
const ACCOUNT = '123456789012';
const TASK_ROLE = `arn:aws:iam::${ACCOUNT}:role/sluice-${RUN}-task`;
const EXECUTION_ROLE = `arn:aws:iam::${ACCOUNT}:role/sluice-${RUN}-execution`;

describe('the run task definition', () => {
  const algorithm: TaskDefinition = {
    taskDefinitionArn: `arn:aws:ecs:eu-west-1:${ACCOUNT}:task-definition/sluice-thumbs:3`,
    family: 'sluice-thumbs',
    revision: 3,
    status: 'ACTIVE',
    compatibilities: ['EC2', 'FARGATE'],
    requiresAttributes: [{ name: 'com.amazonaws.ecs.capability.logging-driver.awslogs' }],
    registeredAt: new Date('2025-01-01T00:00:00Z'),
    registeredBy: `arn:aws:iam::${ACCOUNT}:user/ci`,
    networkMode: 'awsvpc',
    requiresCompatibilities: ['FARGATE', 'EC2'],
    cpu: '256',
    memory: '1024',
    runtimePlatform: { operatingSystemFamily: 'LINUX', cpuArchitecture: 'X86_64' },
    containerDefinitions: [
      {
        name: 'algorithm',
        image: `${ACCOUNT}.dkr.ecr.eu-west-1.amazonaws.com/sluice/thumbs:1.0@sha256:${'a'.repeat(64)}`,
        cpu: 0,
        memory: 640,
        essential: true,
        environment: [
          { name: 'SIZE', value: '128' },
          { name: 'TOKEN', value: 'default-that-must-go' },
        ],
        logConfiguration: { logDriver: 'awslogs', options: { 'awslogs-group': '/sluice/thumbs' } },
        stopTimeout: 120,
        dockerLabels: { 'org.sluice.algorithm': 'thumbs@1.0' },
      },
    ],
  };
  const tags = [
    { key: 'sluice:algorithm', value: 'thumbs' },
    { key: 'sluice:version', value: '1.0' },
  ];

  it('copies the algorithm’s definition with the run’s secrets, logs, roles and tags', () => {
    const input = runTaskDefinitionInput(
      { taskDefinition: algorithm, tags },
      {
        runId: RUN,
        region: 'eu-west-1',
        executionRoleArn: EXECUTION_ROLE,
        taskRoleArn: TASK_ROLE,
        secrets: {
          TOKEN: 'watermark/token',
          DB_PASSWORD: `arn:aws:secretsmanager:eu-west-1:${ACCOUNT}:secret:db-AbCdEf:password::`,
          API_KEY: `arn:aws:ssm:eu-west-1:${ACCOUNT}:parameter/thumbs/api-key`,
        },
      },
    );

    expect(input).toEqual({
      family: `sluice-run-${RUN}`,
      executionRoleArn: EXECUTION_ROLE,
      taskRoleArn: TASK_ROLE,
      networkMode: 'awsvpc',
      requiresCompatibilities: ['FARGATE', 'EC2'],
      cpu: '256',
      memory: '1024',
      runtimePlatform: { operatingSystemFamily: 'LINUX', cpuArchitecture: 'X86_64' },
      containerDefinitions: [
        {
          ...algorithm.containerDefinitions?.[0],
          environment: [{ name: 'SIZE', value: '128' }],
          secrets: [
            { name: 'API_KEY', valueFrom: `arn:aws:ssm:eu-west-1:${ACCOUNT}:parameter/thumbs/api-key` },
            {
              name: 'DB_PASSWORD',
              valueFrom: `arn:aws:secretsmanager:eu-west-1:${ACCOUNT}:secret:db-AbCdEf:password::`,
            },
            {
              name: 'TOKEN',
              valueFrom: `arn:aws:secretsmanager:eu-west-1:${ACCOUNT}:secret:watermark/token`,
            },
          ],
          logConfiguration: {
            logDriver: 'awslogs',
            options: {
              'awslogs-group': `/sluice/runs/${RUN}`,
              'awslogs-region': 'eu-west-1',
              'awslogs-stream-prefix': RUN,
            },
          },
        },
      ],
      tags: [
        { key: 'sluice:algorithm', value: 'thumbs' },
        { key: 'sluice:managed', value: 'true' },
        { key: 'sluice:run-id', value: RUN },
        { key: 'sluice:version', value: '1.0' },
      ],
    });
  });

  it('holds one runner container per task of a worker, each with its own scratch volumes and log streams', () => {
    const withScratch: TaskDefinition = {
      ...algorithm,
      volumes: [{ name: 'sluice-scratch-0' }, { name: 'sluice-scratch-1' }],
      containerDefinitions: [
        {
          ...algorithm.containerDefinitions?.[0],
          name: 'algorithm',
          mountPoints: [
            { sourceVolume: 'sluice-scratch-0', containerPath: '/data/in', readOnly: false },
            { sourceVolume: 'sluice-scratch-1', containerPath: '/tmp', readOnly: false },
          ],
        },
      ],
    };
    const input = runTaskDefinitionInput(
      { taskDefinition: withScratch, tags },
      {
        runId: RUN,
        region: 'eu-west-1',
        executionRoleArn: EXECUTION_ROLE,
        taskRoleArn: TASK_ROLE,
        secrets: { TOKEN: 'watermark/token' },
        worker: { tasksPerWorker: 3, size: { cpuUnits: 1024, memoryMiB: 2048 } },
      },
    );

    const containers = input.containerDefinitions ?? [];
    expect(containers.map((c) => [c.name, c.essential])).toEqual([
      ['algorithm', true],
      ['algorithm-2', false],
      ['algorithm-3', false],
    ]);
    expect([input.cpu, input.memory]).toEqual(['1024', '2048']);
    expect(input.requiresCompatibilities).toEqual(['FARGATE', 'EC2']);
    for (const container of containers) {
      expect(container.image).toBe(withScratch.containerDefinitions?.[0]?.image);
      expect(container.memory).toBe(640);
      expect(container.environment).toEqual([{ name: 'SIZE', value: '128' }]);
      expect(container.secrets).toEqual([
        { name: 'TOKEN', valueFrom: `arn:aws:secretsmanager:eu-west-1:${ACCOUNT}:secret:watermark/token` },
      ]);
      // Same group and prefix: the stream `<run-id>/<container>/<task id>` differs by container.
      expect(container.logConfiguration?.options?.['awslogs-stream-prefix']).toBe(RUN);
    }
    expect(containers[2]?.mountPoints).toEqual([
      { sourceVolume: 'sluice-scratch-0-3', containerPath: '/data/in', readOnly: false },
      { sourceVolume: 'sluice-scratch-1-3', containerPath: '/tmp', readOnly: false },
    ]);
    expect(containers[1]?.dockerLabels).toBeUndefined();
    expect(input.volumes?.map((volume) => volume.name)).toEqual([
      'sluice-scratch-0',
      'sluice-scratch-1',
      'sluice-scratch-0-2',
      'sluice-scratch-1-2',
      'sluice-scratch-0-3',
      'sluice-scratch-1-3',
    ]);
  });

  it('registers a worker size off Fargate’s table for EC2 only', () => {
    const input = runTaskDefinitionInput(
      { taskDefinition: algorithm, tags },
      {
        runId: RUN,
        region: 'eu-west-1',
        executionRoleArn: EXECUTION_ROLE,
        taskRoleArn: TASK_ROLE,
        worker: { tasksPerWorker: 2, size: { cpuUnits: 1536, memoryMiB: 3000 } },
      },
    );
    expect(input.requiresCompatibilities).toEqual(['EC2']);
    expect([input.cpu, input.memory]).toEqual(['1536', '3000']);
  });

  it('refuses a definition without the algorithm container', () => {
    expect(() =>
      runTaskDefinitionInput(
        { taskDefinition: { ...algorithm, containerDefinitions: [{ name: 'other' }] }, tags },
        { runId: RUN, region: 'eu-west-1', executionRoleArn: EXECUTION_ROLE, taskRoleArn: TASK_ROLE },
      ),
    ).toThrow(/no "algorithm" container/);
  });
});

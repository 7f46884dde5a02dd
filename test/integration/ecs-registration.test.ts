// Integration: the ECS task definition, the ECS catalogue and the ECR registry adapters against the
// test bed's moto server.
//
// moto differs from AWS here, and the code is written for AWS:
// - ECR is API only: moto stores no images, so nothing can be pushed to it. GetAuthorizationToken and
//   CreateRepository are tested here; the push itself (the same engine.push code) is tested against
//   the local registry in wrapped-image.test.ts and wrap-action.test.ts.
// - ListTaskDefinitions' familyPrefix is an exact family in moto and a prefix in AWS, and moto ignores
//   `sort`: the adapter filters the family and sorts the revisions itself, which is right for both.
// - DescribeTaskDefinition of a family returns moto's last revision even when it is INACTIVE, so the
//   adapter always lists the ACTIVE revisions and describes one by ARN.
import { randomBytes } from 'node:crypto';

import { CreateRepositoryCommand, DeleteRepositoryCommand, ECRClient } from '@aws-sdk/client-ecr';
import {
  DeregisterTaskDefinitionCommand,
  DescribeTaskDefinitionCommand,
  ECSClient,
} from '@aws-sdk/client-ecs';
import { afterAll, describe, expect, it } from '@jest/globals';
import {
  ALGORITHM_TAGS,
  EcrRegistry,
  EcsCatalogue,
  EcsTaskDefinitions,
  registerTaskDefinition,
  taskDefinitionInput,
} from '@sluice/core/ecs';
import { WRAPPED_LABELS, type RegistryLogin } from '@sluice/core/compute';
import { parseManifest } from '@sluice/core';
import { describeTaskDefinitionRegistryContract, testbedAwsClientConfig } from '@sluice/testing';

const config = testbedAwsClientConfig();
const ecs = new ECSClient(config);
const ecr = new ECRClient(config);
const id = randomBytes(4).toString('hex');
const digest = (c: string): string => `sha256:${c.repeat(64)}`;

function registration(name: string, version: string, image: string, extra: Record<string, unknown> = {}) {
  const manifestText = JSON.stringify({
    name,
    version,
    image: 'algo:1',
    memory: 512,
    port: 8080,
    readOnlyRootFilesystem: true,
    env: { SIZE: { default: '128' }, TOKEN: { secret: true } },
    ...extra,
  });
  return { manifest: parseManifest(manifestText, 'algorithm.json'), manifestText, image };
}

afterAll(() => {
  ecs.destroy();
  ecr.destroy();
});

// The contract FakeTaskDefinitionRegistry passes too (packages/testing/src/fake-task-definition-registry.test.ts).
describeTaskDefinitionRegistryContract('EcsTaskDefinitions on moto', () =>
  Promise.resolve({
    registry: new EcsTaskDefinitions(ecs),
    id,
    deregister: async (arn: string) => {
      await ecs.send(new DeregisterTaskDefinitionCommand({ taskDefinition: arn }));
    },
    cleanup: () => Promise.resolve(),
  }),
);

describe('ECS task definitions on moto', () => {
  const registry = new EcsTaskDefinitions(ecs);
  const name = `it-td-${id}`;
  const image = (c: string): string => `127.0.0.1:5000/sluice/${name}:1.0@${digest(c)}`;
  const input = (c: string, extra: Record<string, unknown> = {}) =>
    taskDefinitionInput({ ...registration(name, '1.0', image(c), extra), region: config.region });

  it('registers the fields a runner task needs', async () => {
    const first = await registerTaskDefinition(registry, input('a'));
    const described = await ecs.send(
      new DescribeTaskDefinitionCommand({ taskDefinition: first.arn, include: ['TAGS'] }),
    );
    const definition = described.taskDefinition;
    const container = definition?.containerDefinitions?.[0];

    expect(first.reused).toBe(false);
    expect(definition).toMatchObject({
      family: `sluice-${name}`,
      networkMode: 'awsvpc',
      requiresCompatibilities: ['FARGATE', 'EC2'],
      cpu: '256',
      memory: '1024',
      runtimePlatform: { operatingSystemFamily: 'LINUX', cpuArchitecture: 'X86_64' },
    });
    expect(container).toMatchObject({
      name: 'algorithm',
      image: image('a'),
      memory: 640,
      environment: [{ name: 'SIZE', value: '128' }],
      portMappings: [{ containerPort: 8080, hostPort: 8080, protocol: 'tcp' }],
      privileged: false,
      readonlyRootFilesystem: true,
      stopTimeout: 120,
      logConfiguration: {
        logDriver: 'awslogs',
        options: { 'awslogs-group': `/sluice/${name}`, 'awslogs-region': config.region },
      },
    });
    expect(container?.dockerLabels?.[WRAPPED_LABELS.algorithm]).toBe(`${name}@1.0`);
    expect(described.tags).toEqual(
      expect.arrayContaining([
        { key: ALGORITHM_TAGS.name, value: name },
        { key: ALGORITHM_TAGS.version, value: '1.0' },
        { key: ALGORITHM_TAGS.digest, value: digest('a') },
      ]),
    );
  });

  it('reuses the revision for the same digest and settings, and adds one for another digest', async () => {
    const again = await registerTaskDefinition(registry, input('a'));
    const other = await registerTaskDefinition(registry, input('b'));
    const otherAgain = await registerTaskDefinition(registry, input('b'));

    expect(again).toMatchObject({ revision: 1, reused: true });
    expect(other).toMatchObject({ revision: 2, reused: false });
    expect(otherAgain).toEqual({ ...other, reused: true });
  });

  it('registers anew when the matching revision was deregistered', async () => {
    const current = await registerTaskDefinition(registry, input('b'));
    await ecs.send(new DeregisterTaskDefinitionCommand({ taskDefinition: current.arn }));

    const after = await registerTaskDefinition(registry, input('b'));

    expect(after).toMatchObject({ revision: 3, reused: false });
  });

  it('sets ARM64 from the platform', async () => {
    const arm = await registerTaskDefinition(registry, input('c', { platform: 'linux/arm64' }));
    const described = await ecs.send(new DescribeTaskDefinitionCommand({ taskDefinition: arm.arn }));

    expect(described.taskDefinition?.runtimePlatform?.cpuArchitecture).toBe('ARM64');
  });
});

describe('the ECS catalogue on moto', () => {
  const catalogue = new EcsCatalogue({
    taskDefinitions: new EcsTaskDefinitions(ecs),
    region: config.region,
    executionRoleArn: 'arn:aws:iam::123456789012:role/sluice-exec',
  });
  const name = `it-cat-${id}`;

  it('resolves name@version to the image, the task definition and the manifest', async () => {
    const v1 = await catalogue.register(
      registration(name, '1.0.0', `r.example/sluice/${name}:1.0.0@${digest('1')}`),
    );
    const v2 = await catalogue.register(
      registration(name, '2.0.0', `r.example/sluice/${name}:2.0.0@${digest('2')}`),
    );
    const v1Again = await catalogue.register(
      registration(name, '1.0.0', `r.example/sluice/${name}:1.0.0@${digest('1')}`),
    );

    const resolved = await catalogue.resolve(`${name}@1.0.0`);

    expect(v1Again).toMatchObject({ reused: true, taskDefinitionArn: v1.taskDefinitionArn });
    expect(resolved).toEqual({
      name,
      version: '1.0.0',
      image: `r.example/sluice/${name}:1.0.0@${digest('1')}`,
      taskDefinitionArn: v1.taskDefinitionArn,
      manifest: registration(name, '1.0.0', '').manifest,
    });
    expect((await catalogue.resolve(`${name}@2.0.0`)).taskDefinitionArn).toBe(v2.taskDefinitionArn);
    const described = await ecs.send(
      new DescribeTaskDefinitionCommand({ taskDefinition: v1.taskDefinitionArn }),
    );
    expect(described.taskDefinition?.executionRoleArn).toBe('arn:aws:iam::123456789012:role/sluice-exec');
  });

  it('says an unknown algorithm is not registered and what to run', async () => {
    await expect(catalogue.resolve(`${name}@9.9.9`)).rejects.toThrow(
      `no algorithm ${name}@9.9.9 is registered in ECS`,
    );
  });
});

describe('ECR on moto (API only: moto stores no images)', () => {
  const registry = new EcrRegistry(ecr);
  const repositories: string[] = [];

  afterAll(async () => {
    for (const repositoryName of repositories) {
      await ecr.send(new DeleteRepositoryCommand({ repositoryName, force: true }));
    }
  });

  it('hands the engine a login from GetAuthorizationToken, on the engine login path', async () => {
    const logins: RegistryLogin[] = [];

    const host = await registry.login({
      login: (credentials) => {
        logins.push(credentials);
        return Promise.resolve();
      },
    });

    expect(host).toMatch(/^[0-9]{12}\.dkr\.ecr\.us-east-1\.amazonaws\.com$/);
    expect(logins[0]).toMatchObject({ registry: host, username: 'AWS' });
    expect(logins[0]?.password).not.toBe('');
  });

  it('creates the repository when missing, and finds it when it exists', async () => {
    const name = `sluice/it-${id}`;
    repositories.push(name);

    const created = await registry.ensureRepository(name, { tags: { [ALGORITHM_TAGS.name]: 'x' } });
    const existing = await registry.ensureRepository(name);

    expect(created).toMatchObject({ name, created: true });
    expect(created.uri).toMatch(new RegExp(`^[0-9]{12}\\.dkr\\.ecr\\.us-east-1\\.amazonaws\\.com/${name}$`));
    expect(existing).toEqual({ ...created, created: false });
    await expect(ecr.send(new CreateRepositoryCommand({ repositoryName: name }))).rejects.toThrow(
      /already exists/,
    );
  });
});

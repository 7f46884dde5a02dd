import { describe, expect, it } from '@jest/globals';

import { ConfigurationError } from '../errors.js';
import { parseManifest } from '../schemas/documents.js';
import { FakeTaskDefinitionRegistry } from './task-definition-fakes.test-support.js';
import {
  ALGORITHM_TAGS,
  normalizedTaskDefinition,
  parseTaskDefinitionArn,
  registerTaskDefinition,
  sameTaskDefinition,
  taskDefinitionFamily,
  taskDefinitionInput,
} from './task-definition.js';
import { WRAPPED_LABELS } from '../compute/wrapped-image.js';

const DIGEST = `sha256:${'d'.repeat(64)}`;
const OTHER_DIGEST = `sha256:${'e'.repeat(64)}`;
const IMAGE = `127.0.0.1:5000/sluice/thumbs:1.0@${DIGEST}`;

function input(manifest: Record<string, unknown>, image = IMAGE, extra: { executionRoleArn?: string } = {}) {
  const text = JSON.stringify({ name: 'thumbs', version: '1.0', image: 'algo:1', memory: 512, ...manifest });
  return taskDefinitionInput({
    manifest: parseManifest(text, 'algorithm.json'),
    manifestText: text,
    image,
    region: 'eu-west-1',
    ...extra,
  });
}

describe('taskDefinitionInput', () => {
  it('runs the image by digest with the manifest memory plus the runner, on the smallest Fargate size', () => {
    const result = input({
      env: {
        SIZE: { default: '256' },
        TOKEN: { secret: true },
        MODE: { required: true },
      },
    });
    const [container] = result.containerDefinitions ?? [];

    expect(result).toMatchObject({
      family: 'sluice-thumbs',
      networkMode: 'awsvpc',
      requiresCompatibilities: ['FARGATE', 'EC2'],
      cpu: '256',
      memory: '1024',
      runtimePlatform: { operatingSystemFamily: 'LINUX', cpuArchitecture: 'X86_64' },
      tags: [
        { key: ALGORITHM_TAGS.name, value: 'thumbs' },
        { key: ALGORITHM_TAGS.version, value: '1.0' },
        { key: ALGORITHM_TAGS.digest, value: DIGEST },
      ],
    });
    expect(result.executionRoleArn).toBeUndefined();
    expect(container).toMatchObject({
      name: 'algorithm',
      image: IMAGE,
      essential: true,
      memory: 640,
      environment: [{ name: 'SIZE', value: '256' }],
      privileged: false,
      readonlyRootFilesystem: false,
      stopTimeout: 120,
      logConfiguration: {
        logDriver: 'awslogs',
        options: {
          'awslogs-group': '/sluice/thumbs',
          'awslogs-region': 'eu-west-1',
          'awslogs-stream-prefix': 'sluice',
        },
      },
    });
    expect(container?.portMappings).toBeUndefined();
    expect(JSON.parse(container?.dockerLabels?.[WRAPPED_LABELS.manifestJson] ?? '')).toMatchObject({
      name: 'thumbs',
      memory: 512,
    });
    expect(container?.dockerLabels?.[WRAPPED_LABELS.algorithm]).toBe('thumbs@1.0');
  });

  it('picks a larger Fargate size when the runner overhead crosses a boundary, and sets the container cpu', () => {
    const result = input({ memory: '4GiB', cpu: 0.5 });

    expect(result.cpu).toBe('1024');
    expect(result.memory).toBe('5120');
    expect(result.containerDefinitions?.[0]).toMatchObject({ memory: 4096 + 128, cpu: 512 });
  });

  it('sets ARM64 for an arm64 platform, the port, a read-only root with writable mounts, and the role', () => {
    const result = input(
      {
        platform: 'linux/arm64',
        port: 8080,
        readOnlyRootFilesystem: true,
        input: '/data/in/',
        output: '/results/out.json',
      },
      IMAGE,
      { executionRoleArn: 'arn:aws:iam::123456789012:role/sluice-exec' },
    );
    const [container] = result.containerDefinitions ?? [];

    expect(result.runtimePlatform).toEqual({ operatingSystemFamily: 'LINUX', cpuArchitecture: 'ARM64' });
    expect(result.executionRoleArn).toBe('arn:aws:iam::123456789012:role/sluice-exec');
    expect(container?.portMappings).toEqual([{ containerPort: 8080, hostPort: 8080, protocol: 'tcp' }]);
    expect(container?.readonlyRootFilesystem).toBe(true);
    expect(container?.mountPoints?.map((m) => m.containerPath).sort()).toEqual([
      '/data/in',
      '/results',
      '/tmp',
    ]);
    expect(result.volumes).toHaveLength(3);
  });

  it('is EC2 only for a GPU algorithm', () => {
    const result = input({ gpu: 1, cpu: 4, memory: '16GiB' });

    expect(result.requiresCompatibilities).toEqual(['EC2']);
    expect(result.containerDefinitions?.[0]?.resourceRequirements).toEqual([{ type: 'GPU', value: '1' }]);
    expect(result.cpu).toBe('4096');
  });

  it('refuses an image that is not pinned to a digest', () => {
    expect(() => input({}, '127.0.0.1:5000/sluice/thumbs:1.0')).toThrow(ConfigurationError);
  });

  it('names the family after the algorithm with only the characters ECS allows', () => {
    expect(taskDefinitionFamily('thumbs.v2_x-y')).toBe('sluice-thumbs-v2_x-y');
    expect(parseTaskDefinitionArn('arn:aws:ecs:eu-west-1:1:task-definition/sluice-a:12')).toEqual({
      family: 'sluice-a',
      revision: 12,
    });
  });
});

describe('the reuse comparison', () => {
  it('finds a registered revision (with ECS defaults filled in) the same as its input', async () => {
    const registry = new FakeTaskDefinitionRegistry();
    const wanted = input({ port: 9000, env: { B: { default: '2' }, A: { default: '1' } } });
    const made = await registry.register(wanted);

    expect(made.taskDefinition.containerDefinitions?.[0]?.cpu).toBe(0);
    expect(sameTaskDefinition(wanted, made)).toBe(true);
  });

  it('tells apart another digest, other memory, another role', async () => {
    const registry = new FakeTaskDefinitionRegistry();
    const made = await registry.register(input({}));

    expect(sameTaskDefinition(input({}, `127.0.0.1:5000/sluice/thumbs:1.0@${OTHER_DIGEST}`), made)).toBe(
      false,
    );
    expect(sameTaskDefinition(input({ memory: 1024 }), made)).toBe(false);
    expect(sameTaskDefinition(input({}, IMAGE, { executionRoleArn: 'arn:aws:iam::1:role/x' }), made)).toBe(
      false,
    );
  });

  it('ignores the order of tags, variables and labels', () => {
    const a = input({ env: { A: { default: '1' }, B: { default: '2' } } });
    const b = { ...a, tags: [...(a.tags ?? [])].reverse() };

    expect(normalizedTaskDefinition(a, a.tags)).toBe(normalizedTaskDefinition(b, b.tags));
  });
});

describe('registerTaskDefinition', () => {
  it('reuses the revision for the same digest and settings, and adds one for a new digest', async () => {
    const registry = new FakeTaskDefinitionRegistry();

    const first = await registerTaskDefinition(registry, input({}));
    const again = await registerTaskDefinition(registry, input({}));
    const changed = await registerTaskDefinition(
      registry,
      input({}, `127.0.0.1:5000/sluice/thumbs:1.0@${OTHER_DIGEST}`),
    );

    expect(first).toMatchObject({ revision: 1, reused: false });
    expect(again).toEqual({ ...first, reused: true });
    expect(changed).toMatchObject({ revision: 2, reused: false });
  });

  it('compares with the newest revision of the same version, not another version registered since', async () => {
    const registry = new FakeTaskDefinitionRegistry();
    const v1 = await registerTaskDefinition(registry, input({}));
    await registerTaskDefinition(
      registry,
      input({ version: '2.0' }, `127.0.0.1:5000/sluice/thumbs:2.0@${OTHER_DIGEST}`),
    );

    const v1Again = await registerTaskDefinition(registry, input({}));

    expect(v1Again).toEqual({ ...v1, reused: true });
  });

  it('registers anew when the matching revision was deregistered', async () => {
    const registry = new FakeTaskDefinitionRegistry();
    const first = await registerTaskDefinition(registry, input({}));
    registry.inactive.add(first.arn);

    const again = await registerTaskDefinition(registry, input({}));

    expect(again).toMatchObject({ revision: 2, reused: false });
  });
});

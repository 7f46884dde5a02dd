import { describe, expect, it } from '@jest/globals';

import { ConfigurationError } from '../errors.js';
import { parseManifest } from '../schemas/documents.js';
import {
  ALGORITHM_TAGS,
  parseTaskDefinitionArn,
  taskDefinitionFamily,
  taskDefinitionInput,
} from './task-definition.js';
import { runnerCapabilities } from '../compute/runner-hardening.js';
import { WRAPPED_LABELS } from '../compute/wrapped-image.js';

const DIGEST = `sha256:${'d'.repeat(64)}`;
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

  it("drops every capability but the runner's (adding none: Fargate refuses), runs an init process, and mounts where the runner writes", () => {
    const [container] = input({}).containerDefinitions ?? [];

    const capabilities = container?.linuxParameters?.capabilities;
    expect(capabilities?.add).toBeUndefined();
    expect(capabilities?.drop).toEqual(
      expect.arrayContaining(['SYS_PTRACE', 'NET_RAW', 'MKNOD', 'SYS_ADMIN']),
    );
    for (const kept of runnerCapabilities()) expect(capabilities?.drop).not.toContain(kept);
    expect(capabilities?.drop).toHaveLength(37 - runnerCapabilities().length);
    expect(container?.linuxParameters?.initProcessEnabled).toBe(true);
    expect(container?.readonlyRootFilesystem).toBe(false);
    expect(container?.mountPoints?.map((m) => m.containerPath).sort()).toEqual([
      '/data/in',
      '/data/out',
      '/tmp',
    ]);
  });

  it('mounts no directory for an input file directly in /', () => {
    const [container] = input({ input: '/input.bin' }).containerDefinitions ?? [];

    expect(container?.mountPoints?.map((m) => m.containerPath).sort()).toEqual(['/data/out', '/tmp']);
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

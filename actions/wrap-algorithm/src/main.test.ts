import { fileURLToPath } from 'node:url';

import { describe, expect, it } from '@jest/globals';
import { createInputReader, runAction } from '@sluice/action-kit';
import { createMemoryToolkit } from '@sluice/testing';

import { readInputs } from './inputs.js';
import { bundledRunnerDir, main } from './main.js';

function read(inputs: Record<string, string>, environment: Record<string, string> = {}) {
  return readInputs(createInputReader(createMemoryToolkit({ inputs })), environment);
}

describe('wrap-algorithm inputs', () => {
  it('applies the defaults outside the runner, with the region from the environment', () => {
    const inputs = read({ registry: 'localhost:5000' }, { AWS_REGION: 'eu-west-1' });

    expect(inputs).toEqual({
      manifest: 'algorithm.json',
      platform: undefined,
      push: { kind: 'registry', registry: 'localhost:5000' },
      region: 'eu-west-1',
      executionRoleArn: undefined,
      registerTaskDefinition: true,
    });
  });

  it('only builds when push is false, and then registers no task definition', () => {
    expect(read({ push: 'false' })).toMatchObject({ push: { kind: 'none' }, registerTaskDefinition: false });
  });

  it('pushes to ECR with a region and needs no registry', () => {
    expect(read({ ecr: 'true', region: 'us-east-2' })).toMatchObject({
      push: { kind: 'ecr' },
      region: 'us-east-2',
    });
  });

  it('refuses a platform that is not os/arch', () => {
    expect(() => read({ platform: 'amd64', push: 'false' })).toThrow(
      'Input `platform` must be an OCI platform such as linux/amd64',
    );
  });

  it('says where to push when neither a registry nor ECR is given', () => {
    expect(() => read({})).toThrow('Input `registry` is empty, so there is nowhere to push');
  });

  it('refuses a registry and ECR together', () => {
    expect(() => read({ registry: 'localhost:5000', ecr: 'true', region: 'eu-west-1' })).toThrow(
      'both name where to push',
    );
  });

  it('needs a region to register a task definition, unless told not to', () => {
    expect(() => read({ registry: 'localhost:5000' })).toThrow('No AWS region');
    expect(read({ registry: 'localhost:5000', 'register-task-definition': 'false' })).toMatchObject({
      registerTaskDefinition: false,
      region: undefined,
    });
  });

  it('refuses an execution role that is not a role ARN', () => {
    expect(() => read({ push: 'false', 'execution-role-arn': 'sluice-exec' })).toThrow(
      'Input `execution-role-arn` must be an IAM role ARN',
    );
  });
});

describe('wrap-algorithm main', () => {
  it('fails naming the input when the manifest does not exist', async () => {
    const toolkit = createMemoryToolkit({
      inputs: { manifest: 'no-such-dir/algorithm.json', push: 'false' },
    });

    await runAction(() => main(toolkit), undefined, toolkit);

    expect(toolkit.failure()).toContain(
      'Input `manifest` names "no-such-dir/algorithm.json", which does not exist',
    );
    expect(toolkit.outputs.size).toBe(0);
  });

  it('finds the runner next to its own bundle', () => {
    expect(bundledRunnerDir('file:///opt/actions/wrap-algorithm/dist/index.js')).toBe(
      fileURLToPath('file:///opt/actions/wrap-algorithm/dist/runner/'),
    );
  });
});

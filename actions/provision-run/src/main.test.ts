import { describe, expect, it } from '@jest/globals';
import { createInputReader, runAction } from '@sluice/action-kit';
import { createMemoryToolkit } from '@sluice/testing';
import { ConfigurationError } from '@sluice/core';

import { readInputs } from './inputs.js';
import { main } from './main.js';
import { fakeProvision, job, provisioned } from './main.test-support.js';

describe('provision-run inputs', () => {
  it('reads the job, a backend override and the token', () => {
    const toolkit = createMemoryToolkit({
      inputs: {
        job: 'jobs/a.json',
        backend: 'local',
        'github-token': 'ghs_abc',
        'teardown-on-failure': 'false',
      },
    });

    expect(readInputs(createInputReader(toolkit))).toEqual({
      job: 'jobs/a.json',
      backend: 'local',
      githubToken: 'ghs_abc',
      teardownOnFailure: false,
    });
  });

  it('keeps the job file default and the job backend when not given, with no token', () => {
    expect(readInputs(createInputReader(createMemoryToolkit()))).toEqual({
      job: 'job.json',
      backend: undefined,
      githubToken: undefined,
      teardownOnFailure: true,
    });
  });

  it('treats the unevaluated default expression as no token', () => {
    const toolkit = createMemoryToolkit({ inputs: { 'github-token': '${{ github.token }}' } });

    expect(readInputs(createInputReader(toolkit)).githubToken).toBeUndefined();
  });

  it('refuses an unknown backend', () => {
    const toolkit = createMemoryToolkit({ inputs: { backend: 'k8s' } });

    expect(() => readInputs(createInputReader(toolkit))).toThrow('Input `backend` must be one of local, ecs');
  });
});

describe('provision-run main', () => {
  // Commenting on the pushed commit (a stand-in GitHub API on a loopback port) is tested in
  // test/integration/actions/provision-run-comment.test.ts.
  it('provisions the job with the backend override and sets the three outputs', async () => {
    const toolkit = createMemoryToolkit({ inputs: { job, backend: 'local' } });
    const step = fakeProvision();

    await runAction(
      () => main(toolkit, { provision: step.provision, env: { AWS_REGION: 'eu-west-1' } }),
      undefined,
      toolkit,
    );

    expect(toolkit.failure()).toBeUndefined();
    expect(
      step.calls.map((call) => [call.jobPath, call.context.backend, call.context.env.AWS_REGION]),
    ).toEqual([[job, 'local', 'eu-west-1']]);
    expect(Object.fromEntries(toolkit.outputs)).toEqual({
      'run-id': 'thumbnails-3f9a0c12',
      'queue-url': provisioned.queueUrl,
      'upload-to': 's3://sluice-demo-in/photos/',
    });
    expect(toolkit.messages).toContainEqual({ level: 'warning', message: 'the input bucket is versioned' });
  });

  it('tells where to upload, and how to end the input, in the job summary', async () => {
    const toolkit = createMemoryToolkit({ inputs: { job } });

    await runAction(
      () => main(toolkit, { provision: fakeProvision().provision, env: {} }),
      undefined,
      toolkit,
    );

    expect(toolkit.summaries).toHaveLength(1);
    expect(toolkit.summaries[0]).toContain('run `thumbnails-3f9a0c12` is ready for input');
    expect(toolkit.summaries[0]).toContain('aws s3 cp --recursive ./input s3://sluice-demo-in/photos/');
    expect(toolkit.summaries[0]).toContain('s3://sluice-demo-in/_sluice/thumbnails-3f9a0c12/end');
  });

  it('fails with the step message and sets no output when provisioning is refused', async () => {
    const toolkit = createMemoryToolkit({ inputs: { job } });
    const step = fakeProvision(
      new ConfigurationError('algorithm thumbnails@1.0.0 is not in the local catalogue'),
    );

    await runAction(() => main(toolkit, { provision: step.provision, env: {} }), undefined, toolkit);

    expect(toolkit.failure()).toBe('algorithm thumbnails@1.0.0 is not in the local catalogue');
    expect(toolkit.outputs.size).toBe(0);
    expect(toolkit.summaries).toHaveLength(0);
  });

  it('fails naming the input when the job file does not exist, before provisioning', async () => {
    const toolkit = createMemoryToolkit({ inputs: { job: 'no-such-dir/job.json' } });
    const step = fakeProvision();

    await runAction(() => main(toolkit, { provision: step.provision, env: {} }), undefined, toolkit);

    expect(toolkit.failure()).toContain('Input `job` names "no-such-dir/job.json", which does not exist');
    expect(step.calls).toHaveLength(0);
    expect(toolkit.outputs.size).toBe(0);
  });
});

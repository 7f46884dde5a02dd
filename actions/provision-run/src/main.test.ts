import { fileURLToPath } from 'node:url';

import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { createInputReader, createMemoryToolkit, runAction } from '@sluice/action-kit';
import { ConfigurationError } from '@sluice/core';
import type { ProvisionStepResult, StepContext } from '@sluice/orchestrator';
import { FakeGitHubApi } from '@sluice/testing';

import { readInputs } from './inputs.js';
import { main } from './main.js';

const job = fileURLToPath(new URL('../../../examples/jobs/thumbnails.json', import.meta.url));

const provisioned: ProvisionStepResult = {
  runId: 'thumbnails-3f9a0c12',
  queueUrl: 'http://localhost:5000/123456789012/sluice-thumbnails-3f9a0c12-tasks',
  uploadTo: 's3://sluice-demo-in/photos/',
  endMarker: 's3://sluice-demo-in/_sluice/thumbnails-3f9a0c12/end',
  warnings: ['the input bucket is versioned'],
};

/** A provision step that records what it was given and returns `result`. */
function fakeProvision(result: ProvisionStepResult | Error = provisioned): {
  calls: { jobPath: string; context: StepContext }[];
  provision: (jobPath: string, context: StepContext) => Promise<ProvisionStepResult>;
} {
  const calls: { jobPath: string; context: StepContext }[] = [];
  return {
    calls,
    provision: (jobPath, context) => {
      calls.push({ jobPath, context });
      return result instanceof Error ? Promise.reject(result) : Promise.resolve(result);
    },
  };
}

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
  const api = new FakeGitHubApi();
  let apiUrl: string;

  beforeAll(async () => {
    apiUrl = await api.start();
  });

  afterAll(async () => {
    await api.stop();
  });

  const pushEnv = (): Record<string, string> => ({
    GITHUB_EVENT_NAME: 'push',
    GITHUB_REPOSITORY: 'octo/photos',
    GITHUB_SHA: 'abc123def4567890abc123def4567890abc123de',
    GITHUB_API_URL: apiUrl,
    GITHUB_SERVER_URL: 'https://github.example',
    GITHUB_RUN_ID: '42',
  });

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

  it('comments on the pushed commit through the GitHub API, with the token masked', async () => {
    api.reset();
    const toolkit = createMemoryToolkit({ inputs: { job, 'github-token': 'ghs_secret' } });

    await runAction(
      () => main(toolkit, { provision: fakeProvision().provision, env: pushEnv() }),
      undefined,
      toolkit,
    );

    expect(toolkit.failure()).toBeUndefined();
    expect(toolkit.secrets).toContain('ghs_secret');
    expect(api.received.map((r) => `${r.method} ${r.path}`)).toEqual([
      'GET /repos/octo/photos/commits/abc123def4567890abc123def4567890abc123de/comments',
      'POST /repos/octo/photos/commits/abc123def4567890abc123def4567890abc123de/comments',
    ]);
    expect(api.received[1]?.headers.authorization).toBe('token ghs_secret');
    const [comment] = api.commentsOn('octo/photos', 'abc123def4567890abc123def4567890abc123de');
    expect(comment?.body).toContain('s3://sluice-demo-in/photos/');
    expect(comment?.body).toContain('https://github.example/octo/photos/actions/runs/42');
    expect(toolkit.outputs.get('run-id')).toBe('thumbnails-3f9a0c12');
  });

  it('edits its comment, rather than adding one, when the workflow is re-run', async () => {
    api.reset();
    for (const runId of ['42', '43']) {
      const toolkit = createMemoryToolkit({ inputs: { job, 'github-token': 'ghs_secret' } });
      await runAction(
        () =>
          main(toolkit, {
            provision: fakeProvision().provision,
            env: { ...pushEnv(), GITHUB_RUN_ID: runId },
          }),
        undefined,
        toolkit,
      );
      expect(toolkit.failure()).toBeUndefined();
    }

    const comments = api.commentsOn('octo/photos', 'abc123def4567890abc123def4567890abc123de');
    expect(comments).toHaveLength(1);
    expect(comments[0]?.body).toContain('/actions/runs/43');
    expect(api.received.map((r) => r.method)).toEqual(['GET', 'POST', 'GET', 'PATCH']);
  });

  it('warns, and still succeeds, when GitHub refuses the comment', async () => {
    api.reset();
    api.refuseWith = 403;
    const toolkit = createMemoryToolkit({ inputs: { job, 'github-token': 'ghs_secret' } });

    await runAction(
      () => main(toolkit, { provision: fakeProvision().provision, env: pushEnv() }),
      undefined,
      toolkit,
    );

    expect(toolkit.failure()).toBeUndefined();
    expect(api.received).toHaveLength(1);
    const warnings = toolkit.messages.filter((m) => m.level === 'warning').map((m) => m.message);
    expect(warnings.some((w) => w.startsWith('could not comment on commit abc123def456'))).toBe(true);
    expect(warnings.some((w) => w.includes('contents: write'))).toBe(true);
    expect(toolkit.outputs.get('upload-to')).toBe('s3://sluice-demo-in/photos/');
  });

  it('does not comment when the run was not triggered by a push', async () => {
    api.reset();
    const toolkit = createMemoryToolkit({ inputs: { job, 'github-token': 'ghs_secret' } });

    await runAction(
      () =>
        main(toolkit, {
          provision: fakeProvision().provision,
          env: { ...pushEnv(), GITHUB_EVENT_NAME: 'workflow_dispatch' },
        }),
      undefined,
      toolkit,
    );

    expect(toolkit.failure()).toBeUndefined();
    expect(api.received).toHaveLength(0);
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

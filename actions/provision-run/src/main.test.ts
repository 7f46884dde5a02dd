import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { fileURLToPath } from 'node:url';

import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { createInputReader, createMemoryToolkit, runAction } from '@sluice/action-kit';
import { ConfigurationError, type ProvisionStepResult, type StepContext } from '@sluice/core';

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

interface Received {
  readonly method: string | undefined;
  readonly url: string | undefined;
  readonly headers: IncomingHttpHeaders;
  readonly body: { body?: string };
}

/** A stand-in for the GitHub REST API on a loopback port (GitHub itself is not reachable here). */
class FakeGitHubApi {
  readonly received: Received[] = [];
  status = 201;
  private readonly server: Server = createServer((request, response) => {
    let text = '';
    request.on('data', (chunk: Buffer) => (text += chunk.toString()));
    request.on('end', () => {
      this.received.push({
        method: request.method,
        url: request.url,
        headers: request.headers,
        body: JSON.parse(text === '' ? '{}' : text) as { body?: string },
      });
      response.writeHead(this.status, { 'content-type': 'application/json' });
      response.end(
        this.status === 201
          ? JSON.stringify({
              id: 1,
              html_url: 'https://github.example/octo/photos/commit/abc#commitcomment-1',
            })
          : JSON.stringify({ message: 'Resource not accessible by integration' }),
      );
    });
  });

  async start(): Promise<string> {
    await new Promise<void>((resolve) => this.server.listen(0, '127.0.0.1', resolve));
    return `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }

  async stop(): Promise<void> {
    await new Promise<void>((resolve, reject) => {
      this.server.close((error) => {
        if (error === undefined) resolve();
        else reject(error);
      });
    });
  }
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
    api.received.length = 0;
    api.status = 201;
    const toolkit = createMemoryToolkit({ inputs: { job, 'github-token': 'ghs_secret' } });

    await runAction(
      () => main(toolkit, { provision: fakeProvision().provision, env: pushEnv() }),
      undefined,
      toolkit,
    );

    expect(toolkit.failure()).toBeUndefined();
    expect(toolkit.secrets).toContain('ghs_secret');
    expect(api.received).toHaveLength(1);
    const [request] = api.received;
    expect(request?.method).toBe('POST');
    expect(request?.url).toBe('/repos/octo/photos/commits/abc123def4567890abc123def4567890abc123de/comments');
    expect(request?.headers.authorization).toBe('token ghs_secret');
    expect(request?.body.body).toContain('s3://sluice-demo-in/photos/');
    expect(request?.body.body).toContain('https://github.example/octo/photos/actions/runs/42');
    expect(toolkit.outputs.get('run-id')).toBe('thumbnails-3f9a0c12');
  });

  it('warns, and still succeeds, when GitHub refuses the comment', async () => {
    api.received.length = 0;
    api.status = 403;
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
    expect(toolkit.outputs.get('upload-to')).toBe('s3://sluice-demo-in/photos/');
  });

  it('does not comment when the run was not triggered by a push', async () => {
    api.received.length = 0;
    api.status = 201;
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

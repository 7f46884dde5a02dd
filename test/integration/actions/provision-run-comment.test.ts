// provision-run's comment on the pushed commit, through a stand-in GitHub API on a loopback port
// (FakeGitHubApi): posted with the token masked, edited on a re-run, a refusal only warned about, none
// when the run was not triggered by a push. The rest of main is unit-tested beside it.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { runAction } from '@sluice/action-kit';
import { createMemoryToolkit, FakeGitHubApi } from '@sluice/testing';

import { main } from '../../../actions/provision-run/src/main.js';
import { fakeProvision, job } from '../../../actions/provision-run/src/main.test-support.js';

describe('provision-run main: the commit comment', () => {
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
});

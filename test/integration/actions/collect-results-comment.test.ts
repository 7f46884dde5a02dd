// collect-results' outcome comment on the pushed commit, through a stand-in GitHub API on a loopback
// port (FakeGitHubApi): posted even when the step then fails, edited on a re-run beside the upload
// comment, none for a scheduled or dispatched run, a refusal only warned about. The rest of main is
// unit-tested beside it.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { runAction } from '@sluice/action-kit';
import type { CollectReport } from '@sluice/core';
import { createMemoryToolkit, FakeGitHubApi } from '@sluice/testing';

import { main } from '../../../actions/collect-results/src/main.js';
import { fakeCollect, report } from '../../../actions/collect-results/src/main.test-support.js';

describe('collect-results outcome comment', () => {
  const api = new FakeGitHubApi();
  const SHA = 'abc123def4567890abc123def4567890abc123de';
  let apiUrl: string;

  beforeAll(async () => {
    apiUrl = await api.start();
  });

  afterAll(async () => {
    await api.stop();
  });

  const pushEnv = (event = 'push'): Record<string, string> => ({
    GITHUB_EVENT_NAME: event,
    GITHUB_REPOSITORY: 'octo/photos',
    GITHUB_SHA: SHA,
    GITHUB_API_URL: apiUrl,
    GITHUB_SERVER_URL: 'https://github.example',
    GITHUB_RUN_ID: '42',
  });

  async function collectOnce(
    env: Record<string, string>,
    counts: Partial<CollectReport['counts']>,
    inputs: Record<string, string> = {},
  ): Promise<ReturnType<typeof createMemoryToolkit>> {
    const toolkit = createMemoryToolkit({
      inputs: { 'run-id': 'thumbnails-3f9a0c12', 'github-token': 'ghs_secret', ...inputs },
    });
    await runAction(
      () => main(toolkit, { collect: fakeCollect(report(counts)).collect, env }),
      undefined,
      toolkit,
    );
    return toolkit;
  }

  it('tells the pusher the outcome on the pushed commit, even when the step then fails', async () => {
    api.reset();
    const toolkit = await collectOnce(pushEnv(), { failed: 3 });

    expect(toolkit.failure()).toContain('3 task(s) failed');
    const comments = api.commentsOn('octo/photos', SHA);
    expect(comments.map((c) => c.body.split('\n')[0])).toEqual([
      '<!-- sluice:run=thumbnails-3f9a0c12:outcome -->',
    ]);
    expect(comments[0]?.body).toContain('## sluice run `thumbnails-3f9a0c12`: completed, 3 failed');
    expect(comments[0]?.body).toContain(
      '[The workflow run](https://github.example/octo/photos/actions/runs/42)',
    );
    expect(toolkit.secrets).toContain('ghs_secret');
  });

  it('edits the outcome comment on a re-run, beside the upload comment it leaves alone', async () => {
    api.reset();
    api.comments.push({
      id: 99,
      repository: 'octo/photos',
      sha: SHA,
      body: '<!-- sluice:run=thumbnails-3f9a0c12:upload -->\nupload to s3://in/photos/',
      html_url: 'https://github.example/c/99',
    });
    await collectOnce(pushEnv(), { failed: 3 }, { 'fail-on-error': 'false' });
    await collectOnce(pushEnv(), { failed: 0, succeeded: 60 }, { 'fail-on-error': 'false' });

    const comments = api.commentsOn('octo/photos', SHA);
    expect(comments).toHaveLength(2);
    expect(comments[0]?.body).toBe(
      '<!-- sluice:run=thumbnails-3f9a0c12:upload -->\nupload to s3://in/photos/',
    );
    expect(comments[1]?.body).toContain('completed, 0 failed');
  });

  it('posts nothing for a scheduled or dispatched run, and warns, not fails, when GitHub refuses', async () => {
    api.reset();
    await collectOnce(pushEnv('schedule'), { failed: 0 });
    await collectOnce(pushEnv('workflow_dispatch'), { failed: 0 });
    expect(api.received).toEqual([]);

    api.refuseWith = 403;
    const toolkit = await collectOnce(pushEnv(), { failed: 0, succeeded: 60 });
    expect(toolkit.failure()).toBeUndefined();
    const warnings = toolkit.messages.filter((m) => m.level === 'warning').map((m) => m.message);
    expect(warnings).toEqual([
      expect.stringContaining(
        'could not comment on commit abc123def456 (the outcome of run thumbnails-3f9a0c12',
      ),
    ]);
    expect(toolkit.outputs.get('succeeded')).toBe('60');
  });
});

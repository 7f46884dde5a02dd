import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { createInputReader, runAction } from '@sluice/action-kit';
import type { CollectProgress, CollectReport } from '@sluice/core';
import type { CollectStepOptions, CollectStepResult, RunTarget, StepContext } from '@sluice/orchestrator';
import { createMemoryToolkit, FakeGitHubApi } from '@sluice/testing';

import { readInputs } from './inputs.js';
import { main, type CollectResultsDeps } from './main.js';

function read(inputs: Record<string, string>): ReturnType<typeof readInputs> {
  return readInputs(createInputReader(createMemoryToolkit({ inputs })));
}

const RESULTS = 's3://sluice-demo-out/_sluice/thumbnails-3f9a0c12/results.json';

function report(counts: Partial<CollectReport['counts']>, rest: Partial<CollectReport> = {}): CollectReport {
  return {
    runId: 'thumbnails-3f9a0c12',
    counts: { inputs: 60, succeeded: 57, failed: 3, running: 0, pending: 0, ...counts },
    complete: true,
    inputComplete: true,
    timedOut: false,
    results: RESULTS,
    resultsKey: '_sluice/thumbnails-3f9a0c12/results.json',
    failures: [],
    slowest: [],
    reconciled: 0,
    retried: 0,
    elapsedMs: 12_000,
    ...rest,
  };
}

function fakeCollect(result: CollectReport): {
  calls: { target: RunTarget; options: CollectStepOptions; context: StepContext }[];
  collect: CollectResultsDeps['collect'];
} {
  const calls: { target: RunTarget; options: CollectStepOptions; context: StepContext }[] = [];
  return {
    calls,
    collect: (target, options, context, onProgress) => {
      calls.push({ target, options, context });
      const progress: CollectProgress = {
        ...result.counts,
        phase: 'draining',
        queued: 4,
        inFlight: 2,
        deadLetter: 0,
        elapsedMs: 1000,
      };
      // The same progress twice: logged once.
      onProgress?.(progress);
      onProgress?.(progress);
      const summary: CollectStepResult = {
        report: result,
        summaryMarkdown: '## sluice run thumbnails-3f9a0c12\n',
        summaryOptions: {},
      };
      return Promise.resolve(summary);
    },
  };
}

describe('collect-results inputs', () => {
  it('waits until idle for 120 s by default, without retrying, failing on task errors', () => {
    expect(read({ 'run-id': 'r-1' })).toEqual({
      target: { runId: 'r-1' },
      completion: { until: 'idle', idleSeconds: 120 },
      timeoutSeconds: undefined,
      retryFailed: false,
      failOnError: true,
      githubToken: undefined,
    });
  });

  it('reads a count to wait for, and a timeout', () => {
    const inputs = read({
      job: 'job.json',
      until: 'count',
      'expected-count': '12',
      'timeout-seconds': '600',
    });

    expect(inputs.completion).toEqual({ until: 'count', expectedCount: 12 });
    expect(inputs.timeoutSeconds).toBe(600);
  });

  it('needs expected-count when until is count', () => {
    expect(() => read({ job: 'job.json', until: 'count' })).toThrow(
      'Input `expected-count` is required when `until` is count.',
    );
  });

  it('refuses idle-seconds that are not a positive whole number', () => {
    expect(() => read({ job: 'job.json', 'idle-seconds': '0' })).toThrow(
      'Input `idle-seconds` must be a whole number >= 1; found "0".',
    );
  });

  it('refuses a timeout with a unit', () => {
    expect(() => read({ job: 'job.json', 'timeout-seconds': '10m' })).toThrow(
      'Input `timeout-seconds` must be a whole number >= 1; found "10m".',
    );
  });

  it('refuses an unknown until', () => {
    expect(() => read({ job: 'job.json', until: 'forever' })).toThrow(
      'Input `until` must be one of idle, marker, count; found "forever".',
    );
  });
});

describe('collect-results main', () => {
  it('passes the completion rule and retry to the step, writes the summary, sets the outputs', async () => {
    const toolkit = createMemoryToolkit({
      inputs: {
        'run-id': 'thumbnails-3f9a0c12',
        until: 'count',
        'expected-count': '60',
        'retry-failed': 'true',
        'fail-on-error': 'false',
      },
    });
    const step = fakeCollect(report({}));

    await runAction(() => main(toolkit, { collect: step.collect, env: {} }), undefined, toolkit);

    expect(step.calls.map((call) => [call.target, call.options])).toEqual([
      [{ runId: 'thumbnails-3f9a0c12' }, { until: 'count', expectedCount: 60, retryFailed: true }],
    ]);
    expect(toolkit.summaries).toEqual(['## sluice run thumbnails-3f9a0c12\n']);
    expect(Object.fromEntries(toolkit.outputs)).toEqual({ succeeded: '57', failed: '3', results: RESULTS });
    expect(
      toolkit.messages.filter((m) => m.level === 'info' && m.message.startsWith('draining')),
    ).toHaveLength(1);
  });

  it('ends "completed, N failed" as a notice when failures are only to be reported', async () => {
    const toolkit = createMemoryToolkit({
      inputs: { 'run-id': 'thumbnails-3f9a0c12', 'fail-on-error': 'false' },
    });

    await runAction(
      () => main(toolkit, { collect: fakeCollect(report({})).collect, env: {} }),
      undefined,
      toolkit,
    );

    expect(toolkit.failure()).toBeUndefined();
    expect(toolkit.messages.filter((m) => m.level === 'notice').map((m) => m.message)).toEqual([
      `run thumbnails-3f9a0c12: completed, 3 failed (57 succeeded, 3 failed of 60 inputs); results: ${RESULTS}`,
    ]);
  });

  it('fails when tasks failed and fail-on-error is true (the default), with the outputs set', async () => {
    const toolkit = createMemoryToolkit({ inputs: { 'run-id': 'thumbnails-3f9a0c12' } });

    await runAction(
      () => main(toolkit, { collect: fakeCollect(report({})).collect, env: {} }),
      undefined,
      toolkit,
    );

    expect(toolkit.failure()).toContain('run thumbnails-3f9a0c12: 3 task(s) failed');
    expect(toolkit.failure()).toContain('`fail-on-error: false`');
    expect(toolkit.outputs.get('failed')).toBe('3');
    expect(toolkit.summaries).toHaveLength(1);
  });

  it('succeeds with a notice when nothing failed', async () => {
    const toolkit = createMemoryToolkit({ inputs: { 'run-id': 'thumbnails-3f9a0c12' } });

    await runAction(
      () => main(toolkit, { collect: fakeCollect(report({ succeeded: 60, failed: 0 })).collect, env: {} }),
      undefined,
      toolkit,
    );

    expect(toolkit.failure()).toBeUndefined();
    expect(toolkit.messages.find((m) => m.level === 'notice')?.message).toContain('completed, 0 failed');
  });

  it('fails when the run did not finish in time, saying where the results so far are', async () => {
    const toolkit = createMemoryToolkit({
      inputs: { 'run-id': 'thumbnails-3f9a0c12', 'fail-on-error': 'false' },
    });
    const late = report(
      { succeeded: 40, failed: 0, running: 2, pending: 18 },
      { complete: false, timedOut: true },
    );

    await runAction(() => main(toolkit, { collect: fakeCollect(late).collect, env: {} }), undefined, toolkit);

    expect(toolkit.failure()).toContain('run thumbnails-3f9a0c12 did not finish in time: 40 succeeded');
    expect(toolkit.failure()).toContain(RESULTS);
    expect(toolkit.outputs.get('succeeded')).toBe('40');
  });
});

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

import { describe, expect, it } from '@jest/globals';
import { createInputReader, runAction } from '@sluice/action-kit';
import { createMemoryToolkit } from '@sluice/testing';

import { readInputs } from './inputs.js';
import { main } from './main.js';
import { REPORT, RESULTS, fakeCollect, report } from './main.test-support.js';

function read(inputs: Record<string, string>): ReturnType<typeof readInputs> {
  return readInputs(createInputReader(createMemoryToolkit({ inputs })));
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
    expect(Object.fromEntries(toolkit.outputs)).toEqual({
      succeeded: '57',
      failed: '3',
      results: RESULTS,
      report: REPORT,
    });
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

// The outcome comment on the pushed commit (a stand-in GitHub API on a loopback port) is tested in
// test/integration/actions/collect-results-comment.test.ts.

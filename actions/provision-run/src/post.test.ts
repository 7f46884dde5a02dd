import { describe, expect, it } from '@jest/globals';
import { runAction } from '@sluice/action-kit';
import { createMemoryToolkit } from '@sluice/testing';
import type { StepContext } from '@sluice/orchestrator';
import type { TeardownReport } from '@sluice/core';

import { main } from './main.js';
import { post, type PostDeps } from './post.js';

const JOB = JSON.stringify({
  name: 'thumbnails',
  algorithm: 'thumbnails@1.0.0',
  input: { bucket: 'in-bucket' },
  output: { bucket: 'out-bucket' },
});

function fakeTeardown(): {
  calls: { jobPath: string; context: StepContext }[];
  teardown: PostDeps['teardown'];
} {
  const calls: { jobPath: string; context: StepContext }[] = [];
  return {
    calls,
    teardown: (target, _options, context) => {
      calls.push({ jobPath: target.jobPath, context });
      const report: TeardownReport = {
        runId: 'thumbnails-3f9a0c12',
        found: true,
        deleted: ['queue sluice-thumbnails-3f9a0c12-tasks'],
        kept: [],
      };
      return Promise.resolve(report);
    },
  };
}

const saved = (backend: string | null = 'local'): Record<string, string> => ({
  'provisioned-run': JSON.stringify({ job: 'jobs/thumbnails.json', backend }),
});

describe('provision-run post step (runs only when the job failed or was cancelled)', () => {
  it('tears the run down, with the backend main was given, and says so', async () => {
    const toolkit = createMemoryToolkit({ state: saved('ecs') });
    const { calls, teardown } = fakeTeardown();

    await post(toolkit, { teardown, readJob: () => Promise.resolve(JOB), env: {} });

    expect(calls.map((call) => [call.jobPath, call.context.backend])).toEqual([
      ['jobs/thumbnails.json', 'ecs'],
    ]);
    expect(toolkit.messages).toContainEqual({
      level: 'warning',
      message: 'the job did not finish: tearing down the run of jobs/thumbnails.json (its data is kept)',
    });
    expect(toolkit.messages.map((m) => m.message)).toContain(
      'run thumbnails-3f9a0c12: removed queue sluice-thumbnails-3f9a0c12-tasks',
    );
  });

  it('keeps a run whose job says keep: true', async () => {
    const toolkit = createMemoryToolkit({ state: saved() });
    const { calls, teardown } = fakeTeardown();
    const keeping = JSON.stringify({ ...(JSON.parse(JOB) as object), keep: true });

    await post(toolkit, { teardown, readJob: () => Promise.resolve(keeping), env: {} });

    expect(calls).toEqual([]);
    expect(toolkit.messages.map((m) => m.message).join('\n')).toContain('keeps its run (keep: true)');
  });

  it('does nothing with teardown-on-failure: false, or when main never started provisioning', async () => {
    const { calls, teardown } = fakeTeardown();
    const off = createMemoryToolkit({ state: saved(), inputs: { 'teardown-on-failure': 'false' } });
    await post(off, { teardown, readJob: () => Promise.resolve(JOB), env: {} });
    const nothing = createMemoryToolkit();
    await post(nothing, { teardown, readJob: () => Promise.resolve(JOB), env: {} });

    expect(calls).toEqual([]);
    expect(nothing.messages.map((m) => m.message)).toContain(
      'provision-run did not start provisioning: nothing to tear down',
    );
  });

  it('main saves the job before it provisions, so a failed provision is torn down too', async () => {
    const toolkit = createMemoryToolkit({
      inputs: { job: 'examples/jobs/thumbnails.json', backend: 'local' },
    });

    await runAction(
      () => main(toolkit, { provision: () => Promise.reject(new Error('SQS unreachable')), env: {} }),
      () => Promise.resolve(),
      toolkit,
    );

    expect(toolkit.failure()).toContain('SQS unreachable');
    expect(JSON.parse(toolkit.state.get('provisioned-run') ?? '{}')).toEqual({
      job: 'examples/jobs/thumbnails.json',
      backend: 'local',
    });
    expect(toolkit.state.get('sluice-is-post')).toBe('true');
  });
});

import { fileURLToPath } from 'node:url';

import { describe, expect, it } from '@jest/globals';
import { createInputReader, runAction } from '@sluice/action-kit';
import { createMemoryToolkit } from '@sluice/testing';
import { ConfigurationError, type DispatchProgress } from '@sluice/core';
import type { DispatchStepResult, RunTarget, StepContext } from '@sluice/orchestrator';

import { readInputs } from './inputs.js';
import { main, type DispatchTasksDeps } from './main.js';

const job = fileURLToPath(new URL('../../../examples/jobs/thumbnails.json', import.meta.url));

const dispatched: DispatchStepResult = {
  runId: 'thumbnails-3f9a0c12',
  listed: 64,
  enqueued: 60,
  skippedDone: 2,
  skippedFiltered: 2,
  failed: 0,
  workers: 2,
};

function fakeDispatch(result: DispatchStepResult | Error = dispatched): {
  calls: { target: RunTarget; context: StepContext }[];
  dispatch: DispatchTasksDeps['dispatch'];
} {
  const calls: { target: RunTarget; context: StepContext }[] = [];
  return {
    calls,
    dispatch: (target, context, onProgress) => {
      calls.push({ target, context });
      if (result instanceof Error) return Promise.reject(result);
      const progress: DispatchProgress = { ...result, enqueued: 10 };
      onProgress?.(progress);
      return Promise.resolve(result);
    },
  };
}

describe('dispatch-tasks inputs', () => {
  it('reads a run id and a backend override', () => {
    const toolkit = createMemoryToolkit({ inputs: { 'run-id': 'r-1', backend: 'ecs' } });

    expect(readInputs(createInputReader(toolkit))).toEqual({ target: { runId: 'r-1' }, backend: 'ecs' });
  });

  it('asks for a job or a run id', () => {
    expect(() => readInputs(createInputReader(createMemoryToolkit()))).toThrow('Give `job`');
  });
});

describe('dispatch-tasks main', () => {
  it('dispatches the run named by id, with the backend override, and sets enqueued and workers', async () => {
    const toolkit = createMemoryToolkit({ inputs: { 'run-id': 'thumbnails-3f9a0c12', backend: 'local' } });
    const step = fakeDispatch();

    await runAction(
      () => main(toolkit, { dispatch: step.dispatch, env: { AWS_REGION: 'us-east-1' } }),
      undefined,
      toolkit,
    );

    expect(toolkit.failure()).toBeUndefined();
    expect(
      step.calls.map((call) => [call.target, call.context.backend, call.context.env.AWS_REGION]),
    ).toEqual([[{ runId: 'thumbnails-3f9a0c12' }, 'local', 'us-east-1']]);
    expect(Object.fromEntries(toolkit.outputs)).toEqual({ enqueued: '60', workers: '2' });
    const info = toolkit.messages.filter((m) => m.level === 'info').map((m) => m.message);
    expect(info).toContain('dispatching: listed 64, enqueued 10, 2 already done, 2 not inputs');
    expect(info).toContain(
      'run thumbnails-3f9a0c12: listed 64, enqueued 60, 2 already done, 2 not inputs; 2 worker(s) running',
    );
  });

  it('passes a job file as the job path', async () => {
    const toolkit = createMemoryToolkit({ inputs: { job } });
    const step = fakeDispatch();

    await runAction(() => main(toolkit, { dispatch: step.dispatch, env: {} }), undefined, toolkit);

    expect(step.calls.map((call) => call.target)).toEqual([{ jobPath: job }]);
    expect(step.calls[0]?.context.backend).toBeUndefined();
  });

  it('warns when SQS refused some messages, and still reports what was enqueued', async () => {
    const toolkit = createMemoryToolkit({ inputs: { 'run-id': 'thumbnails-3f9a0c12' } });

    await runAction(
      () =>
        main(toolkit, {
          dispatch: fakeDispatch({ ...dispatched, enqueued: 57, failed: 3 }).dispatch,
          env: {},
        }),
      undefined,
      toolkit,
    );

    expect(toolkit.failure()).toBeUndefined();
    expect(toolkit.messages.filter((m) => m.level === 'warning').map((m) => m.message)).toEqual([
      expect.stringContaining('SQS refused 3 task message(s)'),
    ]);
    expect(toolkit.outputs.get('enqueued')).toBe('57');
  });

  it('fails with the step message and sets no output when the run is not provisioned', async () => {
    const toolkit = createMemoryToolkit({ inputs: { 'run-id': 'r-1' } });
    const step = fakeDispatch(new ConfigurationError('run r-1 is not provisioned: run provision-run first'));

    await runAction(() => main(toolkit, { dispatch: step.dispatch, env: {} }), undefined, toolkit);

    expect(toolkit.failure()).toBe('run r-1 is not provisioned: run provision-run first');
    expect(toolkit.outputs.size).toBe(0);
  });

  it('fails naming the input when the job file does not exist, before dispatching', async () => {
    const toolkit = createMemoryToolkit({ inputs: { job: 'no-such-dir/job.json' } });
    const step = fakeDispatch();

    await runAction(() => main(toolkit, { dispatch: step.dispatch, env: {} }), undefined, toolkit);

    expect(toolkit.failure()).toContain('Input `job` names "no-such-dir/job.json", which does not exist');
    expect(step.calls).toHaveLength(0);
  });
});

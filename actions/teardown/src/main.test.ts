import { describe, expect, it } from '@jest/globals';
import { createInputReader, runAction } from '@sluice/action-kit';
import { createMemoryToolkit } from '@sluice/testing';
import { AwsRequestError } from '@sluice/core/aws';
import type { RunTarget } from '@sluice/orchestrator';
import type { TeardownReport } from '@sluice/core';

import { readInputs } from './inputs.js';
import { main, type TeardownDeps } from './main.js';

function fakeTeardown(result: TeardownReport | Error): {
  calls: { target: RunTarget; deleteData: boolean | undefined }[];
  teardown: TeardownDeps['teardown'];
} {
  const calls: { target: RunTarget; deleteData: boolean | undefined }[] = [];
  return {
    calls,
    teardown: (target, options) => {
      calls.push({ target, deleteData: options.deleteData });
      return result instanceof Error ? Promise.reject(result) : Promise.resolve(result);
    },
  };
}

const tornDown: TeardownReport = {
  runId: 'thumbnails-3f9a0c12',
  found: true,
  deleted: [
    '2 runner container(s) labelled org.sluice.run=thumbnails-3f9a0c12',
    'notification sluice-thumbnails-3f9a0c12 on s3://sluice-demo-in',
    'queue sluice-thumbnails-3f9a0c12-tasks',
  ],
  kept: ['bucket s3://sluice-demo-in (data kept)'],
};

describe('teardown inputs', () => {
  it('keeps data unless asked', () => {
    const toolkit = createMemoryToolkit({ inputs: { 'run-id': 'r-1' } });

    expect(readInputs(createInputReader(toolkit))).toEqual({ target: { runId: 'r-1' }, deleteData: false });
  });

  it('refuses a delete-data that is not a boolean', () => {
    const toolkit = createMemoryToolkit({ inputs: { 'run-id': 'r-1', 'delete-data': 'yes' } });

    expect(() => readInputs(createInputReader(toolkit))).toThrow('Input `delete-data` must be a boolean');
  });
});

describe('teardown main', () => {
  it('tears the run down, passing delete-data, and sets how many resources were deleted', async () => {
    const toolkit = createMemoryToolkit({
      inputs: { 'run-id': 'thumbnails-3f9a0c12', 'delete-data': 'true' },
    });
    const step = fakeTeardown(tornDown);

    await runAction(() => main(toolkit, { teardown: step.teardown, env: {} }), undefined, toolkit);

    expect(toolkit.failure()).toBeUndefined();
    expect(step.calls).toEqual([{ target: { runId: 'thumbnails-3f9a0c12' }, deleteData: true }]);
    expect(Object.fromEntries(toolkit.outputs)).toEqual({ deleted: '3' });
    const info = toolkit.messages.filter((m) => m.level === 'info').map((m) => m.message);
    expect(info).toContain('deleted queue sluice-thumbnails-3f9a0c12-tasks');
    expect(info).toContain('kept bucket s3://sluice-demo-in (data kept)');
  });

  it('succeeds with nothing deleted for a run already torn down', async () => {
    const toolkit = createMemoryToolkit({ inputs: { 'run-id': 'thumbnails-3f9a0c12' } });

    await runAction(
      () =>
        main(toolkit, {
          teardown: fakeTeardown({ ...tornDown, found: false, deleted: [], kept: [] }).teardown,
          env: {},
        }),
      undefined,
      toolkit,
    );

    expect(toolkit.failure()).toBeUndefined();
    expect(toolkit.outputs.get('deleted')).toBe('0');
  });

  it('fails with the fault and sets no output when AWS fails', async () => {
    const toolkit = createMemoryToolkit({ inputs: { 'run-id': 'thumbnails-3f9a0c12' } });
    const fault = new AwsRequestError('SQS.DeleteQueue failed: service unavailable', {
      operation: 'SQS.DeleteQueue',
      code: 'ServiceUnavailable',
      httpStatus: 503,
      requestId: undefined,
      retryable: true,
    });

    await runAction(
      () => main(toolkit, { teardown: fakeTeardown(fault).teardown, env: {} }),
      undefined,
      toolkit,
    );

    expect(toolkit.failure()).toBe('SQS.DeleteQueue failed: service unavailable');
    expect(toolkit.outputs.size).toBe(0);
  });
});

import { describe, expect, it } from '@jest/globals';
import { createInputReader, createMemoryToolkit, runAction } from '@sluice/action-kit';

import { readInputs } from './inputs.js';
import { main } from './main.js';

describe('provision-run inputs', () => {
  it('reads the job and a backend override', () => {
    const toolkit = createMemoryToolkit({ inputs: { job: 'jobs/a.json', backend: 'local' } });

    expect(readInputs(createInputReader(toolkit))).toEqual({ job: 'jobs/a.json', backend: 'local' });
  });

  it('keeps the job file default and the job backend when not given', () => {
    expect(readInputs(createInputReader(createMemoryToolkit()))).toEqual({
      job: 'job.json',
      backend: undefined,
    });
  });

  it('refuses an unknown backend', () => {
    const toolkit = createMemoryToolkit({ inputs: { backend: 'k8s' } });

    expect(() => readInputs(createInputReader(toolkit))).toThrow('Input `backend` must be one of local, ecs');
  });
});

describe('provision-run main', () => {
  it('fails naming the input when the job file does not exist', async () => {
    const toolkit = createMemoryToolkit({ inputs: { job: 'no-such-dir/job.json' } });

    await runAction(() => main(toolkit), undefined, toolkit);

    expect(toolkit.failure()).toContain('Input `job` names "no-such-dir/job.json", which does not exist');
    expect(toolkit.outputs.size).toBe(0);
  });
});

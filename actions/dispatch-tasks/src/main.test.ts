import { describe, expect, it } from '@jest/globals';
import { createInputReader, createMemoryToolkit, runAction } from '@sluice/action-kit';

import { readInputs } from './inputs.js';
import { main } from './main.js';

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
  it('says that dispatching is not available yet, and does not pretend to enqueue', async () => {
    const toolkit = createMemoryToolkit({ inputs: { 'run-id': 'r-1' } });

    await runAction(() => main(toolkit), undefined, toolkit);

    expect(toolkit.failure()).toContain('dispatch-tasks: the input was checked and is valid');
    expect(toolkit.failure()).toContain('issue #5');
    expect(toolkit.outputs.size).toBe(0);
  });

  it('fails naming the input when the job file does not exist', async () => {
    const toolkit = createMemoryToolkit({ inputs: { job: 'no-such-dir/job.json' } });

    await runAction(() => main(toolkit), undefined, toolkit);

    expect(toolkit.failure()).toContain('Input `job` names "no-such-dir/job.json", which does not exist');
  });
});

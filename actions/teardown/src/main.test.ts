import { describe, expect, it } from '@jest/globals';
import { createInputReader, createMemoryToolkit, runAction } from '@sluice/action-kit';

import { readInputs } from './inputs.js';
import { main } from './main.js';

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
  it('says that teardown is not available yet, and deletes nothing', async () => {
    const toolkit = createMemoryToolkit({ inputs: { 'run-id': 'r-1', 'delete-data': 'true' } });

    await runAction(() => main(toolkit), undefined, toolkit);

    expect(toolkit.failure()).toContain('teardown: the input was checked and is valid');
    expect(toolkit.outputs.size).toBe(0);
  });
});

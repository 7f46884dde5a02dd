import { describe, expect, it } from '@jest/globals';
import { SluiceError } from '@sluice/core';

import { defineSavedState } from './saved-state.js';
import { createMemoryToolkit } from '@sluice/testing';

interface Created {
  readonly runId: string;
}

const isCreated = (value: unknown): value is Created =>
  typeof value === 'object' && value !== null && typeof (value as { runId?: unknown }).runId === 'string';

describe('saved state', () => {
  it('gives post what main saved', () => {
    const toolkit = createMemoryToolkit();

    defineSavedState('created', isCreated, toolkit).save({ runId: 'r-1' });

    expect(defineSavedState('created', isCreated, toolkit).load()).toEqual({ runId: 'r-1' });
  });

  it('is undefined when main saved nothing', () => {
    expect(defineSavedState('created', isCreated, createMemoryToolkit()).load()).toBeUndefined();
  });

  it('refuses state that is not JSON or not the expected shape', () => {
    const notJson = createMemoryToolkit({ state: { created: '{' } });
    const wrongShape = createMemoryToolkit({ state: { created: '{"runId":1}' } });

    expect(() => defineSavedState('created', isCreated, notJson).load()).toThrow(SluiceError);
    expect(() => defineSavedState('created', isCreated, wrongShape).load()).toThrow(
      'saved state "created" does not have the expected shape',
    );
  });
});

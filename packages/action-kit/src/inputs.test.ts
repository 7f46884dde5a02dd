import { describe, expect, it } from '@jest/globals';
import { isConfigurationError } from '@sluice/core';

import { InputError } from './errors.js';
import { createInputReader } from './inputs.js';
import { readRunTarget } from './run-target.js';
import { createMemoryToolkit } from '@sluice/testing';

function reader(inputs: Record<string, string>): ReturnType<typeof createInputReader> {
  return createInputReader(createMemoryToolkit({ inputs }));
}

describe('input readers', () => {
  it('trims strings and treats empty as not given', () => {
    const input = reader({ job: '  job.json \n', registry: '   ' });

    expect(input.requiredString('job')).toBe('job.json');
    expect(input.optionalString('registry')).toBeUndefined();
    expect(input.optionalString('absent')).toBeUndefined();
  });

  it('names a missing required input and where to set it', () => {
    const input = reader({});

    expect(() => input.requiredString('job')).toThrow(
      "Input `job` is required but was not given. Add `job: ...` to the step's `with:` block.",
    );
  });

  it.each([
    ['true', true],
    ['True', true],
    ['TRUE', true],
    ['false', false],
    ['False', false],
    ['FALSE', false],
  ])('reads the boolean %s', (text, value) => {
    expect(reader({ push: text }).boolean('push', !value)).toBe(value);
  });

  it('uses the fallback for a boolean not given', () => {
    expect(reader({}).boolean('push', true)).toBe(true);
  });

  it('refuses other boolean spellings, naming the input and the accepted values', () => {
    const read = (): boolean => reader({ push: 'yes' }).boolean('push', false);

    expect(read).toThrow(InputError);
    expect(read).toThrow(
      'Input `push` must be a boolean: one of true, True, TRUE, false, False, FALSE; found "yes".',
    );
  });

  it('reads whole numbers within bounds', () => {
    expect(reader({ n: ' 42 ' }).integer('n', { min: 1 })).toBe(42);
    expect(reader({ n: '0' }).integer('n', { min: 0, max: 0 })).toBe(0);
    expect(reader({}).integer('n')).toBeUndefined();
  });

  it.each(['1.5', '10s', '1e3', 'abc', '99999999999999999999'])('refuses %s as a whole number', (text) => {
    expect(() => reader({ n: text }).integer('n', { min: 1 })).toThrow(
      `Input \`n\` must be a whole number >= 1; found ${JSON.stringify(text)}.`,
    );
  });

  it('refuses whole numbers out of bounds', () => {
    expect(() => reader({ n: '0' }).integer('n', { min: 1, max: 10 })).toThrow(
      'must be a whole number >= 1 and <= 10; found "0"',
    );
  });

  it('reads one of a set of choices, exactly spelled', () => {
    expect(reader({ backend: 'ecs' }).choice('backend', ['local', 'ecs'])).toBe('ecs');
    expect(reader({}).choice('backend', ['local', 'ecs'])).toBeUndefined();
    expect(() => reader({ backend: 'ECS' }).choice('backend', ['local', 'ecs'])).toThrow(
      'Input `backend` must be one of local, ecs; found "ECS".',
    );
  });

  it('makes every input error a user error', () => {
    let thrown: unknown;
    try {
      reader({ push: 'maybe' }).boolean('push', true);
    } catch (error) {
      thrown = error;
    }

    expect(isConfigurationError(thrown)).toBe(true);
    expect(thrown).toMatchObject({ name: 'InputError', input: 'push' });
  });

  it('cuts very long values in messages', () => {
    const long = 'x'.repeat(500);

    expect(() => reader({ backend: long }).choice('backend', ['local'])).toThrow(/found "x{60}…"/);
  });
});

describe('readRunTarget', () => {
  const names = { job: 'job', runId: 'run-id' };

  it('reads a job or a run id', () => {
    expect(readRunTarget(reader({ job: 'job.json' }), names)).toEqual({ job: 'job.json' });
    expect(readRunTarget(reader({ 'run-id': 'r-1' }), names)).toEqual({ runId: 'r-1' });
  });

  it('asks for one when neither is given, and refuses both', () => {
    expect(() => readRunTarget(reader({}), names)).toThrow(
      'Give `job` (the job file, e.g. job.json) or `run-id`',
    );
    expect(() => readRunTarget(reader({ job: 'job.json', 'run-id': 'r-1' }), names)).toThrow(
      'Give either `job` or `run-id`, not both',
    );
  });
});

import { describe, expect, it } from '@jest/globals';
import { createInputReader, createMemoryToolkit, runAction } from '@sluice/action-kit';

import { readInputs } from './inputs.js';
import { main } from './main.js';

function read(inputs: Record<string, string>): ReturnType<typeof readInputs> {
  return readInputs(createInputReader(createMemoryToolkit({ inputs })));
}

describe('collect-results inputs', () => {
  it('waits until idle for 120 s by default, without retrying, failing on task errors', () => {
    expect(read({ 'run-id': 'r-1' })).toEqual({
      target: { runId: 'r-1' },
      completion: { until: 'idle', idleSeconds: 120 },
      retryFailed: false,
      failOnError: true,
    });
  });

  it('reads a count to wait for', () => {
    expect(read({ job: 'job.json', until: 'count', 'expected-count': '12' }).completion).toEqual({
      until: 'count',
      expectedCount: 12,
    });
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

  it('refuses an unknown until', () => {
    expect(() => read({ job: 'job.json', until: 'forever' })).toThrow(
      'Input `until` must be one of idle, marker, count; found "forever".',
    );
  });
});

describe('collect-results main', () => {
  it('says that collecting is not available yet', async () => {
    const toolkit = createMemoryToolkit({ inputs: { 'run-id': 'r-1', until: 'marker' } });

    await runAction(() => main(toolkit), undefined, toolkit);

    expect(toolkit.failure()).toContain('collect-results: the input was checked and is valid');
    expect(toolkit.outputs.size).toBe(0);
  });
});

import { describe, expect, test } from '@jest/globals';
import { parseJob } from '../schemas/documents.js';
import type { Job } from '../schemas/job.js';
import { canonicalJson } from './canonical-json.js';
import { MAX_RUN_ID_LENGTH, isRunId, jobSlug, runId } from './run-id.js';

const base = {
  name: 'Thumbnails',
  algorithm: 'thumbnails@1.0.0',
  input: { bucket: 'in-bucket', prefix: 'photos', include: ['*.jpg', '*.png'] },
  output: { bucket: 'out-bucket' },
};
const job = (patch: Record<string, unknown> = {}): Job =>
  parseJob(JSON.stringify({ ...base, ...patch }), 'job.json');

describe('runId', () => {
  test('is deterministic and well formed', () => {
    const id = runId(job());
    expect(id).toMatch(/^thumbnails-[0-9a-f]{8}$/);
    expect(runId(job())).toBe(id);
    expect(isRunId(id)).toBe(true);
  });

  test('ignores what only tunes a run', () => {
    const id = runId(job());
    expect(
      runId(job({ compute: { backend: 'ecs', maxWorkers: 50 }, retries: 5, keep: true, mode: 'direct' })),
    ).toBe(id);
    expect(runId(job({ input: { ...base.input, include: ['*.png', '*.jpg'], create: true } }))).toBe(id);
  });

  test('changes with what defines a run', () => {
    const id = runId(job());
    expect(runId(job({ algorithm: 'thumbnails@1.0.1' }))).not.toBe(id);
    expect(runId(job({ output: { bucket: 'out-bucket', prefix: 'v2/' } }))).not.toBe(id);
    expect(runId(job({ env: { SIZE: '64' } }))).not.toBe(id);
    expect(runId(job({ aws: { region: 'eu-west-1' } }))).not.toBe(id);
  });

  test('stays short enough for AWS names', () => {
    const id = runId(job({ name: 'A very long job name that goes on and on and on and on' }));
    expect(id.length).toBeLessThanOrEqual(MAX_RUN_ID_LENGTH);
    expect(`sluice-${id}-tasks-dlq`.length).toBeLessThanOrEqual(80);
    expect(`sluice-${id}-execution`.length).toBeLessThanOrEqual(64);
    expect(isRunId(id)).toBe(true);
  });
});

describe('jobSlug', () => {
  test.each([
    ['Thumbnails', 'thumbnails'],
    ['Thumbnails: Holiday 2024!', 'thumbnails-holiday-2024'],
    ['Café crème', 'cafe-creme'],
    ['...', 'run'],
    ['a'.repeat(29) + ' b', 'a'.repeat(29)],
  ])('%p → %p', (name, slug) => {
    expect(jobSlug(name)).toBe(slug);
  });
});

describe('isRunId', () => {
  test.each(['../x-12345678', 'x-1234567', 'X-12345678', '-12345678', 'a'.repeat(40) + '-12345678'])(
    'refuses %p',
    (text) => {
      expect(isRunId(text)).toBe(false);
    },
  );
});

describe('canonicalJson', () => {
  test('sorts keys at every depth', () => {
    expect(canonicalJson({ b: 1, a: [true, { d: null, c: 'x' }] })).toBe(
      '{"a":[true,{"c":"x","d":null}],"b":1}',
    );
  });

  test('refuses what JSON cannot hold', () => {
    expect(() => canonicalJson(Number.NaN)).toThrow(TypeError);
    expect(() => canonicalJson(() => 1)).toThrow(TypeError);
  });
});

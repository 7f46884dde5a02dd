import { describe, expect, it } from '@jest/globals';

import { ValidationError } from '../errors.js';
import { normalizeJob } from '../schemas/job.js';
import { validateRunState, type RunState } from '../schemas/run-state.js';
import { checkNoLoop } from './provision.js';
import { runJob, storedJob } from './run-state.js';

const job = normalizeJob({
  name: 'Thumbs',
  algorithm: 'thumbnails@1.0.0',
  input: { bucket: 'in-bucket', prefix: 'photos', include: ['**/*.jpg'] },
  output: { bucket: 'out-bucket', prefix: 'thumbs' },
  env: {
    SIZE: '256',
    API_TOKEN: 'not-really-secret',
    WATERMARK: { fromEnv: 'WATERMARK' },
    DB: { fromSecret: 'db' },
  },
  aws: { region: 'eu-west-1', credentials: 'oidc', roleArn: 'arn:aws:iam::123456789012:role/sluice' },
});

function state(overrides: Partial<RunState> = {}): RunState {
  return {
    schemaVersion: 1,
    runId: 'thumbs-0123abcd',
    jobName: 'Thumbs',
    state: 'provisioned',
    createdAt: '2025-01-01T00:00:00.000Z',
    updatedAt: '2025-01-01T00:00:00.000Z',
    job: storedJob(job),
    algorithm: { ref: 'thumbnails@1.0.0' },
    backend: 'local',
    keep: false,
    input: { bucket: 'in-bucket', prefix: 'photos/', include: ['**/*.jpg'] },
    output: { bucket: 'out-bucket', prefix: 'thumbs/' },
    buckets: { input: { name: 'in-bucket', created: false }, output: { name: 'out-bucket', created: true } },
    queue: {
      name: 'sluice-thumbs-0123abcd-tasks',
      created: true,
      visibilityTimeoutSeconds: 60,
      maxReceiveCount: 3,
    },
    deadLetterQueue: { name: 'sluice-thumbs-0123abcd-tasks-dlq', created: true },
    notification: {
      id: 'sluice-thumbs-0123abcd',
      bucket: 'in-bucket',
      prefix: 'photos/',
      suffix: '.jpg',
      installed: true,
    },
    ...overrides,
  };
}

describe('storedJob', () => {
  it('keeps references and plain literals, redacts secret-looking literals, and reads back as the same job', () => {
    const stored = storedJob(job, ['SIZE_IS_NOT_SECRET']);
    expect(stored.env).toEqual({
      SIZE: '256',
      API_TOKEN: '***',
      WATERMARK: { fromEnv: 'WATERMARK' },
      DB: { fromSecret: 'db' },
    });
    expect(storedJob(job, ['SIZE']).env?.SIZE).toBe('***');
    const back = runJob(state());
    expect({ ...back, env: {} }).toEqual({ ...job, env: {} });
  });
});

describe('validateRunState', () => {
  it('accepts a run state and refuses one with a broken job, naming the path', () => {
    expect(validateRunState(state(), 'run.json').runId).toBe('thumbs-0123abcd');
    const broken = { ...state(), job: { ...state().job, input: { bucket: 'UPPER' } } };
    expect(() => validateRunState(broken, 'run.json')).toThrow(ValidationError);
    expect(() => validateRunState(broken, 'run.json')).toThrow(/\$\.job\.input\.bucket/);
  });
});

describe('checkNoLoop', () => {
  const same = (input: string, output: string) => ({
    input: { bucket: 'b', prefix: input, include: ['**'], create: false },
    output: { bucket: 'b', prefix: output },
  });

  it('refuses results that could land under the input prefix, and says how to fix it', () => {
    expect(() => checkNoLoop(same('in/', 'in/'))).toThrow(/\$\.output\.prefix.*"out\/"/);
    expect(() => checkNoLoop(same('data/in/', 'data/'))).toThrow(/could become inputs/);
    expect(() => checkNoLoop(same('in/', ''))).toThrow(/could become inputs/);
  });

  it('warns about outputs inside the input prefix (the reader drops them) and passes prefixes apart', () => {
    expect(checkNoLoop(same('', 'out/'))).toEqual([expect.stringMatching(/runner drops/)]);
    expect(checkNoLoop(same('in/', 'out/'))).toEqual([]);
    expect(checkNoLoop({ ...same('', ''), output: { bucket: 'other', prefix: '' } })).toEqual([]);
  });
});

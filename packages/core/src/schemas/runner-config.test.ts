import { describe, expect, it } from '@jest/globals';

import { ConfigurationError, ValidationError } from '../errors.js';
import { parseRunnerConfig } from './runner-config.js';

const valid = {
  runId: 'thumbs-0123abcd',
  queueUrl: 'http://127.0.0.1:5000/000000000000/tasks',
  deadLetterQueueUrl: 'http://127.0.0.1:5000/000000000000/tasks-dlq',
  input: { bucket: 'in-bucket', prefix: 'photos/', include: ['**'] },
  output: { bucket: 'out-bucket', prefix: '' },
  maxAttempts: 3,
  idleSeconds: 60,
  env: { SIZE: '128' },
  secretEnv: ['TOKEN'],
};

describe('parseRunnerConfig', () => {
  it('accepts a complete configuration', () => {
    expect(parseRunnerConfig(JSON.stringify(valid))).toEqual(valid);
  });

  it('says what is missing, where, as a user error', () => {
    expect(() => parseRunnerConfig('')).toThrow(ConfigurationError);
    expect(() => parseRunnerConfig('{')).toThrow(/SLUICE_RUN is not JSON/);
    const { queueUrl: _dropped, ...rest } = valid;
    expect(() => parseRunnerConfig(JSON.stringify({ ...rest, maxAttempts: 0 }))).toThrow(ValidationError);
    expect(() => parseRunnerConfig(JSON.stringify(rest))).toThrow(/\$\.queueUrl/);
  });

  it('refuses variables that would hand the algorithm a credential or a runner setting', () => {
    expect(() =>
      parseRunnerConfig(JSON.stringify({ ...valid, secretEnv: ['AWS_SECRET_ACCESS_KEY'] })),
    ).toThrow(/withheld/);
    expect(() => parseRunnerConfig(JSON.stringify({ ...valid, env: { SLUICE_RUN: 'x' } }))).toThrow(
      ValidationError,
    );
    expect(() =>
      parseRunnerConfig(JSON.stringify({ ...valid, output: { bucket: 'out-bucket', prefix: '_sluice/' } })),
    ).toThrow(ValidationError);
  });
});

import { describe, expect, it } from '@jest/globals';

import { ConfigurationError } from '../errors.js';
import { ecsRunnerVariables, secretValueFrom } from './run-secrets.js';

const ACCOUNT = '123456789012';

describe('the run’s secrets', () => {
  it.each([
    [
      'watermark/token',
      'aws',
      'eu-west-1',
      `arn:aws:secretsmanager:eu-west-1:${ACCOUNT}:secret:watermark/token`,
    ],
    ['token', 'aws-cn', 'cn-north-1', `arn:aws-cn:secretsmanager:cn-north-1:${ACCOUNT}:secret:token`],
    [
      `arn:aws:secretsmanager:us-east-1:${ACCOUNT}:secret:t-AbCdEf`,
      'aws',
      'eu-west-1',
      `arn:aws:secretsmanager:us-east-1:${ACCOUNT}:secret:t-AbCdEf`,
    ],
    [
      `arn:aws:ssm:eu-west-1:${ACCOUNT}:parameter/a/b`,
      'aws',
      'eu-west-1',
      `arn:aws:ssm:eu-west-1:${ACCOUNT}:parameter/a/b`,
    ],
  ])('secretValueFrom(%s) in %s %s', (reference, partition, region, expected) => {
    expect(secretValueFrom(reference, { partition, region, account: ACCOUNT })).toBe(expected);
  });

  it('refuses references that are neither a secret name nor a secret or parameter ARN', () => {
    const context = { partition: 'aws', region: 'eu-west-1', account: ACCOUNT };

    expect(() => secretValueFrom(`arn:aws:s3:::bucket`, context)).toThrow(ConfigurationError);
    expect(() => secretValueFrom('has space', context)).toThrow(ConfigurationError);
  });

  it('splits a job’s env: literals to SLUICE_RUN, fromSecret to secrets, and refuses fromEnv', () => {
    expect(
      ecsRunnerVariables({ SIZE: '256', TOKEN: { fromSecret: 'watermark/token' }, A: { fromSecret: 'a' } }),
    ).toEqual({
      env: { SIZE: '256' },
      secretEnv: ['A', 'TOKEN'],
      secrets: { TOKEN: 'watermark/token', A: 'a' },
    });
    expect(() => ecsRunnerVariables({ TOKEN: { fromEnv: 'WATERMARK_TOKEN' } })).toThrow(/Secrets Manager/);
  });
});

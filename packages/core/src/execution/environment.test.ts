import { describe, expect, it } from '@jest/globals';
import { isWithheldVariable } from '../schemas/withheld-variables.js';
import { algorithmEnvironment } from './environment.js';

describe('algorithmEnvironment', () => {
  it('withholds credentials and runner settings, keeps the rest, and adds the job values', () => {
    const env = algorithmEnvironment(
      {
        PATH: '/bin',
        HOME: '/root',
        AWS_ACCESS_KEY_ID: 'AKIAEXAMPLEEXAMPLE12',
        AWS_SECRET_ACCESS_KEY: 'x'.repeat(40),
        AWS_SESSION_TOKEN: 'token',
        AWS_CONTAINER_CREDENTIALS_RELATIVE_URI: '/v2/credentials/abc',
        aws_profile: 'dev',
        SLUICE_QUEUE_URL: 'http://queue',
        AWS_ENDPOINT_URL: 'http://127.0.0.1:5000',
        AWS_ENDPOINT_URL_S3: 'http://127.0.0.1:5000',
        UNSET: undefined,
      },
      { SIZE: '128' },
    );
    expect(env).toEqual({ PATH: '/bin', HOME: '/root', SIZE: '128' });
  });

  it('treats AWS_REGION as harmless', () => {
    expect(isWithheldVariable('AWS_REGION')).toBe(false);
  });
});

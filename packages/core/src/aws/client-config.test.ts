import { describe, expect, it } from '@jest/globals';

import type { Job } from '../schemas/job.js';
import { awsClientConfig, runClientConfig } from './client-config.js';

const keys = { AWS_ACCESS_KEY_ID: 'AKIDEXAMPLE', AWS_SECRET_ACCESS_KEY: 'secret' };

describe('awsClientConfig', () => {
  it('takes the region from the job, then the environment, then the caller’s default', () => {
    const job = { aws: { region: 'eu-west-1', credentials: { source: 'environment' } } } as Pick<Job, 'aws'>;
    expect(awsClientConfig({ AWS_REGION: 'us-west-2' }, { job }).region).toBe('eu-west-1');
    expect(awsClientConfig({ AWS_REGION: ' ', AWS_DEFAULT_REGION: 'us-west-2' }).region).toBe('us-west-2');
    expect(awsClientConfig({}, { defaultRegion: 'ap-south-1' }).region).toBe('ap-south-1');
    expect(awsClientConfig({}).region).toBeUndefined();
  });

  it('sends every service to AWS_ENDPOINT_URL, S3 by path, and honours per-service endpoints', () => {
    const one = awsClientConfig({ AWS_ENDPOINT_URL: 'http://127.0.0.1:5000' });
    expect(one.base).toEqual({ endpoint: 'http://127.0.0.1:5000' });
    expect(one.s3).toEqual({ endpoint: 'http://127.0.0.1:5000', forcePathStyle: true });
    expect(one.sqs).toEqual({ endpoint: 'http://127.0.0.1:5000' });

    const split = awsClientConfig({
      AWS_ENDPOINT_URL_S3: 'http://minio:9000',
      AWS_ENDPOINT_URL_SQS: 'http://sqs:9324',
    });
    expect(split.base).toEqual({});
    expect(split.s3).toEqual({ endpoint: 'http://minio:9000', forcePathStyle: true });
    expect(split.sqs).toEqual({ endpoint: 'http://sqs:9324' });
    expect(awsClientConfig({}).s3).toEqual({});
  });

  it('takes keys from the environment for the environment source, a profile for the profile source', () => {
    expect(awsClientConfig({ ...keys, AWS_SESSION_TOKEN: 'token' }).base.credentials).toEqual({
      accessKeyId: 'AKIDEXAMPLE',
      secretAccessKey: 'secret',
      sessionToken: 'token',
    });
    const job = { aws: { credentials: { source: 'profile', profile: 'ci' } } } as Pick<Job, 'aws'>;
    const profiled = runClientConfig(keys, job);
    expect(profiled.base).toEqual({ profile: 'ci' });
    expect(profiled.s3).toEqual({ profile: 'ci' });
  });
});

import type { S3ClientConfig } from '@aws-sdk/client-s3';
import type { SQSClientConfig } from '@aws-sdk/client-sqs';

import type { Job } from '../schemas/job.js';

function nonEmpty(value: string | undefined): string | undefined {
  return value === undefined || value.trim() === '' ? undefined : value;
}

/** What the S3 and SQS clients of a run are built from. */
export interface RunClientConfig {
  /** For SQS (and the other clients); S3 takes {@link RunClientConfig.s3}. */
  readonly base: S3ClientConfig & SQSClientConfig;
  /** `base` plus path-style addressing when a local endpoint (moto, MinIO) serves every bucket. */
  readonly s3: S3ClientConfig;
  readonly region: string | undefined;
  readonly endpoint: string | undefined;
}

/**
 * The AWS client settings of a run, from the caller's environment and the job's `aws` settings.
 * Region: the job's, else `AWS_REGION`, else `AWS_DEFAULT_REGION`. Endpoint: `AWS_ENDPOINT_URL`.
 * Credentials: `environment` (or no job) takes `AWS_ACCESS_KEY_ID`/`AWS_SECRET_ACCESS_KEY`/
 * `AWS_SESSION_TOKEN` from the environment when set, else the SDK's default chain; `profile` the
 * named profile; `roleArn`/`oidc` the SDK's default chain, which holds the role's session when
 * aws-actions/configure-aws-credentials ran before the step (what the actions document).
 *
 * @example
 * const { s3, base } = runClientConfig(process.env, job);
 * const store = new S3ObjectStore(new S3Client(s3));
 */
export function runClientConfig(
  env: Readonly<Record<string, string | undefined>>,
  job?: Pick<Job, 'aws'>,
): RunClientConfig {
  const region = job?.aws.region ?? nonEmpty(env.AWS_REGION) ?? nonEmpty(env.AWS_DEFAULT_REGION);
  const endpoint = nonEmpty(env.AWS_ENDPOINT_URL);
  const credentials = job?.aws.credentials ?? { source: 'environment' as const };
  const keyId = nonEmpty(env.AWS_ACCESS_KEY_ID);
  const secret = nonEmpty(env.AWS_SECRET_ACCESS_KEY);
  const token = nonEmpty(env.AWS_SESSION_TOKEN);
  const base: S3ClientConfig & SQSClientConfig = {
    ...(region !== undefined && { region }),
    ...(endpoint !== undefined && { endpoint }),
    ...(credentials.source === 'profile' && { profile: credentials.profile }),
    ...(credentials.source === 'environment' &&
      keyId !== undefined &&
      secret !== undefined && {
        credentials: {
          accessKeyId: keyId,
          secretAccessKey: secret,
          ...(token !== undefined && { sessionToken: token }),
        },
      }),
  };
  return { base, s3: { ...base, ...(endpoint !== undefined && { forcePathStyle: true }) }, region, endpoint };
}

// The one place the AWS clients' settings come from: region, endpoint (a local one — moto, MinIO —
// with path-style S3), and credentials, out of an environment and the job's `aws` settings. The
// orchestrator's steps, the CLI's upload, the runner and the watcher Lambda all resolve them here.
import type { S3ClientConfig } from '@aws-sdk/client-s3';
import type { SQSClientConfig } from '@aws-sdk/client-sqs';

import type { Job } from '../schemas/job.js';

function nonEmpty(value: string | undefined): string | undefined {
  return value === undefined || value.trim() === '' ? undefined : value;
}

/** What the clients of a run (or of the runner, or the watcher) are built from. */
export interface AwsClientConfig {
  /** For every client but S3 and SQS (ECS, IAM, …); SQS too where no SQS endpoint of its own is set. */
  readonly base: S3ClientConfig & SQSClientConfig;
  /** `base` with `AWS_ENDPOINT_URL_S3` when set, and path-style addressing with any custom endpoint. */
  readonly s3: S3ClientConfig;
  /** `base` with `AWS_ENDPOINT_URL_SQS` when set. */
  readonly sqs: SQSClientConfig;
  readonly region: string | undefined;
  /** `AWS_ENDPOINT_URL`: one endpoint for every service (moto, LocalStack). */
  readonly endpoint: string | undefined;
}

/** The name {@link runClientConfig} has always answered with. */
export type RunClientConfig = AwsClientConfig;

/** What {@link awsClientConfig} takes beside the environment. */
export interface AwsClientConfigOptions {
  /** The job's `aws` settings: its region comes first, its `credentials` choose the source. */
  readonly job?: Pick<Job, 'aws'> | undefined;
  /** The region when neither the job nor the environment names one (the runner: its queue URL's). */
  readonly defaultRegion?: string | undefined;
}

/**
 * The AWS client settings, from an environment and (optionally) the job's `aws` settings.
 * Region: the job's, else `AWS_REGION`, else `AWS_DEFAULT_REGION`, else `defaultRegion`. Endpoint:
 * `AWS_ENDPOINT_URL`, or per service `AWS_ENDPOINT_URL_S3`/`AWS_ENDPOINT_URL_SQS`; S3 is addressed by
 * path whenever its endpoint is a custom one, since such servers serve every bucket on one host.
 * Credentials: `environment` (or no job) takes `AWS_ACCESS_KEY_ID`/`AWS_SECRET_ACCESS_KEY`/
 * `AWS_SESSION_TOKEN` from the environment when set, else the SDK's default chain (a task role, a
 * Lambda's role); `profile` the named profile; `roleArn`/`oidc` the SDK's default chain, which holds
 * the role's session when aws-actions/configure-aws-credentials ran before the step.
 *
 * @example
 * const config = awsClientConfig(process.env, { defaultRegion: 'us-east-1' });
 * const sqs = new SQSClient(config.sqs);
 * const ecs = new ECSClient(config.base);
 * @throws never.
 */
export function awsClientConfig(
  env: Readonly<Record<string, string | undefined>>,
  options: AwsClientConfigOptions = {},
): AwsClientConfig {
  const { job } = options;
  const region =
    job?.aws.region ??
    nonEmpty(env.AWS_REGION) ??
    nonEmpty(env.AWS_DEFAULT_REGION) ??
    nonEmpty(options.defaultRegion);
  const endpoint = nonEmpty(env.AWS_ENDPOINT_URL);
  const s3Endpoint = nonEmpty(env.AWS_ENDPOINT_URL_S3) ?? endpoint;
  const sqsEndpoint = nonEmpty(env.AWS_ENDPOINT_URL_SQS) ?? endpoint;
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
  return {
    base,
    s3: { ...base, ...(s3Endpoint !== undefined && { endpoint: s3Endpoint, forcePathStyle: true }) },
    sqs: { ...base, ...(sqsEndpoint !== undefined && { endpoint: sqsEndpoint }) },
    region,
    endpoint,
  };
}

/**
 * The client settings of a run's steps: {@link awsClientConfig} with the job's `aws` settings.
 *
 * @example
 * const { s3, base } = runClientConfig(process.env, job);
 * const store = new S3ObjectStore(new S3Client(s3));
 * @throws never.
 */
export function runClientConfig(
  env: Readonly<Record<string, string | undefined>>,
  job?: Pick<Job, 'aws'>,
): RunClientConfig {
  return awsClientConfig(env, { job });
}

import { S3Client } from '@aws-sdk/client-s3';
import { SQSClient } from '@aws-sdk/client-sqs';

/**
 * SDK clients from the standard environment (`AWS_REGION`, `AWS_ENDPOINT_URL`, credentials chain).
 * With an endpoint set (the moto server, MinIO), S3 is addressed by path: such servers serve every
 * bucket on one host name.
 */
export function awsClients(
  env: Readonly<Record<string, string | undefined>>,
  queueUrl: string,
): {
  s3: S3Client;
  sqs: SQSClient;
} {
  const region = env.AWS_REGION ?? env.AWS_DEFAULT_REGION ?? regionOfQueue(queueUrl) ?? 'us-east-1';
  const s3Endpoint = nonEmpty(env.AWS_ENDPOINT_URL_S3) ?? nonEmpty(env.AWS_ENDPOINT_URL);
  const sqsEndpoint = nonEmpty(env.AWS_ENDPOINT_URL_SQS) ?? nonEmpty(env.AWS_ENDPOINT_URL);
  return {
    s3: new S3Client({
      region,
      forcePathStyle: s3Endpoint !== undefined,
      ...(s3Endpoint !== undefined && { endpoint: s3Endpoint }),
    }),
    sqs: new SQSClient({ region, ...(sqsEndpoint !== undefined && { endpoint: sqsEndpoint }) }),
  };
}

function regionOfQueue(queueUrl: string): string | undefined {
  return /^https:\/\/sqs\.([a-z0-9-]+)\.amazonaws\.com\//.exec(queueUrl)?.[1];
}

function nonEmpty(value: string | undefined): string | undefined {
  return value === undefined || value === '' ? undefined : value;
}

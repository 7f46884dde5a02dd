import { S3Client } from '@aws-sdk/client-s3';
import { SQSClient } from '@aws-sdk/client-sqs';
import { awsClientConfig } from '@sluice/core/aws';
import { ConfigurationError } from '@sluice/core';

import type { BrokerAuthorizer } from '../sources/broker-source.js';

/**
 * SDK clients from the standard environment (`AWS_REGION`, `AWS_ENDPOINT_URL[_S3|_SQS]`, credentials
 * chain), resolved as every sluice client is (core's `awsClientConfig`). With no region set, the
 * queue URL's region is used (the runner always knows its queue), else `us-east-1`.
 *
 * @example
 * const { s3, sqs } = awsClients(process.env, config.queueUrl);
 * @throws never.
 */
export function awsClients(
  env: Readonly<Record<string, string | undefined>>,
  queueUrl: string,
): {
  s3: S3Client;
  sqs: SQSClient;
} {
  const config = awsClientConfig(env, { defaultRegion: regionOfQueue(queueUrl) ?? 'us-east-1' });
  return { s3: new S3Client(config.s3), sqs: new SQSClient(config.sqs) };
}

function regionOfQueue(queueUrl: string): string | undefined {
  return /^https:\/\/sqs\.([a-z0-9-]+)\.amazonaws\.com\//.exec(queueUrl)?.[1];
}

/**
 * Signs broker requests with the runner's AWS role (SigV4 for a Lambda function URL with IAM auth).
 *
 * @throws {ConfigurationError} always, until the ECS broker lands.
 */
export function iamBrokerAuthorizer(
  _env: Readonly<Record<string, string | undefined>>,
  url: string,
): BrokerAuthorizer {
  throw new ConfigurationError(`IAM-authenticated brokers (${url}) are not wired yet`);
}

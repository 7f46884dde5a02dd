import { S3Client } from '@aws-sdk/client-s3';
import { SQSClient } from '@aws-sdk/client-sqs';
import { defaultProvider } from '@aws-sdk/credential-provider-node';
import { SignatureV4 } from '@smithy/signature-v4';
import { NodeSha256, awsClientConfig } from '@sluice/core/aws';
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

/** The signing name of Lambda function URLs. */
const FUNCTION_URL_SERVICE = 'lambda';

/**
 * The region of a broker URL: a Lambda function URL names it (`https://<id>.lambda-url.<region>.on.aws/`);
 * any other (a stand-in in tests) takes `AWS_REGION`, else `AWS_DEFAULT_REGION`.
 *
 * @example
 * brokerRegion('https://abc.lambda-url.eu-west-1.on.aws/', {}); // 'eu-west-1'
 * @throws {ConfigurationError} when neither the URL nor the environment names a region.
 */
export function brokerRegion(url: string, env: Readonly<Record<string, string | undefined>>): string {
  const named = /^https:\/\/[^./]+\.lambda-url\.([a-z0-9-]+)\.on\.aws(?::\d+)?(?:\/|$)/.exec(url)?.[1];
  const region = named ?? env.AWS_REGION ?? env.AWS_DEFAULT_REGION;
  if (region === undefined || region === '') {
    throw new ConfigurationError(
      `the broker URL ${url} is not a Lambda function URL and neither AWS_REGION nor AWS_DEFAULT_REGION is set: the runner cannot tell which region to sign its requests for`,
    );
  }
  return region;
}

/** AWS credentials, as the SDK's providers give them. */
export interface SigningCredentials {
  readonly accessKeyId: string;
  readonly secretAccessKey: string;
  readonly sessionToken?: string;
  readonly expiration?: Date;
}

/** Where the authorizer's credentials come from; the default provider chain unless a test gives its own. */
export interface IamBrokerAuthorizerOptions {
  readonly credentials?: () => Promise<SigningCredentials>;
  /** The signing time (tests). */
  readonly now?: () => Date;
}

/**
 * Signs broker requests with the runner's AWS role: SigV4 for a Lambda function URL with IAM auth
 * (service `lambda`, the URL's region), the credentials from the SDK's default provider chain — on
 * ECS the task role's, from the container credentials endpoint; refreshed before they expire. The
 * body is hashed into the signature (`x-amz-content-sha256`), so a signed request cannot be replayed
 * with another body.
 *
 * @example
 * const authorize = iamBrokerAuthorizer(process.env, 'https://abc.lambda-url.eu-west-1.on.aws');
 * const headers = await authorize({ url: `${base}/v1/lease`, body, headers: { 'content-type': 'application/json' } });
 * @throws {ConfigurationError} when no region can be found (see {@link brokerRegion}); a request's
 *   promise rejects when no credentials can be found.
 */
export function iamBrokerAuthorizer(
  env: Readonly<Record<string, string | undefined>>,
  url: string,
  options: IamBrokerAuthorizerOptions = {},
): BrokerAuthorizer {
  const signer = new SignatureV4({
    service: FUNCTION_URL_SERVICE,
    region: brokerRegion(url, env),
    credentials: options.credentials ?? defaultProvider(),
    sha256: NodeSha256,
  });
  return async ({ url: target, body, headers }) => {
    const parsed = new URL(target);
    const query: Record<string, string> = {};
    for (const [name, value] of parsed.searchParams) query[name] = value;
    const signed = await signer.sign(
      {
        method: 'POST',
        protocol: parsed.protocol,
        hostname: parsed.hostname,
        ...(parsed.port !== '' && { port: Number(parsed.port) }),
        path: parsed.pathname,
        query,
        // `host` is signed as fetch will send it (with the port when it is not the default one).
        headers: { ...headers, host: parsed.host },
        body,
      },
      ...(options.now === undefined ? [] : [{ signingDate: options.now() }]),
    );
    const { host: _sentByFetch, ...out } = signed.headers;
    return out;
  };
}

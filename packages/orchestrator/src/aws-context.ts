// The AWS a step talks to: S3 and SQS clients (and, for an ECS run, an ECS client) made from the
// caller's environment and the job's `aws` settings, and the adapters the run lifecycle takes.
import { ECSClient } from '@aws-sdk/client-ecs';
import { S3Client } from '@aws-sdk/client-s3';
import { SQSClient } from '@aws-sdk/client-sqs';

import { S3BucketAdmin, S3ObjectStore, SqsRunQueues, type Job, type RunDeps } from '@sluice/core';
import { runClientConfig, type RunClientConfig } from '@sluice/core/aws';

import type { StepContext } from './context.js';

/** One step's clients and adapters; `close` when the step ends. */
export interface AwsContext {
  readonly s3: S3Client;
  readonly sqs: SQSClient;
  readonly deps: RunDeps;
  readonly region: string | undefined;
  readonly endpoint: string | undefined;
  /** The settings any other client of the step is made from (IAM, EC2, …: see backends/ecs-resources.ts). */
  readonly config: RunClientConfig;
  /** The ECS client, made on first use (a local run never needs it). */
  ecs(): ECSClient;
  /** Destroys the clients this context made. */
  close(): void;
}

/**
 * S3 and SQS clients from the caller's environment and the job's `aws` settings (see runClientConfig).
 *
 * @example
 * const aws = awsContext(context, job); try { await provisionRun(job, aws.deps, …); } finally { aws.close(); }
 * @throws never.
 */
export function awsContext(context: StepContext, job: Pick<Job, 'aws'> | undefined): AwsContext {
  const config = runClientConfig(context.env, job);
  const s3 = new S3Client(config.s3);
  const sqs = new SQSClient(config.base);
  let ecs: ECSClient | undefined;
  return {
    s3,
    sqs,
    deps: {
      store: new S3ObjectStore(s3),
      queues: new SqsRunQueues(sqs),
      buckets: new S3BucketAdmin(s3),
      logger: context.logger,
    },
    region: config.region,
    endpoint: config.endpoint,
    config,
    ecs: () => (ecs ??= new ECSClient(config.base)),
    close: () => {
      s3.destroy();
      sqs.destroy();
      ecs?.destroy();
    },
  };
}

/** The region the step's resources are in: the job's or the environment's, else the SDK's default chain. */
export async function regionOf(aws: AwsContext): Promise<string> {
  return aws.region ?? (await aws.s3.config.region());
}

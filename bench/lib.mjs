// What the runner benchmarks share: the test bed's clients, a queue of 1 KB tasks, the runner's
// configuration for it, and percentiles. Not a benchmark itself.
import { randomBytes } from 'node:crypto';

import { CreateBucketCommand, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { CreateQueueCommand, SQSClient, SendMessageBatchCommand } from '@aws-sdk/client-sqs';

/** The test bed's region and its dummy credentials. */
export const TESTBED_REGION = process.env.AWS_REGION ?? 'us-east-1';
export const TESTBED_CREDENTIALS = { accessKeyId: 'testing', secretAccessKey: 'testing' };

/** S3 and SQS clients for the test bed's moto (AWS_ENDPOINT_URL); exits 2 when it is not set. */
export function testbedClients() {
  const endpoint = process.env.AWS_ENDPOINT_URL;
  if (!endpoint) {
    console.error('AWS_ENDPOINT_URL is not set: run `eval "$(bash scripts/testbed.sh env)"` first');
    process.exit(2);
  }
  const region = TESTBED_REGION;
  const credentials = TESTBED_CREDENTIALS;
  return {
    s3: new S3Client({ endpoint, region, credentials, forcePathStyle: true }),
    sqs: new SQSClient({ endpoint, region, credentials }),
  };
}

/** Median and 95th percentile of a list of numbers. */
export function stats(values) {
  const sorted = [...values].sort((a, b) => a - b);
  const at = (q) => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))];
  return { n: sorted.length, median: at(0.5), p95: at(0.95) };
}

/**
 * A bucket of `tasks` 1 KB inputs under `in/`, a task queue holding one message per input and a
 * dead-letter queue, all named `name`; resolves to the runner's SLUICE_RUN configuration for them.
 */
export async function queuedTasks({ s3, sqs }, name, runId, tasks) {
  const bucket = name;
  await s3.send(new CreateBucketCommand({ Bucket: bucket }));
  const queueUrl = (await sqs.send(new CreateQueueCommand({ QueueName: name }))).QueueUrl;
  const dlqUrl = (await sqs.send(new CreateQueueCommand({ QueueName: `${name}-dlq` }))).QueueUrl;
  const body = randomBytes(1024);
  const messages = [];
  for (let i = 0; i < tasks; i += 1) {
    const key = `in/file-${i}.bin`;
    const put = await s3.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: body }));
    messages.push(
      JSON.stringify({ sluice: 1, runId, bucket, key, etag: put.ETag.replaceAll('"', ''), size: 1024 }),
    );
  }
  for (let i = 0; i < messages.length; i += 10) {
    await sqs.send(
      new SendMessageBatchCommand({
        QueueUrl: queueUrl,
        Entries: messages.slice(i, i + 10).map((MessageBody, j) => ({ Id: String(j), MessageBody })),
      }),
    );
  }
  return {
    runId,
    queueUrl,
    deadLetterQueueUrl: dlqUrl,
    input: { bucket, prefix: 'in/', include: ['**'] },
    output: { bucket, prefix: 'out/' },
    maxAttempts: 1,
    idleSeconds: 2,
    env: {},
    secretEnv: [],
  };
}

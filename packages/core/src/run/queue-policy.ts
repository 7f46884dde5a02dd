// The task queue's access policy: only S3, and only on behalf of the run's input bucket, may send.

/**
 * The S3 ARN of a bucket.
 *
 * @example
 * bucketArn('photos'); // 'arn:aws:s3:::photos'
 * @throws never.
 */
export function bucketArn(bucket: string, partition = 'aws'): string {
  return `arn:${partition}:s3:::${bucket}`;
}

/**
 * The queue policy (JSON text, for the `Policy` attribute) that lets the S3 service send messages
 * to `queueArn` for events of `bucket` only (`aws:SourceArn`), and lets nobody else in through it.
 * The account's own principals keep the access their IAM policies give them.
 *
 * @example
 * await queues.setQueueAttributes(url, { Policy: s3SendPolicy(queueArn, 'photos') });
 * @throws never.
 */
export function s3SendPolicy(queueArn: string, bucket: string): string {
  // The partition comes from the queue ARN, so the policy is right in China and GovCloud too.
  const partition = /^arn:([^:]+):/.exec(queueArn)?.[1] ?? 'aws';
  return JSON.stringify({
    Version: '2012-10-17',
    Id: `${queueArn}/s3-send`,
    Statement: [
      {
        Sid: 'S3SendsInputEvents',
        Effect: 'Allow',
        Principal: { Service: 's3.amazonaws.com' },
        Action: 'sqs:SendMessage',
        Resource: queueArn,
        Condition: { ArnEquals: { 'aws:SourceArn': bucketArn(bucket, partition) } },
      },
    ],
  });
}

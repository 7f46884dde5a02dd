// The bucket itself, for the S3 store: made when missing (in the client's region, then waited for and
// tagged), and its notifications to SQS read and replaced without touching the others it has.
import {
  CreateBucketCommand,
  GetBucketNotificationConfigurationCommand,
  HeadBucketCommand,
  PutBucketNotificationConfigurationCommand,
  PutBucketTaggingCommand,
  waitUntilBucketExists,
  type BucketLocationConstraint,
  type FilterRule,
  type QueueConfiguration,
  type S3Client,
} from '@aws-sdk/client-s3';

import { classifyAwsError, describeAwsError } from '../aws/errors.js';
import type { BucketNotifications, EnsureBucketOptions, QueueNotification } from './object-store.js';
import { callS3, isNotFound } from './s3-requests.js';

/**
 * Whether the bucket exists and is visible to these credentials.
 *
 * @example
 * if (!(await s3BucketExists(client, 'my-input'))) console.log('no bucket');
 * @throws ConfigurationError when access is denied; AwsRequestError for faults.
 */
export async function s3BucketExists(client: S3Client, bucket: string): Promise<boolean> {
  try {
    await client.send(new HeadBucketCommand({ Bucket: bucket }));
    return true;
  } catch (thrown: unknown) {
    if (isNotFound(thrown)) return false;
    throw classifyAwsError(thrown, 'S3.HeadBucket', `s3://${bucket}`);
  }
}

/**
 * Creates the bucket in the client's region unless it exists, waits until S3 shows it, and tags it.
 *
 * @example
 * const { created } = await ensureS3Bucket(client, 'my-output', { tags: runTags(runId) }, 60);
 * @throws ConfigurationError when access is denied or the name is taken by another account;
 *   AwsRequestError for faults, or when the bucket does not appear within `waitSeconds`.
 */
export async function ensureS3Bucket(
  client: S3Client,
  bucket: string,
  options: EnsureBucketOptions,
  waitSeconds: number,
): Promise<{ readonly created: boolean }> {
  if (await s3BucketExists(client, bucket)) return { created: false };
  const region = await client.config.region();
  try {
    await client.send(
      new CreateBucketCommand({
        Bucket: bucket,
        // us-east-1 is the one region that refuses an explicit location constraint.
        ...(region !== 'us-east-1' && {
          CreateBucketConfiguration: { LocationConstraint: region as BucketLocationConstraint },
        }),
      }),
    );
  } catch (thrown: unknown) {
    // Another provision run created it between our HEAD and CREATE: that is success.
    if (describeAwsError(thrown).code === 'BucketAlreadyOwnedByYou') return { created: false };
    throw classifyAwsError(thrown, 'S3.CreateBucket', `s3://${bucket}`);
  }
  try {
    // S3 is eventually consistent about new buckets: wait with the SDK's waiter, not a loop.
    await waitUntilBucketExists({ client, maxWaitTime: waitSeconds }, { Bucket: bucket });
  } catch (thrown: unknown) {
    throw classifyAwsError(thrown, 'S3.waitUntilBucketExists', `s3://${bucket}`);
  }
  const tags = Object.entries(options.tags ?? {});
  if (tags.length > 0) {
    await callS3('S3.PutBucketTagging', { bucket, key: '' }, () =>
      client.send(
        new PutBucketTaggingCommand({
          Bucket: bucket,
          Tagging: { TagSet: tags.map(([Key, Value]) => ({ Key, Value })) },
        }),
      ),
    );
  }
  return { created: true };
}

/**
 * The bucket's notifications to SQS queues.
 *
 * @example
 * const { queues } = await getS3QueueNotifications(client, 'my-input');
 * @throws ConfigurationError when access is denied; AwsRequestError for faults.
 */
export async function getS3QueueNotifications(
  client: S3Client,
  bucket: string,
): Promise<BucketNotifications> {
  const result = await callS3('S3.GetBucketNotificationConfiguration', { bucket, key: '' }, () =>
    client.send(new GetBucketNotificationConfigurationCommand({ Bucket: bucket })),
  );
  return { queues: (result.QueueConfigurations ?? []).map(fromQueueConfiguration) };
}

/**
 * Replaces the bucket's notifications to SQS queues, keeping its other notifications.
 *
 * @example
 * await putS3QueueNotifications(client, 'my-input', { queues: [{ queueArn, events }] });
 * @throws ConfigurationError when access is denied or S3 cannot reach the queue; AwsRequestError for faults.
 */
export async function putS3QueueNotifications(
  client: S3Client,
  bucket: string,
  notifications: BucketNotifications,
): Promise<void> {
  // PutBucketNotificationConfiguration replaces the whole configuration: read it first so a
  // user's own Lambda, SNS or EventBridge notifications on the bucket survive.
  const current = await callS3('S3.GetBucketNotificationConfiguration', { bucket, key: '' }, () =>
    client.send(new GetBucketNotificationConfigurationCommand({ Bucket: bucket })),
  );
  await callS3('S3.PutBucketNotificationConfiguration', { bucket, key: '' }, () =>
    client.send(
      new PutBucketNotificationConfigurationCommand({
        Bucket: bucket,
        NotificationConfiguration: {
          ...(current.TopicConfigurations !== undefined && {
            TopicConfigurations: current.TopicConfigurations,
          }),
          ...(current.LambdaFunctionConfigurations !== undefined && {
            LambdaFunctionConfigurations: current.LambdaFunctionConfigurations,
          }),
          ...(current.EventBridgeConfiguration !== undefined && {
            EventBridgeConfiguration: current.EventBridgeConfiguration,
          }),
          QueueConfigurations: notifications.queues.map(toQueueConfiguration),
        },
      }),
    ),
  );
}

function fromQueueConfiguration(configuration: QueueConfiguration): QueueNotification {
  const rules = configuration.Filter?.Key?.FilterRules ?? [];
  // AWS answers `Prefix`/`Suffix` though it is sent `prefix`/`suffix`.
  const rule = (name: string): string | undefined => rules.find((r) => r.Name?.toLowerCase() === name)?.Value;
  const prefix = rule('prefix');
  const suffix = rule('suffix');
  return {
    queueArn: configuration.QueueArn ?? '',
    events: configuration.Events ?? [],
    ...(configuration.Id !== undefined && { id: configuration.Id }),
    ...(prefix !== undefined && { prefix }),
    ...(suffix !== undefined && { suffix }),
  };
}

function toQueueConfiguration(notification: QueueNotification): QueueConfiguration {
  const rules: FilterRule[] = [
    ...(notification.prefix !== undefined ? [{ Name: 'prefix' as const, Value: notification.prefix }] : []),
    ...(notification.suffix !== undefined ? [{ Name: 'suffix' as const, Value: notification.suffix }] : []),
  ];
  return {
    QueueArn: notification.queueArn,
    Events: [...notification.events] as QueueConfiguration['Events'],
    ...(notification.id !== undefined && { Id: notification.id }),
    ...(rules.length > 0 && { Filter: { Key: { FilterRules: rules } } }),
  };
}

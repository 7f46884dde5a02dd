import { describe, expect, it } from '@jest/globals';

import { ConfigurationError } from '../errors.js';
import {
  mergeNotification,
  notificationSuffix,
  notificationsOverlap,
  withoutNotification,
} from './notifications.js';
import { s3SendPolicy } from './queue-policy.js';

const ours = {
  id: 'sluice-r-0123abcd',
  queueArn: 'arn:aws:sqs:us-east-1:1:ours',
  events: ['s3:ObjectCreated:*'],
  prefix: 'in/',
};

describe('notificationSuffix', () => {
  it('narrows only when every glob ends in the same literal text', () => {
    expect(notificationSuffix(['**/*.jpg', 'top/*.jpg'])).toBe('.jpg');
    expect(notificationSuffix(['**'])).toBeUndefined();
    expect(notificationSuffix(['**/*.{jpg,png}'])).toBeUndefined();
    // The common end is still safe: every key either glob matches ends in "g".
    expect(notificationSuffix(['**/*.jpg', '**/*.png'])).toBe('g');
    expect(notificationSuffix(['**/*.jpg', '**/*.tif'])).toBeUndefined();
    expect(notificationSuffix(['!**/*.tmp'])).toBeUndefined();
  });
});

describe('mergeNotification', () => {
  it('keeps every other entry and replaces only its own', () => {
    const other = {
      id: 'user-thing',
      queueArn: 'arn:aws:sqs:us-east-1:1:theirs',
      events: ['s3:ObjectCreated:*'],
      prefix: 'elsewhere/',
    };
    const stale = { ...ours, prefix: 'old/' };
    const merged = mergeNotification({ queues: [other, stale] }, ours, 'b');
    expect(merged.queues).toEqual([other, ours]);
  });

  it('refuses an overlapping entry with a message naming it and what to do', () => {
    const clash = {
      id: 'user-all',
      queueArn: 'arn:aws:sqs:us-east-1:1:theirs',
      events: ['s3:ObjectCreated:Put'],
    };
    expect(() => mergeNotification({ queues: [clash] }, ours, 'b')).toThrow(ConfigurationError);
    expect(() => mergeNotification({ queues: [clash] }, ours, 'b')).toThrow(/user-all.*\$\.input\.prefix/);
  });

  it('lets entries for other events or disjoint prefixes or suffixes stand side by side', () => {
    expect(notificationsOverlap(ours, { queueArn: 'x', events: ['s3:ObjectRemoved:*'] })).toBe(false);
    expect(
      notificationsOverlap(ours, { queueArn: 'x', events: ['s3:ObjectCreated:*'], prefix: 'out/' }),
    ).toBe(false);
    expect(
      notificationsOverlap(
        { ...ours, suffix: '.jpg' },
        { queueArn: 'x', events: ['s3:ObjectCreated:*'], suffix: '.png' },
      ),
    ).toBe(false);
    expect(
      notificationsOverlap(ours, { queueArn: 'x', events: ['s3:ObjectCreated:*'], prefix: 'in/sub/' }),
    ).toBe(true);
  });
});

describe('withoutNotification', () => {
  it('removes only the entry with the id, and says whether there was one', () => {
    const other = { id: 'keep', queueArn: 'q', events: ['s3:ObjectCreated:*'] };
    expect(withoutNotification({ queues: [other, ours] }, ours.id)).toEqual({
      notifications: { queues: [other] },
      removed: true,
    });
    expect(withoutNotification({ queues: [other] }, ours.id).removed).toBe(false);
  });
});

describe('s3SendPolicy', () => {
  it('lets only S3, for the input bucket, send to the queue', () => {
    const policy = JSON.parse(s3SendPolicy('arn:aws-cn:sqs:cn-north-1:1:q', 'photos')) as {
      Statement: { Principal: unknown; Action: string; Resource: string; Condition: unknown }[];
    };
    expect(policy.Statement).toEqual([
      expect.objectContaining({
        Principal: { Service: 's3.amazonaws.com' },
        Action: 'sqs:SendMessage',
        Resource: 'arn:aws-cn:sqs:cn-north-1:1:q',
        Condition: { ArnEquals: { 'aws:SourceArn': 'arn:aws-cn:s3:::photos' } },
      }),
    ]);
  });
});

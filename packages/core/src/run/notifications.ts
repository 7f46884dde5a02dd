// sluice's entry in an input bucket's S3 → SQS notification configuration: choosing its filter,
// merging it with whatever else the bucket notifies (never replacing it), and taking it out again.
import { ConfigurationError } from '../errors.js';
import type { BucketNotifications, QueueNotification } from '../storage/object-store.js';

/** The events a run's notification sends: every way an object can be created. */
export const RUN_NOTIFICATION_EVENTS: readonly string[] = ['s3:ObjectCreated:*'];

// Characters that make a glob segment a pattern rather than literal text (picomatch syntax).
const GLOB_META = new Set(['*', '?', '[', ']', '{', '}', '(', ')', '!', '+', '@', '\\']);

/**
 * The S3 suffix filter that safely narrows a run's notifications, or `undefined`. S3 filters allow
 * one prefix and one suffix, so the `include` globs themselves are applied by whoever reads an
 * event; a suffix is worth setting only when every glob ends in the same literal text (e.g.
 * `**\/*.jpg` → `.jpg`), because then no key a glob matches can lack it. Globs with negation or
 * escapes give none.
 *
 * @example
 * notificationSuffix(['**\/*.jpg', 'top/*.jpg']); // '.jpg'
 * notificationSuffix(['**\/*.{jpg,png}']);        // undefined
 * @throws never.
 */
export function notificationSuffix(include: readonly string[]): string | undefined {
  let common: string | undefined;
  for (const glob of include) {
    if (glob.startsWith('!') || glob.includes('\\')) return undefined;
    let start = glob.length;
    while (start > 0 && !GLOB_META.has(glob.charAt(start - 1))) start -= 1;
    const tail = glob.slice(start);
    common = common === undefined ? tail : commonSuffix(common, tail);
    if (common === '') return undefined;
  }
  return common === '' ? undefined : common;
}

function commonSuffix(a: string, b: string): string {
  let n = 0;
  while (n < a.length && n < b.length && a.charAt(a.length - 1 - n) === b.charAt(b.length - 1 - n)) n += 1;
  return a.slice(a.length - n);
}

function eventsOverlap(a: readonly string[], b: readonly string[]): boolean {
  const covers = (x: string, y: string): boolean =>
    x === y || (x.endsWith(':*') && y.startsWith(x.slice(0, -1)));
  return a.some((x) => b.some((y) => covers(x, y) || covers(y, x)));
}

/**
 * True when S3 would refuse the two configurations side by side ("Configurations overlap"): they
 * share an event type, and their prefixes and suffixes overlap (one begins/ends the other; an
 * absent filter overlaps everything).
 *
 * @example
 * notificationsOverlap({ queueArn: 'a', events: ['s3:ObjectCreated:*'], prefix: 'in/' }, { queueArn: 'b', events: ['s3:ObjectCreated:Put'] }); // true
 * @throws never.
 */
export function notificationsOverlap(a: QueueNotification, b: QueueNotification): boolean {
  if (!eventsOverlap(a.events, b.events)) return false;
  const pa = a.prefix ?? '';
  const pb = b.prefix ?? '';
  const sa = a.suffix ?? '';
  const sb = b.suffix ?? '';
  return (pa.startsWith(pb) || pb.startsWith(pa)) && (sa.endsWith(sb) || sb.endsWith(sa));
}

/**
 * The bucket's queue notifications with `ours` added, or put in place of an entry with the same id
 * (or to the same queue): every other entry is kept as it is.
 *
 * @example
 * const next = mergeNotification(await store.getQueueNotifications(bucket), ours, 'my-input');
 * await store.putQueueNotifications(bucket, next);
 * @throws {ConfigurationError} when another entry would overlap ours (S3 refuses that), naming it.
 */
export function mergeNotification(
  current: BucketNotifications,
  ours: QueueNotification & { readonly id: string },
  bucket: string,
): BucketNotifications {
  const others = current.queues.filter((entry) => entry.id !== ours.id && entry.queueArn !== ours.queueArn);
  const clash = others.find((entry) => notificationsOverlap(entry, ours));
  if (clash !== undefined) {
    throw new ConfigurationError(
      `s3://${bucket} already sends ${clash.events.join(', ')} events for keys under "${clash.prefix ?? ''}"` +
        `${clash.suffix !== undefined ? ` ending in "${clash.suffix}"` : ''} to ${clash.queueArn}` +
        ` (notification ${clash.id ?? 'without an id'}), which overlaps this run's prefix "${ours.prefix ?? ''}";` +
        ' S3 allows one destination per event and key. Use another input prefix ($.input.prefix) that does' +
        ' not overlap, or remove the other notification (tear down the other run if it is one).',
    );
  }
  return { queues: [...others, ours] };
}

/**
 * The bucket's queue notifications without the entry `id`; `removed` says whether there was one.
 *
 * @example
 * const { notifications, removed } = withoutNotification(current, notificationId(runId));
 * if (removed) await store.putQueueNotifications(bucket, notifications);
 * @throws never.
 */
export function withoutNotification(
  current: BucketNotifications,
  id: string,
): { readonly notifications: BucketNotifications; readonly removed: boolean } {
  const queues = current.queues.filter((entry) => entry.id !== id);
  return { notifications: { queues }, removed: queues.length !== current.queues.length };
}

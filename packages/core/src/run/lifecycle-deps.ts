// What the run lifecycle (provision, dispatch, collect, teardown) is given to reach the world:
// the adapters (injected, so the same code runs on AWS, on moto and against the fakes), a logger,
// and a clock the unit tests can drive.
import type { Logger } from '../logging/logger.js';
import type { RunQueues } from '../queue/run-queues.js';
import type { BucketAdmin } from '../storage/bucket-admin.js';
import type { ObjectStore } from '../storage/object-store.js';

/**
 * The adapters and hooks every lifecycle step takes; each step uses the part it needs.
 *
 * @example
 * const deps: RunDeps = { store: new S3ObjectStore(s3), queues: new SqsRunQueues(sqs), buckets: new S3BucketAdmin(s3), logger };
 */
export interface RunDeps {
  readonly store: ObjectStore;
  readonly queues: RunQueues;
  readonly buckets: BucketAdmin;
  /** Progress and warnings (default: silent). */
  readonly logger?: Logger;
  /** Milliseconds since the epoch (default `Date.now`). */
  readonly now?: () => number;
  /** Waits between polls (default a timer); tests pass one that moves a manual clock. */
  readonly sleep?: (ms: number) => Promise<void>;
}

/** The real wait. */
export const defaultSleep = (ms: number): Promise<void> =>
  new Promise((resolve) => {
    setTimeout(resolve, ms);
  });

/** An ISO 8601 UTC timestamp of `ms`. */
export function isoTime(ms: number): string {
  return new Date(ms).toISOString();
}

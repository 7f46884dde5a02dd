import { setTimeout as sleep } from 'node:timers/promises';

import { isTransientAwsError } from '@sluice/core/aws';

/** How transient AWS faults are retried inside the runner (on top of the SDK's own few retries). */
export interface RetryOptions {
  /** Tries in all, the first included (default 5). */
  readonly attempts?: number;
  /** First delay in ms, doubled each time with full jitter (default 250). */
  readonly baseMs?: number;
  readonly sleep?: (ms: number) => Promise<void>;
}

/**
 * Runs `operation`, retrying it with exponential backoff while it fails with a transient AWS error
 * (throttling, 5xx, a dropped connection). Other errors, and the last transient one, are thrown.
 *
 * @example
 * await withRetries(() => store.putJson(ref, record));
 * @throws whatever `operation` throws last.
 */
export async function withRetries<T>(operation: () => Promise<T>, options: RetryOptions = {}): Promise<T> {
  const attempts = Math.max(1, options.attempts ?? 5);
  const baseMs = options.baseMs ?? 250;
  const wait = options.sleep ?? ((ms: number) => sleep(ms));
  for (let attempt = 1; ; attempt += 1) {
    try {
      return await operation();
    } catch (thrown) {
      if (attempt >= attempts || !isTransientAwsError(thrown)) throw thrown;
      await wait(Math.random() * baseMs * 2 ** (attempt - 1));
    }
  }
}

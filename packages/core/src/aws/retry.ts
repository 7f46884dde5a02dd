/**
 * The one way sluice retries AWS calls beyond what the SDK already does: exponential backoff with
 * jitter, a predicate for what is worth retrying, a budget of attempts (and optionally of time).
 * Two shapes: {@link withRetries} for a call that either succeeds or throws, and
 * {@link retryRounds} for a call that partly fails in its response (RunTask, SendMessageBatch),
 * where only the part that failed is tried again.
 */
import { toError } from '../errors.js';
import { isTransientAwsError } from './errors.js';

/**
 * How the wait is spread: `full` is random in [0, ceiling] (best at spreading callers throttled
 * together), `equal` is half fixed and half random, `none` waits exactly the ceiling.
 */
export type Jitter = 'full' | 'equal' | 'none';

/** How long to wait between attempts. */
export interface BackoffOptions {
  /** First retry's ceiling in ms (default 250), doubled per retry. */
  readonly baseDelayMs?: number;
  /** Largest ceiling in ms (default 20 s); set it to `baseDelayMs` for a fixed wait. */
  readonly maxDelayMs?: number;
  /** Default `full`. */
  readonly jitter?: Jitter;
  /** Jitter's source, in [0, 1); tests pass a fixed one. */
  readonly random?: () => number;
}

/** What {@link withRetries} and {@link retryRounds} do between and across attempts. */
export interface RetryOptions extends BackoffOptions {
  /** Tries in all, the first included (default 5; `Infinity` with {@link RetryOptions.maxElapsedMs}). */
  readonly maxAttempts?: number;
  /** Gives up when the next wait would end more than this many ms after the first try started. */
  readonly maxElapsedMs?: number;
  /** How to wait; tests pass a fake. */
  readonly sleep?: (ms: number) => Promise<void>;
  /** The clock {@link RetryOptions.maxElapsedMs} is measured on (default `Date.now`). */
  readonly now?: () => number;
  /** Told before each wait, e.g. for a debug line. */
  readonly onRetry?: (retry: {
    readonly attempt: number;
    readonly delayMs: number;
    readonly reason: string;
  }) => void;
}

/** What {@link withRetries} adds: which thrown errors to retry. */
export interface WithRetriesOptions extends RetryOptions {
  /** Default {@link isTransientAwsError}: throttling, 5xx, timeouts, dropped connections. */
  readonly retryOn?: (thrown: unknown) => boolean;
}

/**
 * One round of {@link retryRounds}: `done` ends it; `retry` asks for another round, and is the
 * answer when no attempt is left (so it carries what failed, as the caller reports it).
 */
export type RetryRound<T> =
  | { readonly done: T }
  | {
      readonly retry: T;
      /** Why, for {@link RetryOptions.onRetry}. */
      readonly reason: string;
      /** Raises the budget for a failure known to take longer (e.g. IAM propagation). */
      readonly atLeastAttempts?: number;
    };

const DEFAULT_ATTEMPTS = 5;
const DEFAULT_BASE_MS = 250;
const DEFAULT_MAX_MS = 20_000;

const defaultSleep = (ms: number): Promise<void> =>
  new Promise((resolve) => {
    setTimeout(resolve, ms);
  });

/**
 * The wait before retry `attempt` (1 for the first retry): a ceiling of `baseDelayMs` doubled per
 * retry, capped at `maxDelayMs`, spread by `jitter` so many callers throttled together spread out.
 *
 * @example
 * backoffDelayMs(3, { baseDelayMs: 1000, maxDelayMs: 20000, jitter: 'equal', random: () => 0.5 }); // 3000
 * backoffDelayMs(2, { baseDelayMs: 1000, jitter: 'none' }); // 2000
 * @throws never.
 */
export function backoffDelayMs(attempt: number, options: BackoffOptions = {}): number {
  const base = options.baseDelayMs ?? DEFAULT_BASE_MS;
  const ceiling = Math.min(options.maxDelayMs ?? DEFAULT_MAX_MS, base * 2 ** Math.max(0, attempt - 1));
  const random = options.random ?? Math.random;
  switch (options.jitter ?? 'full') {
    case 'none':
      return ceiling;
    case 'equal':
      return Math.round(ceiling / 2 + (ceiling / 2) * random());
    case 'full':
      return Math.round(ceiling * random());
  }
}

/**
 * Runs `round` until it says `done`, waiting with backoff between rounds; when the attempts (or
 * the time) run out, returns the last round's `retry` value. A round that throws ends it all: the
 * round decides what is worth another try, and keeps the state of what is left in its closure.
 *
 * @example
 * let pending = entries;
 * const report = await retryRounds(async () => {
 *   const failed = await sendAll(pending);
 *   if (failed.length === 0) return { done: { failed } };
 *   pending = failed;
 *   return { retry: { failed }, reason: `${failed.length} failed` };
 * }, { maxAttempts: 5 });
 * @throws whatever `round` throws.
 */
export async function retryRounds<T>(
  round: (attempt: number) => Promise<RetryRound<T>>,
  options: RetryOptions = {},
): Promise<T> {
  const sleep = options.sleep ?? defaultSleep;
  const now = options.now ?? Date.now;
  const deadline = options.maxElapsedMs === undefined ? Infinity : now() + options.maxElapsedMs;
  let attempts = Math.max(1, options.maxAttempts ?? DEFAULT_ATTEMPTS);
  for (let attempt = 1; ; attempt += 1) {
    const outcome = await round(attempt);
    if ('done' in outcome) return outcome.done;
    attempts = Math.max(attempts, outcome.atLeastAttempts ?? 0);
    if (attempt >= attempts) return outcome.retry;
    const delayMs = backoffDelayMs(attempt, options);
    if (now() + delayMs > deadline) return outcome.retry;
    options.onRetry?.({ attempt, delayMs, reason: outcome.reason });
    await sleep(delayMs);
  }
}

/**
 * Runs `operation`, retrying it with backoff while it throws what `retryOn` accepts (by default a
 * transient AWS error). Other errors, and the last retryable one, are thrown as they are.
 *
 * @example
 * await withRetries(() => store.putJson(ref, record));
 * await withRetries(() => ec2.send(deleteGroup), { retryOn: inUse, baseDelayMs: 2000, jitter: 'none' });
 * @throws whatever `operation` throws last.
 */
export async function withRetries<T>(
  operation: (attempt: number) => Promise<T>,
  options: WithRetriesOptions = {},
): Promise<T> {
  const retryOn = options.retryOn ?? isTransientAwsError;
  const outcome = await retryRounds<{ readonly value: T } | { readonly thrown: unknown }>(async (attempt) => {
    try {
      return { done: { value: await operation(attempt) } };
    } catch (thrown: unknown) {
      if (!retryOn(thrown)) throw thrown;
      return { retry: { thrown }, reason: toError(thrown).message };
    }
  }, options);
  if ('value' in outcome) return outcome.value;
  throw outcome.thrown;
}

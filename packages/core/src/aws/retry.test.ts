import { describe, expect, it } from '@jest/globals';

import { ConfigurationError } from '../errors.js';
import { AwsRequestError } from './errors.js';
import { backoffDelayMs, retryRounds, withRetries } from './retry.js';

const throttled = (): AwsRequestError =>
  new AwsRequestError('slow down', {
    operation: 'S3.PutObject',
    code: 'SlowDown',
    httpStatus: 503,
    requestId: undefined,
    retryable: true,
  });

function recorder(): { sleeps: number[]; sleep: (ms: number) => Promise<void> } {
  const sleeps: number[] = [];
  return { sleeps, sleep: (ms) => Promise.resolve(void sleeps.push(ms)) };
}

describe('backoffDelayMs', () => {
  it('doubles from the base up to the cap, half of it jittered', () => {
    const options = { baseDelayMs: 1000, maxDelayMs: 5000, jitter: 'equal' as const };

    expect([1, 2, 3, 4].map((n) => backoffDelayMs(n, { ...options, random: () => 1 }))).toEqual([
      1000, 2000, 4000, 5000,
    ]);
    expect(backoffDelayMs(3, { ...options, random: () => 0 })).toBe(2000);
  });

  it('jitters the whole wait by default, and none of it when asked', () => {
    expect(backoffDelayMs(3, { baseDelayMs: 100, random: () => 0.5 })).toBe(200);
    expect(backoffDelayMs(3, { baseDelayMs: 100, random: () => 0 })).toBe(0);
    expect([1, 2, 3].map((n) => backoffDelayMs(n, { baseDelayMs: 100, jitter: 'none' }))).toEqual([
      100, 200, 400,
    ]);
    expect(backoffDelayMs(5, { baseDelayMs: 10_000, maxDelayMs: 10_000, jitter: 'none' })).toBe(10_000);
  });
});

describe('withRetries', () => {
  it('retries transient AWS errors with backoff, then succeeds', async () => {
    const { sleeps, sleep } = recorder();
    let calls = 0;
    const value = await withRetries(
      () => (++calls < 3 ? Promise.reject(throttled()) : Promise.resolve('ok')),
      { sleep, random: () => 1, baseDelayMs: 250 },
    );
    expect(value).toBe('ok');
    expect(sleeps).toEqual([250, 500]);
  });

  it('throws the last transient error when the attempts run out, and others at once', async () => {
    const { sleeps, sleep } = recorder();
    let calls = 0;
    await expect(
      withRetries(() => (++calls, Promise.reject(throttled())), { sleep, maxAttempts: 3 }),
    ).rejects.toBeInstanceOf(AwsRequestError);
    expect(calls).toBe(3);
    expect(sleeps).toHaveLength(2);

    calls = 0;
    await expect(
      withRetries(() => (++calls, Promise.reject(new ConfigurationError('denied'))), { sleep }),
    ).rejects.toThrow('denied');
    expect(calls).toBe(1);
  });

  it('retries what its predicate accepts, and gives up when the next wait would pass the time budget', async () => {
    const { sleeps, sleep } = recorder();
    let clock = 0;
    let calls = 0;
    const inUse = new Error('DependencyViolation');
    await expect(
      withRetries(() => (++calls, Promise.reject(inUse)), {
        retryOn: (thrown) => thrown === inUse,
        maxAttempts: Infinity,
        maxElapsedMs: 10_000,
        baseDelayMs: 1000,
        maxDelayMs: 8000,
        jitter: 'none',
        now: () => clock,
        sleep: (ms) => ((clock += ms), sleep(ms)),
      }),
    ).rejects.toBe(inUse);
    // 1 + 2 + 4 = 7 s waited; another 8 s would pass 10 s.
    expect(sleeps).toEqual([1000, 2000, 4000]);
    expect(calls).toBe(4);
  });
});

describe('retryRounds', () => {
  it('retries only what is left, and answers with what still failed when the attempts run out', async () => {
    const { sleeps, sleep } = recorder();
    const asked: number[][] = [];
    let pending = [1, 2, 3];
    const reasons: string[] = [];
    const failed = await retryRounds(
      (attempt) => {
        asked.push(pending);
        // Each round the first entry goes through.
        pending = pending.slice(1);
        return Promise.resolve(
          pending.length === 0
            ? { done: [] }
            : { retry: pending, reason: `attempt ${attempt}: ${pending.length}` },
        );
      },
      { sleep, maxAttempts: 2, jitter: 'none', baseDelayMs: 10, onRetry: (r) => reasons.push(r.reason) },
    );
    expect(asked).toEqual([
      [1, 2, 3],
      [2, 3],
    ]);
    expect(failed).toEqual([3]);
    expect(sleeps).toEqual([10]);
    expect(reasons).toEqual(['attempt 1: 2']);
  });

  it('lets a round raise the budget for a failure known to take longer', async () => {
    const { sleeps, sleep } = recorder();
    let rounds = 0;
    const result = await retryRounds(
      () => (++rounds, Promise.resolve({ retry: 'still', reason: 'propagating', atLeastAttempts: 4 })),
      { sleep, maxAttempts: 2 },
    );
    expect(result).toBe('still');
    expect(rounds).toBe(4);
    expect(sleeps).toHaveLength(3);
  });
});

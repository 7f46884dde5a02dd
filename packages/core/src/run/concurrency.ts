// Bounded concurrency for the lifecycle's many small requests (enqueue batches, record reads).

/**
 * Runs at most `limit` of the started tasks at once: `run` waits for a free slot before starting the
 * task, so a producer that awaits it is held back (bounded memory). `drain` waits for the rest and
 * throws the first error any task threw.
 *
 * @example
 * const pool = new BoundedPool(4);
 * for (const batch of batches) await pool.run(() => queue.sendBatch(batch));
 * await pool.drain();
 * @throws the first error of a task, from `run` (once seen) or `drain`.
 */
export class BoundedPool {
  private readonly running = new Set<Promise<void>>();
  private failure: { error: unknown } | undefined;

  constructor(private readonly limit: number) {}

  /** Starts `task` as soon as fewer than `limit` are running. */
  async run(task: () => Promise<void>): Promise<void> {
    while (this.running.size >= Math.max(1, this.limit)) await Promise.race(this.running);
    this.rethrow();
    const promise: Promise<void> = task()
      .catch((error: unknown) => {
        this.failure ??= { error };
      })
      .finally(() => {
        this.running.delete(promise);
      });
    this.running.add(promise);
  }

  /** Waits for every started task. */
  async drain(): Promise<void> {
    await Promise.all(this.running);
    this.rethrow();
  }

  private rethrow(): void {
    if (this.failure !== undefined) throw this.failure.error;
  }
}

/**
 * Maps `items` through `fn` with at most `limit` calls at once, keeping the order.
 *
 * @example
 * const records = await mapBounded(keys, 16, (key) => store.getJson({ bucket, key }));
 * @throws the first error `fn` throws.
 */
export async function mapBounded<T, R>(
  items: readonly T[],
  limit: number,
  fn: (item: T, index: number) => Promise<R>,
): Promise<R[]> {
  const results = new Array<R>(items.length);
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < items.length) {
      const index = next++;
      results[index] = await fn(items[index] as T, index);
    }
  };
  await Promise.all(Array.from({ length: Math.min(Math.max(1, limit), items.length) }, worker));
  return results;
}

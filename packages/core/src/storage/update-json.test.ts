// updateJson's retry loop against a one-object store whose conditional writes behave as S3's (the
// object store contract runs the same function against the fake and moto): writers in parallel
// each keep their change, and a writer that always loses gives up after UPDATE_JSON_TRIES.
import { createHash } from 'node:crypto';

import { describe, expect, it } from '@jest/globals';

import { ObjectNotFoundError, PreconditionFailedError } from './errors.js';
import type { ObjectRef, ObjectStore, PutOptions, PutResult } from './object-store.js';
import { UPDATE_JSON_TRIES, updateJson, type JsonSnapshot } from './update-json.js';

/** One JSON object behind getJson/putJson, with If-Match and If-None-Match; reads yield first. */
class OneObjectStore {
  text: string | undefined;
  puts = 0;

  private get etag(): string {
    return createHash('md5')
      .update(this.text ?? '')
      .digest('hex');
  }

  async getJson(): Promise<JsonSnapshot> {
    await Promise.resolve();
    return this.text === undefined ? undefined : { value: JSON.parse(this.text) as unknown, etag: this.etag };
  }

  async putJson(ref: ObjectRef, value: unknown, options: PutOptions = {}): Promise<PutResult> {
    await Promise.resolve();
    this.puts += 1;
    if (options.ifAbsent === true && this.text !== undefined)
      throw new PreconditionFailedError(ref.bucket, ref.key, 'if-none-match');
    if (options.ifMatch !== undefined) {
      if (this.text === undefined) throw new ObjectNotFoundError(ref.bucket, ref.key);
      if (options.ifMatch !== this.etag) throw new PreconditionFailedError(ref.bucket, ref.key, 'if-match');
    }
    this.text = JSON.stringify(value);
    return { etag: this.etag };
  }

  asStore(): ObjectStore {
    return this as unknown as ObjectStore;
  }
}

const ref = { bucket: 'output', key: '_sluice/run/tasks/t.json' };
const numbersOf = (current: JsonSnapshot): number[] =>
  (current?.value as { numbers?: number[] } | undefined)?.numbers ?? [];

describe('updateJson', () => {
  it('keeps every change when writers race: each lost write is re-applied on a fresh read', async () => {
    const store = new OneObjectStore();

    await Promise.all(
      [1, 2, 3, 4, 5, 6, 7, 8].map((n) =>
        updateJson(store.asStore(), ref, (current) => ({ numbers: [...numbersOf(current), n] })),
      ),
    );

    const stored = (await store.getJson())?.value as { numbers: number[] };
    expect([...stored.numbers].sort((a, b) => a - b)).toEqual([1, 2, 3, 4, 5, 6, 7, 8]);
    // The race was real: some writes were refused and made again.
    expect(store.puts).toBeGreaterThan(8);
  });

  it(`gives up with the precondition failure after ${UPDATE_JSON_TRIES} lost races`, async () => {
    const store = new OneObjectStore();
    let calls = 0;

    const update = updateJson(store.asStore(), ref, async (current) => {
      calls += 1;
      // Another writer always gets in after the read.
      await store.putJson(ref, { numbers: [...numbersOf(current), -calls] });
      return { numbers: [...numbersOf(current), calls] };
    });

    await expect(update).rejects.toBeInstanceOf(PreconditionFailedError);
    expect(calls).toBe(UPDATE_JSON_TRIES);
  });

  it('does not retry what is not a lost race', async () => {
    const store = new OneObjectStore();
    const failing = Object.assign(store.asStore(), {
      putJson: () => Promise.reject(new Error('access denied')),
    });
    let calls = 0;

    await expect(
      updateJson(failing, ref, () => {
        calls += 1;
        return { numbers: [] };
      }),
    ).rejects.toThrow('access denied');
    expect(calls).toBe(1);
  });
});

/**
 * Read-modify-write of a small JSON object that several writers may update at once (a task record
 * that a re-delivered message's second worker updates too): the write is conditional on what was
 * read, and a lost race is read again and re-applied instead of overwriting the other writer.
 */
import { ObjectNotFoundError, PreconditionFailedError } from './errors.js';
import type { ObjectRef, ObjectStore, PutResult } from './object-store.js';

/** The object as read: its parsed value and ETag; `undefined` when it does not exist. */
export type JsonSnapshot = { readonly value: unknown; readonly etag: string } | undefined;

/** How often a write that lost a race is tried again on a fresh read (the first try included). */
export const UPDATE_JSON_TRIES = 10;

/**
 * Reads the object, asks `next` for the new value and writes it only if the object is unchanged
 * (`If-Match` its ETag, or `If-None-Match: *` when it did not exist). When another writer got in
 * between, reads again and calls `next` on their version, up to {@link UPDATE_JSON_TRIES} tries.
 * `next` returning `undefined` writes nothing.
 *
 * @example
 * await updateJson(store, ref, (current) => ({ count: ((current?.value as { count?: number })?.count ?? 0) + 1 }));
 * @returns the value written and the write's result, or `undefined` when `next` wrote nothing.
 * @throws PreconditionFailedError when every try lost a race; whatever the store throws otherwise.
 */
export async function updateJson<T>(
  store: ObjectStore,
  ref: ObjectRef,
  next: (current: JsonSnapshot) => T | undefined | Promise<T | undefined>,
): Promise<{ readonly value: T; readonly put: PutResult } | undefined> {
  for (let attempt = 1; ; attempt += 1) {
    const current = await store.getJson(ref);
    const value = await next(current);
    if (value === undefined) return undefined;
    try {
      const put = await store.putJson(
        ref,
        value,
        current === undefined ? { ifAbsent: true } : { ifMatch: current.etag },
      );
      return { value, put };
    } catch (thrown: unknown) {
      // Created, replaced or deleted since the read: apply the change to what is there now.
      const lostRace = thrown instanceof PreconditionFailedError || thrown instanceof ObjectNotFoundError;
      if (!lostRace || attempt >= UPDATE_JSON_TRIES) throw thrown;
    }
  }
}

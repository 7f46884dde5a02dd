// The one behaviour every ObjectStore must have, written once and run against the in-memory fake
// (unit tests) and the S3 adapter on moto and on SeaweedFS (integration tests), so the fake cannot
// drift from S3.
import { createHash, randomBytes } from 'node:crypto';
import { mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import {
  ConfigurationError,
  ObjectNotFoundError,
  PreconditionFailedError,
  UnreadableObjectError,
  updateJson,
  type JsonSnapshot,
  type ObjectStore,
  type ObjectSummary,
} from '@sluice/core';

/** What the contract needs from the store under test. */
/** Per test: generous, since against a real server these move real bytes and wait real time. */
const TIMEOUT_MS = 120_000;

export interface ObjectStoreHarness {
  readonly store: ObjectStore;
  /** An existing bucket the contract may fill (it uses a distinct prefix per test). */
  readonly bucket: string;
  /** A bucket name that does not exist yet; removed by `cleanup` if the contract creates it. */
  newBucketName(part: string): string;
  /** A queue ARN the store accepts as a notification destination. */
  readonly queueArn: string;
  /**
   * Known differences of the server under test from AWS, which the contract then asserts as they
   * are (so it notices when the server is fixed). moto 5.2.5: CopyObject ignores `If-None-Match`.
   * SeaweedFS 4.48: a put with `If-Match` on a missing object answers 412, not AWS's 404.
   */
  readonly quirks?: {
    readonly copyIgnoresIfNoneMatch?: boolean;
    readonly ifMatchOnMissingIsPreconditionFailed?: boolean;
  };
  cleanup(): Promise<void>;
}

/**
 * Contract cases a server cannot run because it lacks the feature, each with the feature named;
 * such a case is registered as skipped with that reason in its title, never left out silently.
 */
export interface ObjectStoreContractOptions {
  readonly unsupported?: {
    /** S3 → SQS bucket notifications (Put/GetBucketNotificationConfiguration). */
    readonly queueNotifications?: string;
  };
}

/** Keys that have tripped up S3 clients: spaces, `+`, `%`, unicode, nesting. */
const AWKWARD_KEYS = [
  'plain.txt',
  'with space.txt',
  'a+b.txt',
  'nested/deeper/dir/file name+plus.csv',
  'unicode/naïve café 日本.txt',
  'percent/100% =&?#.txt',
];

const sha256 = (data: Uint8Array): string => createHash('sha256').update(data).digest('hex');

async function collect(pages: AsyncIterable<readonly ObjectSummary[]>): Promise<ObjectSummary[][]> {
  const all: ObjectSummary[][] = [];
  for await (const page of pages) all.push([...page]);
  return all;
}

/**
 * Registers the ObjectStore contract tests under `describe(name)`.
 *
 * @example
 * describeObjectStoreContract('FakeObjectStore', async () => {
 *   const store = new FakeObjectStore();
 *   await store.ensureBucket('contract');
 *   return { store, bucket: 'contract', newBucketName: (p) => `new-${p}`, queueArn: 'arn:aws:sqs:us-east-1:0:q', cleanup: async () => {} };
 * });
 */
export function describeObjectStoreContract(
  name: string,
  makeHarness: () => Promise<ObjectStoreHarness>,
  options: ObjectStoreContractOptions = {},
): void {
  /** `it`, or `it.skip` with the missing feature in the title when the server lacks it. */
  const itNeeding = (missing: string | undefined) =>
    missing === undefined
      ? it
      : (title: string, test: () => Promise<void>, timeout: number) => {
          it.skip(`${title} [skipped on ${name}: ${missing}]`, test, timeout);
        };
  describe(`ObjectStore contract: ${name}`, () => {
    let h: ObjectStoreHarness;
    let work: string;
    let counter = 0;
    /** A fresh key prefix per test, so tests sharing the bucket never see each other's keys. */
    const prefix = (): string => `t${++counter}-${randomBytes(3).toString('hex')}/`;
    const ref = (key: string): { bucket: string; key: string } => ({ bucket: h.bucket, key });

    beforeAll(async () => {
      h = await makeHarness();
      work = await mkdtemp(join(tmpdir(), 'sluice-store-contract-'));
    }, TIMEOUT_MS);
    afterAll(async () => {
      await rm(work, { recursive: true, force: true });
      await h.cleanup();
    }, TIMEOUT_MS);

    it(
      'puts and reads back text, with the same ETag as head, content type and metadata',
      async () => {
        const key = `${prefix()}hello.txt`;
        const put = await h.store.put(ref(key), 'hello, world', {
          contentType: 'text/plain',
          metadata: { Origin: 'contract' },
        });
        const read = await h.store.getText(ref(key));
        const head = await h.store.head(ref(key));
        expect(read?.text).toBe('hello, world');
        expect(read?.etag).toBe(put.etag);
        expect(put.etag).toBe(createHash('md5').update('hello, world').digest('hex'));
        expect(head).toMatchObject({
          size: 12,
          etag: put.etag,
          contentType: 'text/plain',
          metadata: { origin: 'contract' },
        });
      },
      TIMEOUT_MS,
    );

    it(
      'answers undefined for a missing object from head, getText and getJson',
      async () => {
        const key = `${prefix()}missing.json`;
        expect(await h.store.head(ref(key))).toBeUndefined();
        expect(await h.store.getText(ref(key))).toBeUndefined();
        expect(await h.store.getJson(ref(key))).toBeUndefined();
      },
      TIMEOUT_MS,
    );

    it(
      'puts and reads JSON, and refuses to read non-JSON or too-large objects whole',
      async () => {
        const base = prefix();
        const value = { runId: 'r1', attempts: [{ exit: 0 }], note: 'naïve' };
        await h.store.putJson(ref(`${base}record.json`), value);
        expect((await h.store.getJson(ref(`${base}record.json`)))?.value).toEqual(value);
        expect((await h.store.head(ref(`${base}record.json`)))?.contentType).toBe('application/json');

        await h.store.put(ref(`${base}not.json`), '{ nope');
        await expect(h.store.getJson(ref(`${base}not.json`))).rejects.toBeInstanceOf(UnreadableObjectError);
        await h.store.put(ref(`${base}big.txt`), 'x'.repeat(2048));
        await expect(h.store.getText(ref(`${base}big.txt`), { maxBytes: 1024 })).rejects.toBeInstanceOf(
          UnreadableObjectError,
        );
      },
      TIMEOUT_MS,
    );

    it(
      'writes with ifAbsent only once: the first write wins, later ones fail or report undefined',
      async () => {
        const key = `${prefix()}_done.json`;
        const first = await h.store.putIfAbsent(ref(key), 'first');
        const second = await h.store.putIfAbsent(ref(key), 'second');
        expect(first?.etag).toBeDefined();
        expect(second).toBeUndefined();
        await expect(h.store.put(ref(key), 'third', { ifAbsent: true })).rejects.toBeInstanceOf(
          PreconditionFailedError,
        );
        await expect(h.store.putJson(ref(key), { n: 4 }, { ifAbsent: true })).rejects.toBeInstanceOf(
          PreconditionFailedError,
        );
        expect((await h.store.getText(ref(key)))?.text).toBe('first');
      },
      TIMEOUT_MS,
    );

    it(
      'writes with ifMatch only over the version read: a stale ETag fails, a missing object is not found',
      async () => {
        const key = `${prefix()}record.json`;
        const first = await h.store.putJson(ref(key), { n: 1 });
        const second = await h.store.putJson(ref(key), { n: 2 }, { ifMatch: first.etag });
        await expect(h.store.putJson(ref(key), { n: 3 }, { ifMatch: first.etag })).rejects.toMatchObject({
          name: 'PreconditionFailedError',
          condition: 'if-match',
        });
        expect((await h.store.getJson(ref(key)))?.value).toEqual({ n: 2 });
        await h.store.put(ref(key), 'quoted ETags match too', { ifMatch: `"${second.etag}"` });
        await expect(
          h.store.put(ref(`${prefix()}absent.json`), '{}', { ifMatch: first.etag }),
        ).rejects.toBeInstanceOf(
          h.quirks?.ifMatchOnMissingIsPreconditionFailed === true
            ? PreconditionFailedError
            : ObjectNotFoundError,
        );
      },
      TIMEOUT_MS,
    );

    it(
      'updateJson re-applies its change on top of a write that landed between its read and its write',
      async () => {
        const key = `${prefix()}words.json`;
        const wordsOf = (current: JsonSnapshot): string[] =>
          (current?.value as { words?: string[] } | undefined)?.words ?? [];
        /** Appends `word`; on its first call another writer appends `theirs` after the read. */
        const appendAfterRace = (word: string, theirs: string) => {
          let raced = false;
          return async (current: JsonSnapshot) => {
            if (!raced) {
              raced = true;
              await h.store.putJson(ref(key), { words: [...wordsOf(current), theirs] });
            }
            return { words: [...wordsOf(current), word] };
          };
        };

        // Created by the other writer after this one read nothing there (If-None-Match fails).
        const created = await updateJson(h.store, ref(key), appendAfterRace('mine', 'theirs'));
        // Replaced by the other writer after this one read it (If-Match fails).
        const updated = await updateJson(h.store, ref(key), appendAfterRace('mine again', 'theirs again'));

        expect(created?.value).toEqual({ words: ['theirs', 'mine'] });
        expect(updated?.value).toEqual({ words: ['theirs', 'mine', 'theirs again', 'mine again'] });
        const stored = await h.store.getJson(ref(key));
        expect(stored).toEqual({ value: updated?.value, etag: updated?.put.etag });
        // Nothing to change: nothing written.
        const untouched = `${prefix()}untouched.json`;
        expect(await updateJson(h.store, ref(untouched), () => undefined)).toBeUndefined();
        expect(await h.store.head(ref(untouched))).toBeUndefined();
      },
      TIMEOUT_MS,
    );

    it(
      'uploads a file and downloads it byte for byte, reporting size and ETag',
      async () => {
        const key = `${prefix()}data.bin`;
        const data = randomBytes(300 * 1024);
        const source = join(work, 'upload-small.bin');
        await writeFile(source, data);
        const put = await h.store.upload(ref(key), source, { contentType: 'application/octet-stream' });
        const target = join(work, 'out', 'nested', 'data.bin');
        const got = await h.store.download(ref(key), target, { ifMatch: put.etag });
        expect(got).toMatchObject({ size: data.length, etag: put.etag });
        expect(sha256(await readFile(target))).toBe(sha256(data));
      },
      TIMEOUT_MS,
    );

    it(
      'round-trips a file above the multipart threshold',
      async () => {
        const key = `${prefix()}large.bin`;
        const data = randomBytes(12 * 1024 * 1024 + 123);
        const source = join(work, 'upload-large.bin');
        await writeFile(source, data);
        const put = await h.store.upload(ref(key), source);
        const target = join(work, 'large-out.bin');
        const got = await h.store.download(ref(key), target);
        expect(got.size).toBe(data.length);
        expect(got.etag).toBe(put.etag);
        expect((await h.store.head(ref(key)))?.size).toBe(data.length);
        expect(sha256(await readFile(target))).toBe(sha256(data));
      },
      TIMEOUT_MS,
    );

    it(
      'round-trips a zero-byte file',
      async () => {
        const key = `${prefix()}empty`;
        const source = join(work, 'empty');
        await writeFile(source, '');
        await h.store.upload(ref(key), source);
        const got = await h.store.download(ref(key), join(work, 'empty-out'));
        expect(got.size).toBe(0);
        expect((await readFile(join(work, 'empty-out'))).length).toBe(0);
      },
      TIMEOUT_MS,
    );

    it(
      'fails a download of a missing object with ObjectNotFoundError and leaves no file behind',
      async () => {
        const dir = join(work, 'missing-dir');
        const target = join(dir, 'never.bin');
        await expect(h.store.download(ref(`${prefix()}never.bin`), target)).rejects.toBeInstanceOf(
          ObjectNotFoundError,
        );
        const left = await readdir(dir).catch(() => []);
        expect(left).toEqual([]);
      },
      TIMEOUT_MS,
    );

    it(
      'fails a download whose ifMatch ETag no longer matches (the object was replaced)',
      async () => {
        const key = `${prefix()}replaced.txt`;
        const old = await h.store.put(ref(key), 'version 1');
        await h.store.put(ref(key), 'version 2');
        await expect(
          h.store.download(ref(key), join(work, 'replaced.txt'), { ifMatch: old.etag }),
        ).rejects.toBeInstanceOf(PreconditionFailedError);
      },
      TIMEOUT_MS,
    );

    it(
      'keeps awkward keys exact through put, head, list, copy and download',
      async () => {
        const base = prefix();
        for (const key of AWKWARD_KEYS) await h.store.put(ref(base + key), `body of ${key}`);
        const listed = (await collect(h.store.list(h.bucket, base))).flat().map((o) => o.key);
        expect([...listed].sort()).toEqual(AWKWARD_KEYS.map((k) => base + k).sort());
        for (const key of AWKWARD_KEYS) {
          expect((await h.store.head(ref(base + key)))?.size).toBe(Buffer.byteLength(`body of ${key}`));
          await h.store.copy(ref(base + key), ref(`${base}copies/${key}`));
          const file = join(work, 'awkward', randomBytes(4).toString('hex'));
          await h.store.download(ref(`${base}copies/${key}`), file);
          expect(await readFile(file, 'utf8')).toBe(`body of ${key}`);
        }
      },
      TIMEOUT_MS,
    );

    it(
      'lists under a prefix in key order, in pages no larger than asked, after startAfter',
      async () => {
        const base = prefix();
        const keys = Array.from({ length: 25 }, (_, i) => `${base}k${String(i).padStart(3, '0')}`);
        await Promise.all(keys.map((key) => h.store.put(ref(key), 'x')));
        await h.store.put(ref(`${base.slice(0, -1)}-sibling/not-listed`), 'x');

        const pages = await collect(h.store.list(h.bucket, base, { pageSize: 10 }));
        expect(pages.map((p) => p.length)).toEqual([10, 10, 5]);
        expect(pages.flat().map((o) => o.key)).toEqual(keys);
        expect(pages.flat()[0]).toMatchObject({ size: 1, etag: createHash('md5').update('x').digest('hex') });

        const after = await collect(h.store.list(h.bucket, base, { startAfter: keys[19] ?? '' }));
        expect(after.flat().map((o) => o.key)).toEqual(keys.slice(20));
        expect(await collect(h.store.list(h.bucket, `${base}nothing-here/`))).toEqual([]);
      },
      TIMEOUT_MS,
    );

    it(
      'lists more than 1,000 keys in 1,000-key pages and deletes them in batches',
      async () => {
        const base = prefix();
        const keys = Array.from({ length: 1005 }, (_, i) => `${base}${String(i).padStart(5, '0')}`);
        for (let i = 0; i < keys.length; i += 50) {
          await Promise.all(keys.slice(i, i + 50).map((key) => h.store.put(ref(key), '')));
        }
        const pages = await collect(h.store.list(h.bucket, base));
        expect(pages.map((p) => p.length)).toEqual([1000, 5]);

        async function* streamed(): AsyncIterable<string> {
          for await (const page of h.store.list(h.bucket, base)) for (const object of page) yield object.key;
        }
        const result = await h.store.deleteMany(h.bucket, streamed());
        expect(result).toEqual({ deleted: 1005, failed: [] });
        expect(await collect(h.store.list(h.bucket, base))).toEqual([]);
      },
      TIMEOUT_MS,
    );

    it(
      'deletes keys that do not exist without complaint, as S3 does',
      async () => {
        const base = prefix();
        await h.store.put(ref(`${base}a`), 'a');
        const result = await h.store.deleteMany(h.bucket, [`${base}a`, `${base}never-existed`]);
        expect(result).toEqual({ deleted: 2, failed: [] });
        expect(await h.store.head(ref(`${base}a`))).toBeUndefined();
      },
      TIMEOUT_MS,
    );

    it(
      'copies, refusing a missing source and, with ifAbsent, an existing destination',
      async () => {
        const base = prefix();
        await h.store.put(ref(`${base}src`), 'source', { contentType: 'text/plain' });
        const copied = await h.store.copy(ref(`${base}src`), ref(`${base}dst`));
        expect((await h.store.getText(ref(`${base}dst`)))?.text).toBe('source');
        expect(copied.etag).toBe((await h.store.head(ref(`${base}src`)))?.etag);
        await expect(h.store.copy(ref(`${base}nope`), ref(`${base}dst2`))).rejects.toBeInstanceOf(
          ObjectNotFoundError,
        );
        await h.store.put(ref(`${base}other`), 'other');
        const conditional = h.store.copy(ref(`${base}other`), ref(`${base}dst`), { ifAbsent: true });
        if (h.quirks?.copyIgnoresIfNoneMatch === true) {
          await conditional;
          expect((await h.store.getText(ref(`${base}dst`)))?.text).toBe('other');
        } else {
          await expect(conditional).rejects.toBeInstanceOf(PreconditionFailedError);
          expect((await h.store.getText(ref(`${base}dst`)))?.text).toBe('source');
        }
      },
      TIMEOUT_MS,
    );

    it(
      'creates a bucket once and reports whether it existed',
      async () => {
        const bucket = h.newBucketName('ensure');
        expect(await h.store.bucketExists(bucket)).toBe(false);
        expect(await h.store.ensureBucket(bucket, { tags: { 'sluice:run': 'contract' } })).toEqual({
          created: true,
        });
        expect(await h.store.ensureBucket(bucket)).toEqual({ created: false });
        expect(await h.store.bucketExists(bucket)).toBe(true);
      },
      TIMEOUT_MS,
    );

    it(
      'tells the user when a bucket does not exist',
      async () => {
        const missing = { bucket: h.newBucketName('absent'), key: 'a.txt' };
        await expect(h.store.put(missing, 'x')).rejects.toBeInstanceOf(ConfigurationError);
        await expect(h.store.put(missing, 'x')).rejects.toThrow(/does not exist/);
        await expect(collect(h.store.list(missing.bucket, ''))).rejects.toBeInstanceOf(ConfigurationError);
      },
      TIMEOUT_MS,
    );

    itNeeding(options.unsupported?.queueNotifications)(
      'sets and reads back queue notifications with prefix and suffix filters',
      async () => {
        const bucket = h.newBucketName('notify');
        await h.store.ensureBucket(bucket);
        expect(await h.store.getQueueNotifications(bucket)).toEqual({ queues: [] });
        await h.store.putQueueNotifications(bucket, {
          queues: [
            {
              id: 'sluice-intake',
              queueArn: h.queueArn,
              events: ['s3:ObjectCreated:*'],
              prefix: 'incoming/',
              suffix: '.csv',
            },
          ],
        });
        expect(await h.store.getQueueNotifications(bucket)).toEqual({
          queues: [
            {
              id: 'sluice-intake',
              queueArn: h.queueArn,
              events: ['s3:ObjectCreated:*'],
              prefix: 'incoming/',
              suffix: '.csv',
            },
          ],
        });
        await h.store.putQueueNotifications(bucket, { queues: [] });
        expect(await h.store.getQueueNotifications(bucket)).toEqual({ queues: [] });
      },
      TIMEOUT_MS,
    );
  });
}

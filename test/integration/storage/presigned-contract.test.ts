// Presigned transfers (sealed mode) against real S3 servers: the broker signs with S3Presigner, the
// worker transfers with no credentials (downloadPresigned, uploadPresignedPost). The positive cases
// run on SeaweedFS and moto; the refusals only on SeaweedFS, because moto accepts expired, altered
// and out-of-policy requests alike (../shared/TESTBED.md), so there they could never fail.
// Every refusal case fails when the policy it guards is weakened in presign.ts (the prefix
// condition widened to '', the size limit raised, the expiry ignored): that is the point of them.
import { createHash, randomBytes } from 'node:crypto';
import { mkdtemp, readFile, rm, truncate, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';

import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import {
  downloadPresigned,
  ObjectNotFoundError,
  PreconditionFailedError,
  PresignedRequestRefusedError,
  S3ObjectStore,
  S3Presigner,
  uploadPresignedPost,
  type PresignedGet,
  type PresignedPost,
  type Presigner,
} from '@sluice/core';
import { seaweedAccount, TestAwsAccount } from '@sluice/testing';

const MiB = 1024 * 1024;
const TIMEOUT_MS = 60_000;
const sha256 = (data: Uint8Array): string => createHash('sha256').update(data).digest('hex');

/** Rejects with what `promise` throws, or fails the test when it resolves. */
async function refusal(promise: Promise<unknown>): Promise<PresignedRequestRefusedError> {
  const outcome = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  if (!(outcome instanceof PresignedRequestRefusedError)) {
    throw new Error(
      `expected S3 to refuse the request, got ${outcome instanceof Error ? outcome.message : 'success'}`,
    );
  }
  return outcome;
}

/** No error message may carry the bearer secret: the query string, the signature, the policy. */
function expectNoSecrets(error: Error, secrets: readonly string[]): void {
  expect(error.message).not.toMatch(/X-Amz-Signature|X-Amz-Credential|\?/);
  for (const secret of secrets) expect(error.message).not.toContain(secret);
}

const SERVERS = [
  { name: 'SeaweedFS', account: () => seaweedAccount({ label: 'presign' }) },
  { name: 'moto', account: () => new TestAwsAccount({ label: 'presign' }) },
] as const;

describe.each(SERVERS)('presigned transfers on $name: what a worker does', ({ account }) => {
  let aws: TestAwsAccount;
  // Typed as the port the broker will hold, not the S3 class.
  let presigner: Presigner;
  let store: S3ObjectStore;
  let bucket: string;
  let work: string;

  beforeAll(async () => {
    aws = account();
    presigner = new S3Presigner(aws.s3);
    store = new S3ObjectStore(aws.s3);
    bucket = await aws.createBucket('transfer');
    work = await mkdtemp(join(tmpdir(), 'sluice-presigned-'));
  }, TIMEOUT_MS);
  afterAll(async () => {
    await rm(work, { recursive: true, force: true });
    await aws.cleanup();
  }, TIMEOUT_MS);

  it('downloads an input through a presigned GET, byte for byte, with its ETag', async () => {
    const data = randomBytes(3 * MiB + 17);
    const put = await store.put({ bucket, key: 'in/naïve input+1.bin' }, data);
    const get = await presigner.presignGet({ bucket, key: 'in/naïve input+1.bin' }, 300);

    const got = await downloadPresigned(get, join(work, 'in', 'input.bin'), { ifMatch: put.etag });

    expect(got).toMatchObject({ size: data.length, etag: put.etag });
    expect(sha256(await readFile(join(work, 'in', 'input.bin')))).toBe(sha256(data));
  });

  it('says which input is missing (404) and which was replaced (412 on If-Match)', async () => {
    // The runner records a missing input and a replaced one differently from a refused request.
    const missing = await presigner.presignGet({ bucket, key: 'in/never-uploaded' }, 300);
    await expect(downloadPresigned(missing, join(work, 'never'))).rejects.toBeInstanceOf(ObjectNotFoundError);

    const first = await store.put({ bucket, key: 'in/replaced' }, 'version 1');
    await store.put({ bucket, key: 'in/replaced' }, 'version 2');
    const get = await presigner.presignGet({ bucket, key: 'in/replaced' }, 300);
    await expect(
      downloadPresigned(get, join(work, 'replaced'), { ifMatch: first.etag }),
    ).rejects.toBeInstanceOf(PreconditionFailedError);
  });

  it('uploads small outputs under the prefix through one POST policy, several keys', async () => {
    // One policy serves every output of the attempt: the worker picks the keys under the prefix.
    const post = await presigner.presignPost({
      bucket,
      keyPrefix: 'staging/run-1/task-1/attempt-1/',
      maxBytes: MiB,
      expiresInSeconds: 300,
    });
    await writeFile(join(work, 'result.json'), '{"ok":true}');
    await writeFile(join(work, 'log.txt'), 'a log line\n');

    const json = await uploadPresignedPost(
      post,
      `${post.keyPrefix}out/result.json`,
      join(work, 'result.json'),
      {
        contentType: 'application/json',
      },
    );
    await uploadPresignedPost(post, `${post.keyPrefix}log with space+plus.txt`, join(work, 'log.txt'));

    expect(json).toMatchObject({ key: `${post.keyPrefix}out/result.json`, size: 11 });
    expect((await store.getJson({ bucket, key: `${post.keyPrefix}out/result.json` }))?.value).toEqual({
      ok: true,
    });
    expect((await store.head({ bucket, key: `${post.keyPrefix}out/result.json` }))?.contentType).toBe(
      'application/json',
    );
    expect((await store.getText({ bucket, key: `${post.keyPrefix}log with space+plus.txt` }))?.text).toBe(
      'a log line\n',
    );
  });

  it('uploads a multi-MB output byte for byte', async () => {
    const post = await presigner.presignPost({
      bucket,
      keyPrefix: 'staging/run-1/task-2/attempt-1/',
      maxBytes: 64 * MiB,
      expiresInSeconds: 300,
    });
    const data = randomBytes(12 * MiB + 5);
    await writeFile(join(work, 'big.bin'), data);

    await uploadPresignedPost(post, `${post.keyPrefix}big.bin`, join(work, 'big.bin'));

    await store.download({ bucket, key: `${post.keyPrefix}big.bin` }, join(work, 'big-back.bin'));
    expect(sha256(await readFile(join(work, 'big-back.bin')))).toBe(sha256(data));
  });
});

describe('presigned transfers on SeaweedFS: what S3 refuses', () => {
  let aws: TestAwsAccount;
  // Typed as the port the broker will hold, not the S3 class.
  let presigner: Presigner;
  let store: S3ObjectStore;
  let bucket: string;
  let work: string;
  let small: string;
  const prefix = 'staging/run-1/task-9/attempt-1/';
  const policy = (
    overrides: Partial<{ keyPrefix: string; maxBytes: number; expiresInSeconds: number }> = {},
  ) =>
    presigner.presignPost({ bucket, keyPrefix: prefix, maxBytes: 1024, expiresInSeconds: 300, ...overrides });

  beforeAll(async () => {
    aws = seaweedAccount({ label: 'presign-refuse' });
    presigner = new S3Presigner(aws.s3);
    store = new S3ObjectStore(aws.s3);
    bucket = await aws.createBucket('refuse');
    await store.put({ bucket, key: 'in/input.txt' }, 'the input');
    await store.put({ bucket, key: 'in/other-task.txt' }, 'another task’s input');
    work = await mkdtemp(join(tmpdir(), 'sluice-presigned-refused-'));
    small = join(work, 'small.txt');
    await writeFile(small, 'small output');
  }, TIMEOUT_MS);
  afterAll(async () => {
    await rm(work, { recursive: true, force: true });
    await aws.cleanup();
  }, TIMEOUT_MS);

  it(
    'refuses a GET after it expired',
    async () => {
      // A leaked or hoarded URL must stop working: the expiry is the only revocation there is.
      const get = await presigner.presignGet({ bucket, key: 'in/input.txt' }, 1);
      await sleep(2_100);
      const error = await refusal(downloadPresigned(get, join(work, 'expired.txt')));
      expect(error).toMatchObject({ httpStatus: 403, request: 'GET' });
      expectNoSecrets(error, [new URL(get.url).searchParams.get('X-Amz-Signature') ?? 'no signature']);
    },
    TIMEOUT_MS,
  );

  it('refuses a GET whose key or signature was changed', async () => {
    // A worker must not turn its own input's URL into another task's input.
    const get = await presigner.presignGet({ bucket, key: 'in/input.txt' }, 300);
    const url = new URL(get.url);
    const otherKey: PresignedGet = { ...get, url: get.url.replace('/in/input.txt', '/in/other-task.txt') };
    const signature = url.searchParams.get('X-Amz-Signature') ?? '';
    url.searchParams.set(
      'X-Amz-Signature',
      `${signature.slice(0, -1)}${signature.endsWith('0') ? '1' : '0'}`,
    );
    const forged: PresignedGet = { ...get, url: url.toString() };

    const byKey = await refusal(downloadPresigned(otherKey, join(work, 'other.txt')));
    const bySignature = await refusal(downloadPresigned(forged, join(work, 'forged.txt')));

    expect(byKey.httpStatus).toBe(403);
    expect(bySignature).toMatchObject({ httpStatus: 403, code: 'SignatureDoesNotMatch' });
    expectNoSecrets(bySignature, [signature]);
  });

  it('refuses a POST of a key outside the policy’s prefix', async () => {
    // The policy is the only thing keeping a worker inside its attempt's staging prefix: here the
    // worker claims a wider prefix than it was given, which only S3 can catch.
    const post = await policy();
    const lying: PresignedPost = { ...post, keyPrefix: 'staging/' };
    for (const key of ['staging/run-1/task-8/attempt-1/theirs.txt', `${prefix.slice(0, -1)}-evil/x.txt`]) {
      const error = await refusal(uploadPresignedPost(lying, key, small));
      expect(error).toMatchObject({ httpStatus: 403, request: 'POST' });
      expect(await store.head({ bucket, key })).toBeUndefined();
    }
  });

  it('refuses a POST above the policy’s content-length-range', async () => {
    // A runaway algorithm must not fill the bucket: the size limit is enforced by S3, not by the
    // worker's good will (this worker claims a higher limit than it was given).
    const post = await policy({ maxBytes: 1024 });
    const big = join(work, 'big.bin');
    await writeFile(big, randomBytes(4096));
    const error = await refusal(uploadPresignedPost({ ...post, maxBytes: 1e9 }, `${prefix}big.bin`, big));
    expect(error.httpStatus).toBe(400);
    expect(error.code).toBe('EntityTooLarge');
    expect(await store.head({ bucket, key: `${prefix}big.bin` })).toBeUndefined();
  });

  it(
    'refuses a POST after its policy expired',
    async () => {
      // A worker that outlives its attempt (a zombie after a visibility timeout) must not write.
      const post = await policy({ expiresInSeconds: 1 });
      await sleep(2_100);
      const error = await refusal(uploadPresignedPost(post, `${prefix}late.txt`, small));
      expect(error.httpStatus).toBe(403);
      expectNoSecrets(error, [
        post.fields.Policy ?? 'no policy',
        post.fields['X-Amz-Signature'] ?? 'no signature',
      ]);
      expect(await store.head({ bucket, key: `${prefix}late.txt` })).toBeUndefined();
    },
    TIMEOUT_MS,
  );

  it('refuses a POST whose policy or signature was edited', async () => {
    // The fields travel through the worker: editing the policy (here: any key, any size) must
    // break its signature.
    const post = await policy();
    const document = JSON.parse(Buffer.from(post.fields.Policy ?? '', 'base64').toString('utf8')) as {
      conditions: unknown[];
    };
    document.conditions = document.conditions.map((condition) =>
      Array.isArray(condition) && condition[0] === 'starts-with' && condition[1] === '$key'
        ? ['starts-with', '$key', '']
        : Array.isArray(condition) && condition[0] === 'content-length-range'
          ? ['content-length-range', 0, 1e9]
          : condition,
    );
    const widened: PresignedPost = {
      ...post,
      keyPrefix: '',
      fields: { ...post.fields, Policy: Buffer.from(JSON.stringify(document)).toString('base64') },
    };
    const signature = post.fields['X-Amz-Signature'] ?? '';
    const resigned: PresignedPost = {
      ...post,
      fields: {
        ...post.fields,
        'X-Amz-Signature': `${signature.slice(0, -1)}${signature.endsWith('0') ? '1' : '0'}`,
      },
    };

    const byPolicy = await refusal(uploadPresignedPost(widened, 'anywhere.txt', small));
    const bySignature = await refusal(uploadPresignedPost(resigned, `${prefix}sig.txt`, small));

    expect(byPolicy.httpStatus).toBe(403);
    expect(bySignature.httpStatus).toBe(403);
    expect(await store.head({ bucket, key: 'anywhere.txt' })).toBeUndefined();
    expect(await store.head({ bucket, key: `${prefix}sig.txt` })).toBeUndefined();
  });

  it('still accepts the same policy inside its scope (the refusals above are not a broken server)', async () => {
    const post = await policy();
    await uploadPresignedPost(post, `${prefix}fine.txt`, small);
    expect((await store.getText({ bucket, key: `${prefix}fine.txt` }))?.text).toBe('small output');
    // A file exactly at the limit is inside content-length-range.
    const edge = join(work, 'edge.bin');
    await writeFile(edge, '');
    await truncate(edge, 1024);
    await uploadPresignedPost(post, `${prefix}edge.bin`, edge);
    expect((await store.head({ bucket, key: `${prefix}edge.bin` }))?.size).toBe(1024);
  });
});

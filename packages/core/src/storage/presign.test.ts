import { S3Client } from '@aws-sdk/client-s3';
import { describe, expect, it } from '@jest/globals';

import { PRESIGN_MAX_EXPIRY_SECONDS, S3_POST_MAX_BYTES, S3Presigner } from './presign.js';

const credentials = { accessKeyId: 'AKIDEXAMPLE', secretAccessKey: 'secret' };
const local = new S3Client({
  endpoint: 'http://127.0.0.1:9000',
  region: 'us-east-1',
  forcePathStyle: true,
  credentials,
});
const aws = new S3Client({ region: 'eu-west-1', credentials });

describe('S3Presigner (signing is local: no request is sent)', () => {
  it('presigns a GET path-style on a custom endpoint and virtual-hosted on AWS, expiring when asked', async () => {
    const before = Date.now();
    const onLocal = await new S3Presigner(local).presignGet(
      { bucket: 'in', key: 'a b/c+d.txt', versionId: 'v1' },
      900,
    );
    const onAws = await new S3Presigner(aws).presignGet({ bucket: 'in-bucket', key: 'x.txt' }, 60);

    const url = new URL(onLocal.url);
    expect(`${url.origin}${url.pathname}`).toBe('http://127.0.0.1:9000/in/a%20b/c%2Bd.txt');
    expect(url.searchParams.get('X-Amz-Expires')).toBe('900');
    expect(url.searchParams.get('versionId')).toBe('v1');
    expect(Date.parse(onLocal.expiresAt) - before).toBeGreaterThanOrEqual(900_000);
    expect(onLocal).toMatchObject({ bucket: 'in', key: 'a b/c+d.txt' });
    expect(new URL(onAws.url).host).toBe('in-bucket.s3.eu-west-1.amazonaws.com');
  });

  it('presigns one POST policy bound to a prefix, a size range and an expiry', async () => {
    const post = await new S3Presigner(local).presignPost({
      bucket: 'out',
      keyPrefix: 'staging/r/t/1/',
      maxBytes: 1000,
      expiresInSeconds: 600,
    });
    const policy = JSON.parse(Buffer.from(post.fields.Policy ?? '', 'base64').toString('utf8')) as {
      expiration: string;
      conditions: unknown[];
    };

    expect(post.url).toBe('http://127.0.0.1:9000/out');
    expect(post).toMatchObject({ keyPrefix: 'staging/r/t/1/', maxBytes: 1000 });
    expect(policy.conditions).toEqual(
      expect.arrayContaining([
        ['starts-with', '$key', 'staging/r/t/1/'],
        ['content-length-range', 0, 1000],
        { bucket: 'out' },
      ]),
    );
    // Never pinned to one key: the worker chooses keys under the prefix.
    expect(policy.conditions).not.toContainEqual(expect.objectContaining({ key: expect.anything() }));
    expect(Math.abs(Date.parse(policy.expiration) - Date.parse(post.expiresAt))).toBeLessThan(2_000);
  });

  it('refuses an empty prefix, a size beyond S3’s POST limit and an expiry out of range', async () => {
    const presigner = new S3Presigner(local);
    const scope = { bucket: 'out', keyPrefix: 'p/', maxBytes: 1, expiresInSeconds: 60 };
    await expect(presigner.presignPost({ ...scope, keyPrefix: '' })).rejects.toThrow(
      /anywhere in the bucket/,
    );
    await expect(presigner.presignPost({ ...scope, maxBytes: S3_POST_MAX_BYTES + 1 })).rejects.toThrow(
      /POST limit/,
    );
    await expect(presigner.presignPost({ ...scope, expiresInSeconds: 0 })).rejects.toThrow(/expire/);
    await expect(
      presigner.presignGet({ bucket: 'in', key: 'k' }, PRESIGN_MAX_EXPIRY_SECONDS + 1),
    ).rejects.toThrow(/expire/);
  });
});

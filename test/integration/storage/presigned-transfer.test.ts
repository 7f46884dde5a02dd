// The worker's side of presigned transfers against a stand-in S3 on a loopback port, for what a
// real server will not do on demand: fail transiently (503, a reset connection) so withRetries
// retries, refuse once without a retry, and take a large upload while the worker's memory is watched.
import { once } from 'node:events';
import { mkdtemp, readFile, rm, truncate, writeFile } from 'node:fs/promises';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { AwsRequestError, isTransientAwsError, withRetries } from '@sluice/core/aws';
import {
  downloadPresigned,
  PresignedRequestRefusedError,
  PresignedScopeError,
  uploadPresignedPost,
  type PresignedGet,
  type PresignedPost,
  type PresignedUploadResult,
} from '@sluice/core';

const MiB = 1024 * 1024;
const SECRET = 'X-Amz-Signature=0123456789abcdef&X-Amz-Credential=AKIDEXAMPLE';

type Handler = (request: IncomingMessage, response: ServerResponse) => void;

describe('presigned transfers against a stand-in S3', () => {
  let server: Server;
  let base: string;
  let work: string;
  let handler: Handler = (_request, response) => {
    response.end();
  };
  const fast = { baseDelayMs: 1, maxDelayMs: 1 };

  const get = (path: string): PresignedGet => ({
    url: `${base}/bucket/${path}?${SECRET}`,
    expiresAt: new Date(Date.now() + 60_000).toISOString(),
    bucket: 'bucket',
    key: path,
  });
  const post = (maxBytes: number): PresignedPost => ({
    url: `${base}/bucket`,
    fields: { bucket: 'bucket', Policy: 'eyJzZWNyZXQiOnRydWV9', 'X-Amz-Signature': 'feedface' },
    keyPrefix: 'staging/a/',
    maxBytes,
    expiresAt: new Date(Date.now() + 60_000).toISOString(),
  });
  const s3Error = (response: ServerResponse, status: number, code: string): void => {
    response.writeHead(status, { 'content-type': 'application/xml' });
    response.end(`<?xml version="1.0"?><Error><Code>${code}</Code><Message>no (${SECRET})</Message></Error>`);
  };

  beforeAll(async () => {
    server = createServer((request, response) => {
      handler(request, response);
    });
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    work = await mkdtemp(join(tmpdir(), 'sluice-presigned-standin-'));
  });
  afterAll(async () => {
    server.close();
    await rm(work, { recursive: true, force: true });
  });

  it('retries a GET through 503 SlowDown and a reset connection, then downloads', async () => {
    let calls = 0;
    handler = (request, response) => {
      calls += 1;
      if (calls === 1) {
        s3Error(response, 503, 'SlowDown');
        return;
      }
      // Headers promise 10 bytes, then the connection drops: a short body is a transient fault.
      if (calls === 2) {
        response.writeHead(200, { 'content-length': '10' });
        response.write('abc');
        setTimeout(() => request.socket.destroy(), 20);
        return;
      }
      response.writeHead(200, { etag: '"e1"', 'content-length': '10' });
      response.end('0123456789');
    };
    const errors: unknown[] = [];
    const got = await withRetries(
      () =>
        downloadPresigned(get('in/a.txt'), join(work, 'a.txt')).catch((e: unknown) => {
          errors.push(e);
          throw e;
        }),
      fast,
    );
    expect(got).toEqual({ size: 10, etag: 'e1' });
    expect(await readFile(join(work, 'a.txt'), 'utf8')).toBe('0123456789');
    expect(errors).toHaveLength(2);
    for (const error of errors) {
      expect(error).toBeInstanceOf(AwsRequestError);
      expect(isTransientAwsError(error)).toBe(true);
      expect(String(error)).not.toMatch(/X-Amz-Signature|X-Amz-Credential/);
    }
  });

  it('classifies a refused connection as transient', async () => {
    // A port that was free a moment ago (not port 9: fetch refuses "bad ports" before connecting).
    const probe = createServer().listen(0, '127.0.0.1');
    await once(probe, 'listening');
    const port = (probe.address() as AddressInfo).port;
    await new Promise((resolve) => probe.close(resolve));
    const dead: PresignedGet = {
      ...get('in/a.txt'),
      url: `http://127.0.0.1:${port}/bucket/in/a.txt?${SECRET}`,
    };
    const error = await downloadPresigned(dead, join(work, 'dead.txt')).catch((e: unknown) => e);
    expect(error).toMatchObject({ name: 'AwsRequestError', code: 'ECONNREFUSED', retryable: true });
    expect(String(error)).not.toMatch(/X-Amz-Signature|X-Amz-Credential/);
  });

  it('does not retry a 403, and names the request, the status and the code, not the secret', async () => {
    let calls = 0;
    handler = (_request, response) => {
      calls += 1;
      s3Error(response, 403, 'AccessDenied');
    };
    const error = await withRetries(
      () => downloadPresigned(get('in/b.txt'), join(work, 'b.txt')),
      fast,
    ).catch((e: unknown) => e);
    expect(calls).toBe(1);
    expect(error).toBeInstanceOf(PresignedRequestRefusedError);
    expect(String(error)).toContain(`presigned GET of ${base}/bucket/in/b.txt: HTTP 403 AccessDenied`);
    expect(String(error)).not.toMatch(/X-Amz-Signature=0|X-Amz-Credential=A|AKIDEXAMPLE/);
  });

  it('refuses, before sending anything, a key outside the prefix and a file above the limit', async () => {
    let calls = 0;
    handler = (_request, response) => {
      calls += 1;
      response.end();
    };
    await writeFile(join(work, 'five'), '12345');
    await expect(uploadPresignedPost(post(100), 'staging/b/x', join(work, 'five'))).rejects.toMatchObject({
      name: 'PresignedScopeError',
      reason: 'key-outside-prefix',
    });
    await expect(uploadPresignedPost(post(4), 'staging/a/x', join(work, 'five'))).rejects.toBeInstanceOf(
      PresignedScopeError,
    );
    expect(calls).toBe(0);
  });

  it('streams a 256 MiB upload from disk: the worker’s memory grows far less than the file', async () => {
    const size = 256 * MiB;
    let received = 0;
    let fields = '';
    handler = (request, response) => {
      request.on('data', (chunk: Buffer) => {
        received += chunk.length;
        if (fields.length < 4096) fields += chunk.subarray(0, 4096).toString('latin1');
      });
      request.on('end', () => {
        response.writeHead(204, { etag: '"big"' });
        response.end();
      });
    };
    const file = join(work, 'big.bin');
    await writeFile(file, '');
    await truncate(file, size);
    global.gc?.();
    const before = process.memoryUsage().rss;
    let peak = before;
    const sampler = setInterval(() => {
      peak = Math.max(peak, process.memoryUsage().rss);
    }, 10);
    try {
      const result = await uploadPresignedPost(post(size), 'staging/a/big.bin', file);
      const expected: PresignedUploadResult = { key: 'staging/a/big.bin', size, etag: 'big' };
      expect(result).toEqual(expected);
    } finally {
      clearInterval(sampler);
    }
    expect(received).toBeGreaterThan(size);
    expect(fields).toContain('name="key"\r\n\r\nstaging/a/big.bin');
    // Buffering the file would add 256 MiB (twice that as a string); streaming adds a few chunks.
    expect((peak - before) / MiB).toBeLessThan(64);
  }, 60_000);

  it('streams a 256 MiB download to disk: the worker’s memory grows far less than the file', async () => {
    const size = 256 * MiB;
    const chunk = Buffer.alloc(MiB, 7);
    handler = (_request, response) => {
      response.writeHead(200, { 'content-length': String(size), etag: '"big"' });
      let sent = 0;
      const more = (): void => {
        while (sent < size) {
          sent += chunk.length;
          if (!response.write(chunk)) {
            response.once('drain', more);
            return;
          }
        }
        response.end();
      };
      more();
    };
    const before = process.memoryUsage().rss;
    let peak = before;
    const sampler = setInterval(() => {
      peak = Math.max(peak, process.memoryUsage().rss);
    }, 10);
    try {
      const got = await downloadPresigned(get('in/big.bin'), join(work, 'big-in.bin'));
      expect(got).toEqual({ size, etag: 'big' });
    } finally {
      clearInterval(sampler);
    }
    expect((peak - before) / MiB).toBeLessThan(64);
  }, 60_000);
});

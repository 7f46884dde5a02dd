// What the runner benchmarks share: the test bed's clients, a queue of 1 KB tasks, the runner's
// configuration for it, and percentiles. Not a benchmark itself.
import { randomBytes } from 'node:crypto';

import { CreateBucketCommand, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { CreateQueueCommand, SQSClient, SendMessageBatchCommand } from '@aws-sdk/client-sqs';

/** The test bed's region and its dummy credentials. */
export const TESTBED_REGION = process.env.AWS_REGION ?? 'us-east-1';
export const TESTBED_CREDENTIALS = { accessKeyId: 'testing', secretAccessKey: 'testing' };

/** S3 and SQS clients for the test bed's moto (AWS_ENDPOINT_URL); exits 2 when it is not set. */
export function testbedClients() {
  const endpoint = process.env.AWS_ENDPOINT_URL;
  if (!endpoint) {
    console.error('AWS_ENDPOINT_URL is not set: run `eval "$(bash scripts/testbed.sh env)"` first');
    process.exit(2);
  }
  const region = TESTBED_REGION;
  const credentials = TESTBED_CREDENTIALS;
  return {
    s3: new S3Client({ endpoint, region, credentials, forcePathStyle: true }),
    sqs: new SQSClient({ endpoint, region, credentials }),
  };
}

/** Median and 95th percentile of a list of numbers. */
export function stats(values) {
  const sorted = [...values].sort((a, b) => a - b);
  const at = (q) => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))];
  return { n: sorted.length, median: at(0.5), p95: at(0.95) };
}

/**
 * A bucket of `tasks` 1 KB inputs under `in/`, a task queue holding one message per input and a
 * dead-letter queue, all named `name`; resolves to the runner's SLUICE_RUN configuration for them.
 */
export async function queuedTasks({ s3, sqs }, name, runId, tasks) {
  const bucket = name;
  await s3.send(new CreateBucketCommand({ Bucket: bucket }));
  const queueUrl = (await sqs.send(new CreateQueueCommand({ QueueName: name }))).QueueUrl;
  const dlqUrl = (await sqs.send(new CreateQueueCommand({ QueueName: `${name}-dlq` }))).QueueUrl;
  const body = randomBytes(1024);
  const messages = [];
  for (let i = 0; i < tasks; i += 1) {
    const key = `in/file-${i}.bin`;
    const put = await s3.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: body }));
    messages.push(
      JSON.stringify({ sluice: 1, runId, bucket, key, etag: put.ETag.replaceAll('"', ''), size: 1024 }),
    );
  }
  for (let i = 0; i < messages.length; i += 10) {
    await sqs.send(
      new SendMessageBatchCommand({
        QueueUrl: queueUrl,
        Entries: messages.slice(i, i + 10).map((MessageBody, j) => ({ Id: String(j), MessageBody })),
      }),
    );
  }
  return {
    runId,
    queueUrl,
    deadLetterQueueUrl: dlqUrl,
    input: { bucket, prefix: 'in/', include: ['**'] },
    output: { bucket, prefix: 'out/' },
    maxAttempts: 1,
    idleSeconds: 2,
    env: {},
    secretEnv: [],
  };
}

/**
 * The S3 or SQS operation a request to the test bed's endpoint is, by what its client sends: SQS by
 * `X-Amz-Target` (JSON protocol) or the `Action` form field (query protocol), anything else signed
 * for another service by the credential scope's service, the rest S3 by method, path and query (a
 * copy by `x-amz-copy-source`, a browser-form upload by a multipart POST to the bucket).
 */
function classifyRequest(method, url, headers, body) {
  const target = headers['x-amz-target'];
  const scope = /Credential=[^/]+\/\d{8}\/[^/]+\/([^/]+)\//.exec(
    `${headers.authorization ?? ''} ${decodeURIComponent(url.search)}`,
  );
  const service = scope?.[1] ?? (target ? target.split('.')[0] : 's3');
  if (target) return `sqs ${target.split('.').pop()}`;
  const type = String(headers['content-type'] ?? '');
  if (type.startsWith('application/x-www-form-urlencoded') && service !== 's3') {
    const action = new URLSearchParams(body.toString('utf8')).get('Action') ?? '?';
    return `${service === 'AmazonSQS' ? 'sqs' : service} ${action}`;
  }
  if (service !== 's3') return `${service} ${method}`;
  const segments = url.pathname.split('/').filter((s) => s !== '');
  const onBucket = segments.length <= 1;
  const sub = [...url.searchParams.keys()].filter((k) => !/^(x-amz-|x-id$)/i.test(k));
  const conditional = headers['if-none-match'] || headers['if-match'] ? ' (conditional)' : '';
  if (segments.length === 0) return `s3 ${method} /`;
  if (method === 'POST' && url.searchParams.has('delete')) return 's3 DeleteObjects';
  if (method === 'POST' && type.startsWith('multipart/form-data')) return 's3 PostObject (presigned form)';
  if (method === 'PUT' && headers['x-amz-copy-source']) return `s3 CopyObject${conditional}`;
  if (onBucket) {
    if (
      method === 'GET' &&
      (url.searchParams.has('list-type') || sub.length === 0 || url.searchParams.has('prefix'))
    )
      return 's3 ListObjects';
    if (method === 'GET' && url.searchParams.has('versions')) return 's3 ListObjectVersions';
    const name = { GET: 'GetBucket', PUT: 'PutBucket', HEAD: 'HeadBucket', DELETE: 'DeleteBucket' }[method];
    return `s3 ${name ?? method}${sub.length > 0 && method !== 'HEAD' ? ` ?${sub.join('&')}` : ''}`;
  }
  if (url.searchParams.has('uploads') || url.searchParams.has('uploadId')) return `s3 Multipart ${method}`;
  const presigned = url.searchParams.has('X-Amz-Signature') ? ' (presigned)' : '';
  const name = { GET: 'GetObject', PUT: 'PutObject', HEAD: 'HeadObject', DELETE: 'DeleteObject' }[method];
  return `s3 ${name ?? method}${sub.length > 0 ? ` ?${sub.join('&')}` : ''}${conditional}${presigned}`;
}

/**
 * A counting HTTP proxy on 127.0.0.1 in front of `target` (the test bed's moto): every request is
 * forwarded as is (Host header included, so signatures still match) and counted under the current
 * `phase`, its operation ({@link classifyRequest}) and where it came from (`container` when its Host
 * is the engine's alias for the host's loopback, 10.0.2.2 or host.*.internal; else `host`).
 * `counts` maps `phase\torigin\toperation` to `{n, ms}` (ms: summed time to the answer's end).
 */
export async function countingProxy(target) {
  const http = await import('node:http');
  const upstream = new URL(target);
  const agent = new http.Agent({ keepAlive: true, maxSockets: 64 });
  const proxy = { phase: 'start', counts: new Map(), url: '', close: () => {} };
  const server = http.createServer((req, res) => {
    const chunks = [];
    req.on('data', (chunk) => chunks.push(chunk));
    req.on('end', () => {
      const body = Buffer.concat(chunks);
      const url = new URL(req.url, 'http://proxy');
      const host = String(req.headers.host ?? '');
      const origin = /^(10\.0\.2\.2|host\.[a-z]+\.internal)(:|$)/.test(host) ? 'container' : 'host';
      const key = `${proxy.phase}\t${origin}\t${classifyRequest(req.method, url, req.headers, body)}`;
      proxy.trace?.(`${key}\t${req.method} ${url.pathname}`);
      const started = performance.now();
      const forward = http.request(
        {
          host: upstream.hostname,
          port: upstream.port,
          method: req.method,
          path: req.url,
          headers: req.headers,
          agent,
        },
        (answer) => {
          res.writeHead(answer.statusCode, answer.statusMessage, answer.rawHeaders);
          answer.pipe(res);
          answer.on('end', () => {
            const entry = proxy.counts.get(key) ?? { n: 0, ms: 0 };
            entry.n += 1;
            entry.ms += performance.now() - started;
            proxy.counts.set(key, entry);
          });
        },
      );
      forward.on('error', (error) => {
        res.writeHead(502);
        res.end(String(error.message));
      });
      forward.end(body);
    });
  });
  server.keepAliveTimeout = 30_000;
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  proxy.url = `http://127.0.0.1:${server.address().port}`;
  proxy.close = () =>
    new Promise((resolve) => {
      server.closeAllConnections?.();
      server.close(resolve);
      agent.destroy();
    });
  return proxy;
}

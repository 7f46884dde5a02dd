// What the benchmarks share: the test bed's clients and a check that it is there, the sluice CLI as
// a child process, a wrapped busybox algorithm, seeding and emptying buckets, the run's task records,
// a queue of 1 KB tasks with the runner's configuration for it, percentiles, a counting proxy and its
// tables. Not a benchmark itself.
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { copyFile, mkdir, readFile, writeFile } from 'node:fs/promises';
import { cpus } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

import {
  CreateBucketCommand,
  DeleteBucketCommand,
  DeleteObjectsCommand,
  GetObjectCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  S3Client,
} from '@aws-sdk/client-s3';
import { CreateQueueCommand, SQSClient, SendMessageBatchCommand } from '@aws-sdk/client-sqs';

/** The repository's root (the benchmarks run its committed bundles). */
export const ROOT = fileURLToPath(new URL('..', import.meta.url));

/** The test bed's region and its dummy credentials. */
export const TESTBED_REGION = process.env.AWS_REGION ?? 'us-east-1';
export const TESTBED_CREDENTIALS = { accessKeyId: 'testing', secretAccessKey: 'testing' };

/** The machine's cores (the ideal of a CPU-bound run is cores × wall). */
export const CORES = cpus().length;

/**
 * Exits 2, loudly, unless every variable the test bed exports is set (a benchmark never skips):
 * AWS_ENDPOINT_URL always, plus `more` (CONTAINERS_CONF for podman, SLUICE_TEST_REGISTRY, ...).
 */
export function requireTestbed(...more) {
  const missing = ['AWS_ENDPOINT_URL', ...more].filter((name) => !process.env[name]);
  if (missing.length > 0) {
    console.error(
      `bench: ${missing.join(', ')} not set: start the test bed first ` +
        '(bash scripts/testbed.sh start && eval "$(bash scripts/testbed.sh env)")',
    );
    process.exit(2);
  }
}

/** S3 and SQS clients for `endpoint` (default the test bed's moto, AWS_ENDPOINT_URL; exits 2 when it is not set). */
export function testbedClients(endpoint = process.env.AWS_ENDPOINT_URL) {
  if (!endpoint) requireTestbed();
  const region = TESTBED_REGION;
  const credentials = TESTBED_CREDENTIALS;
  return {
    s3: new S3Client({ endpoint, region, credentials, forcePathStyle: true }),
    sqs: new SQSClient({ endpoint, region, credentials }),
    destroy() {
      this.s3.destroy();
      this.sqs.destroy();
    },
  };
}

/** A short random id for the names a benchmark creates. */
export const benchId = () => randomBytes(4).toString('hex');

/** `console.log` with the benchmark's prefix. */
export const say = (text) => console.log(`bench: ${text}`);

/**
 * Runs a command to its end; rejects with its stderr's tail unless it exits 0. `onLine` sees each
 * stderr line as it comes (sluice's progress). `onSpawn` gets the child (to signal it).
 */
export function run(command, args, options = {}) {
  const { onLine, onSpawn, signalOk, ...spawnOptions } = options;
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { stdio: ['ignore', 'pipe', 'pipe'], ...spawnOptions });
    onSpawn?.(child);
    let stdout = '';
    let stderr = '';
    let pending = '';
    child.stdout.on('data', (chunk) => (stdout += chunk));
    child.stderr.on('data', (chunk) => {
      stderr += chunk;
      pending += chunk;
      const lines = pending.split(/\r?\n/);
      pending = lines.pop();
      for (const line of lines) onLine?.(line);
    });
    child.once('error', reject);
    child.once('close', (code, signal) =>
      code === 0 || (signal !== null && signalOk === true)
        ? resolve({ stdout, stderr })
        : reject(
            new Error(
              `${command} ${args.slice(0, 3).join(' ')} exited ${code ?? signal}: ${stderr.slice(-3000)}`,
            ),
          ),
    );
  });
}

/** The sluice CLI's command line (SLUICE_CLI, else the committed bundle), as [command, ...args]. */
function sluiceCommand() {
  return (process.env.SLUICE_CLI ?? `${process.execPath} ${join(ROOT, 'packages/cli/dist/index.js')}`).split(
    ' ',
  );
}

/** Runs `sluice ...args` (see {@link run}); env is added to the process's. */
export function sluice(args, { env = {}, ...options } = {}) {
  const [command, ...pre] = sluiceCommand();
  return run(command, [...pre, ...args], {
    env: { ...process.env, NODE_NO_WARNINGS: '1', ...env },
    ...options,
  });
}

/**
 * A FROM-scratch busybox algorithm whose `script` (sh, `$1` the input file, `$2` the output
 * directory) is its command, wrapped with `sluice wrap` under `name`@1.0 in `work`. Resolves to a
 * function removing both images.
 */
export async function wrappedBusyboxAlgorithm(work, name, script) {
  const image = join(work, 'algorithm', 'image');
  await mkdir(image, { recursive: true });
  await copyFile('/bin/busybox', join(image, 'busybox'));
  await writeFile(join(image, 'run.sh'), `#!/bin/sh\n${script}\n`, { mode: 0o755 });
  await writeFile(
    join(image, 'Containerfile'),
    'FROM scratch\nCOPY busybox /bin/busybox\nRUN ["/bin/busybox", "--install", "-s", "/bin"]\nCOPY run.sh /app/run.sh\n',
  );
  const manifest = join(work, 'algorithm', 'algorithm.json');
  await writeFile(
    manifest,
    JSON.stringify({
      name,
      version: '1.0',
      build: { context: 'image', dockerfile: 'Containerfile' },
      command: ['/app/run.sh', '{input}', '{output}'],
      input: '/data/in/',
      output: '/data/out/',
      memory: 64,
      timeoutSeconds: 600,
    }),
  );
  await sluice(['wrap', manifest]);
  return () =>
    run('podman', [
      'rmi',
      '-f',
      `localhost/sluice/${name}:1.0`,
      `localhost/sluice/${name}-algorithm:1.0`,
    ]).catch(() => {});
}

/**
 * Watches the peak resident set of process `pid` (VmHWM in /proc, read every 100 ms: the kernel keeps
 * the peak, so the last read before the process ends misses at most its last 100 ms). Children are
 * not counted. `stop()` resolves to the peak in MB.
 */
export function watchPeakRss(pid) {
  let peakKb = 0;
  const read = () =>
    readFile(`/proc/${pid}/status`, 'utf8').then(
      (status) => (peakKb = Math.max(peakKb, Number(/VmHWM:\s+(\d+)/.exec(status)?.[1] ?? 0))),
      () => {},
    );
  const timer = setInterval(read, 100);
  return {
    stop: () => {
      clearInterval(timer);
      return peakKb / 1024;
    },
  };
}

/** A local-backend job.json in `work` (fields merged over a direct-mode default), resolving to its path. */
export async function writeJob(work, fields) {
  const path = join(work, `job-${fields.name}.json`);
  await writeFile(
    path,
    JSON.stringify({
      algorithm: `${fields.name}@1.0`,
      mode: 'direct',
      aws: { credentials: 'environment' },
      retries: 0,
      ...fields,
      compute: { backend: 'local', maxWorkers: 2, idleSeconds: 30, ...fields.compute },
    }),
  );
  return path;
}

/** Runs `fn` over `items`, `concurrency` at a time; resolves to the results in order. */
export async function mapConcurrent(items, concurrency, fn) {
  const results = new Array(items.length);
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const i = next++;
      results[i] = await fn(items[i], i);
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, items.length) }, worker));
  return results;
}

/** Creates `bucket` (if missing) and puts `count` 1 KiB objects under `prefix`, 32 at a time. */
export async function seedObjects(s3, bucket, prefix, count, onProgress) {
  await s3.send(new CreateBucketCommand({ Bucket: bucket })).catch((error) => {
    if (error.name !== 'BucketAlreadyOwnedByYou') throw error;
  });
  const body = randomBytes(1024);
  const keys = Array.from({ length: count }, (_, i) => `${prefix}file-${String(i).padStart(6, '0')}.bin`);
  await mapConcurrent(keys, 32, async (Key, i) => {
    await s3.send(new PutObjectCommand({ Bucket: bucket, Key, Body: body }));
    if ((i + 1) % 1000 === 0) onProgress?.(i + 1);
  });
  return keys;
}

/** Every key under `prefix` of `bucket`. */
async function listKeys(s3, bucket, prefix = '') {
  const keys = [];
  let token;
  do {
    const page = await s3.send(
      new ListObjectsV2Command({ Bucket: bucket, Prefix: prefix, ContinuationToken: token }),
    );
    keys.push(...(page.Contents ?? []).map((o) => o.Key));
    token = page.NextContinuationToken;
  } while (token);
  return keys;
}

/** Deletes every object of `bucket`, then the bucket; a missing bucket is fine, other errors are printed. */
export async function emptyAndDelete(s3, bucket) {
  try {
    for (;;) {
      const page = await s3.send(new ListObjectsV2Command({ Bucket: bucket, MaxKeys: 1000 }));
      const keys = (page.Contents ?? []).map(({ Key }) => ({ Key }));
      if (keys.length === 0) break;
      await s3.send(new DeleteObjectsCommand({ Bucket: bucket, Delete: { Objects: keys, Quiet: true } }));
    }
    await s3.send(new DeleteBucketCommand({ Bucket: bucket }));
  } catch (error) {
    if (error.name !== 'NoSuchBucket') console.error(`bench: cleanup of ${bucket}: ${error.message}`);
  }
}

/**
 * The run's tasks as they stand: each record (_sluice/<run-id>/tasks/) merged with its completion
 * marker (done/), as core's completedRecord does — a task with a marker succeeded, with the marker's
 * outputs and attempts (the record is not rewritten after the marker).
 */
export async function taskRecords(s3, bucket, runId) {
  const keys = await listKeys(s3, bucket, `_sluice/${runId}/tasks/`);
  const read = async (Key) => {
    try {
      const got = await s3.send(new GetObjectCommand({ Bucket: bucket, Key }));
      return JSON.parse(await got.Body.transformToString());
    } catch (error) {
      if (error.name === 'NoSuchKey') return undefined;
      throw error;
    }
  };
  return mapConcurrent(keys, 16, async (Key) => {
    const [record, marker] = await Promise.all([read(Key), read(Key.replace('/tasks/', '/done/'))]);
    if (marker === undefined) return record;
    const same = (a, b) =>
      a.attempt === b.attempt && a.workerId === b.workerId && a.startedAt === b.startedAt;
    const fromMarker = marker.attempts ?? [];
    const attempts = [...record.attempts.filter((a) => !fromMarker.some((m) => same(a, m))), ...fromMarker];
    return { ...record, status: 'succeeded', outputs: marker.outputs, attempts };
  });
}

/** Every attempt of `records`, with its input key; and the span from the first start to the last end. */
export function attemptSpan(records) {
  const attempts = records.flatMap((record) =>
    (record.attempts ?? []).map((attempt) => ({ ...attempt, key: record.input.key })),
  );
  const starts = attempts.map((a) => Date.parse(a.startedAt));
  const ends = attempts.filter((a) => a.endedAt).map((a) => Date.parse(a.endedAt));
  return { attempts, ms: Math.max(...ends) - Math.min(...starts) };
}

/** Median, 90th and 95th percentile of a list of numbers. */
export function stats(values) {
  const sorted = [...values].sort((a, b) => a - b);
  const at = (q) => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))];
  return { n: sorted.length, median: at(0.5), p90: at(0.9), p95: at(0.95) };
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
 * `counts` maps `phase\torigin\toperation` to `{n, ms, first, last}` (ms: summed time to the answer's
 * end; first: when the first was sent, last: when the last was answered, by `performance.now()`).
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
            const now = performance.now();
            const entry = proxy.counts.get(key) ?? { n: 0, ms: 0, first: started, last: now };
            entry.n += 1;
            entry.ms += now - started;
            entry.last = now;
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

/**
 * A proxy's counts summed by operation over the phases `phase` accepts (every phase when omitted):
 * `{ total, ops }`, ops a Map of operation to `{ n, ms }`, most frequent first.
 */
export function tally(counts, phase = () => true) {
  const ops = new Map();
  let total = 0;
  for (const [key, { n, ms }] of counts) {
    const [p, , op] = key.split('\t');
    if (!phase(p)) continue;
    total += n;
    const entry = ops.get(op) ?? { n: 0, ms: 0 };
    entry.n += n;
    entry.ms += ms;
    ops.set(op, entry);
  }
  return { total, ops: new Map([...ops].sort((a, b) => b[1].n - a[1].n)) };
}

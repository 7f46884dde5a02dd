// Benchmark (not a test): the same N-file run in both modes — `"mode": "direct"` (runner containers
// hold the run's S3/SQS access) and `"mode": "sealed"` (the default: runners hold only the address
// and token of the broker inside `sluice run`, which leases tasks and hands out presigned GET/POST).
// Each mode is bench/local-run.sh's sluice half: `sluice run --upload` of N 1 KiB files with the
// local backend and 2 runner containers of a wrapped FROM-scratch busybox algorithm.
//
// Every AWS request of the run — the CLI's, the broker's, the runners' and the presigned transfers —
// goes through a counting HTTP proxy on 127.0.0.1 in front of the test bed's moto (AWS_ENDPOINT_URL
// points at the proxy; runner containers reach it as the engine's alias for the host's loopback).
// Requests are counted per phase of `sluice run`, told apart by its progress lines on stderr:
//   setup    provision (buckets, queues, notifications) and the upload of the inputs by the CLI
//   run      end marker, dispatch, the runners' (or the broker's) work and collect's polling
//   teardown removing the run's queues and notification
// "requests per task" counts the run phase only. Processing time is from the first attempt's
// start to the last attempt's end in the task records (_sluice/<run-id>/tasks/).
//
//   bash scripts/testbed.sh start && eval "$(bash scripts/testbed.sh env)"
//   node bench/modes.mjs [files=500] [modes=direct,sealed]
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { appendFileSync } from 'node:fs';
import { copyFile, mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
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

import { TESTBED_CREDENTIALS, TESTBED_REGION, countingProxy, testbedClients } from './lib.mjs';

const root = fileURLToPath(new URL('..', import.meta.url));
const files = Number(process.argv[2] ?? 500);
const modes = (process.argv[3] ?? 'direct,sealed').split(',');
const WORKERS = 2;
const cli = (process.env.SLUICE_CLI ?? `node ${join(root, 'packages/cli/dist/index.js')}`).split(' ');
const moto = process.env.AWS_ENDPOINT_URL;
if (!moto || !process.env.CONTAINERS_CONF) {
  console.error(
    'AWS_ENDPOINT_URL or CONTAINERS_CONF is not set: run `eval "$(bash scripts/testbed.sh env)"` first',
  );
  process.exit(2);
}
const clients = testbedClients(); // straight to moto: setup and reading records are not counted
const id = randomBytes(4).toString('hex');
const name = `bench-modes-${id}`;
const work = await mkdtemp(join(tmpdir(), 'sluice-bench-modes-'));
const log = (text) => console.log(`bench: ${text}`);

function run(command, args, options = {}) {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { stdio: ['ignore', 'pipe', 'pipe'], ...options });
    let stdout = '';
    let stderr = '';
    let pending = '';
    child.stdout.on('data', (chunk) => (stdout += chunk));
    child.stderr.on('data', (chunk) => {
      stderr += chunk;
      pending += chunk;
      const lines = pending.split(/\r?\n/);
      pending = lines.pop();
      for (const line of lines) options.onLine?.(line);
    });
    child.once('error', reject);
    child.once('close', (code) =>
      code === 0
        ? resolve({ stdout, stderr })
        : reject(new Error(`${command} exited ${code}: ${stderr.slice(-3000)}`)),
    );
  });
}

async function emptyAndDelete(bucket) {
  const { s3 } = clients;
  try {
    for (;;) {
      const page = await s3.send(new ListObjectsV2Command({ Bucket: bucket, MaxKeys: 1000 }));
      const keys = (page.Contents ?? []).map(({ Key }) => ({ Key }));
      if (keys.length === 0) break;
      await s3.send(new DeleteObjectsCommand({ Bucket: bucket, Delete: { Objects: keys, Quiet: true } }));
    }
    await s3.send(new DeleteBucketCommand({ Bucket: bucket }));
  } catch (error) {
    if (error.name !== 'NoSuchBucket') console.error(`cleanup of ${bucket}: ${error.message}`);
  }
}

/** First attempt start to last attempt end, from the run's task records. */
async function processingSpan(bucket, runId) {
  const { s3 } = clients;
  const prefix = `_sluice/${runId}/tasks/`;
  const keys = [];
  let token;
  do {
    const page = await s3.send(
      new ListObjectsV2Command({ Bucket: bucket, Prefix: prefix, ContinuationToken: token }),
    );
    keys.push(...(page.Contents ?? []).map((o) => o.Key));
    token = page.NextContinuationToken;
  } while (token);
  let first = Infinity;
  let last = -Infinity;
  let attempts = 0;
  for (let i = 0; i < keys.length; i += 16) {
    const records = await Promise.all(
      keys.slice(i, i + 16).map(async (Key) => {
        const got = await s3.send(new GetObjectCommand({ Bucket: bucket, Key }));
        return JSON.parse(await got.Body.transformToString());
      }),
    );
    for (const record of records) {
      for (const attempt of record.attempts ?? []) {
        attempts += 1;
        first = Math.min(first, Date.parse(attempt.startedAt));
        if (attempt.endedAt) last = Math.max(last, Date.parse(attempt.endedAt));
      }
    }
  }
  return { records: keys.length, attempts, ms: last - first };
}

async function runMode(mode, proxy) {
  const bucketIn = `sluice-bench-${mode}-in-${id}`;
  const bucketOut = `sluice-bench-${mode}-out-${id}`;
  const jobPath = join(work, `job-${mode}.json`);
  await writeFile(
    jobPath,
    JSON.stringify({
      name: `${name}-${mode}`,
      algorithm: `${name}@1.0`,
      mode,
      input: { bucket: bucketIn, prefix: 'sluice/', create: true },
      output: { bucket: bucketOut, prefix: 'sluice/' },
      aws: { credentials: 'environment' },
      compute: { backend: 'local', maxWorkers: WORKERS, idleSeconds: 30 },
      retries: 0,
    }),
  );
  let runId;
  const marks = {};
  proxy.phase = `${mode}:setup`;
  const started = performance.now();
  const onLine = (line) => {
    const at = performance.now() - started;
    const provisioned = /^run (\S+): provisioned/.exec(line);
    if (provisioned) runId = provisioned[1];
    if (/^uploaded \d+ file/.test(line)) {
      proxy.phase = `${mode}:run`;
      marks.uploaded = at;
    }
    if (/^dispatched:/.test(line)) marks.dispatched = at;
    // collect's last progress line, then teardown; "torn down" ends it.
    if (/^collected|^done|succeeded, \d+ failed/.test(line) && marks.collected === undefined) {
      proxy.phase = `${mode}:teardown`;
      marks.collected = at;
    }
    if (/^torn down/.test(line)) marks.tornDown = at;
    if (process.env.BENCH_VERBOSE) console.error(`  [${mode} ${(at / 1000).toFixed(1)} s] ${line}`);
  };
  const { stdout } = await run(cli[0], [...cli.slice(1), 'run', jobPath, '--upload', join(work, 'inputs')], {
    env: {
      ...process.env,
      AWS_ENDPOINT_URL: proxy.url,
      SLUICE_STATE_DIR: join(work, 'state'),
      NODE_NO_WARNINGS: '1',
    },
    onLine,
  });
  const wallMs = performance.now() - started;
  proxy.phase = 'after';
  if (!stdout.includes(`${files} succeeded, 0 failed of ${files} inputs`)) {
    throw new Error(`sluice run (${mode}) did not process every file:\n${stdout}`);
  }
  const span = await processingSpan(bucketOut, runId);
  await emptyAndDelete(bucketIn);
  await emptyAndDelete(bucketOut);
  return { mode, runId, wallMs, marks, span };
}

/** Requests of `phase` (a prefix of the counts' keys), by operation, summed over origins when `byOrigin` is false. */
function tally(counts, phase, byOrigin = false) {
  const ops = new Map();
  let total = 0;
  for (const [key, { n, ms }] of counts) {
    const [p, origin, op] = key.split('\t');
    if (p !== phase) continue;
    total += n;
    const name = byOrigin ? `${origin}: ${op}` : op;
    const entry = ops.get(name) ?? { n: 0, ms: 0 };
    entry.n += n;
    entry.ms += ms;
    ops.set(name, entry);
  }
  return { total, ops: [...ops].sort((a, b) => b[1].n - a[1].n) };
}

/** moto's own pace through the proxy and without it: sequential 1 KiB GETs from one client. */
async function motoPace(proxy) {
  const bucket = `sluice-bench-pace-${id}`;
  await clients.s3.send(new CreateBucketCommand({ Bucket: bucket }));
  await clients.s3.send(new PutObjectCommand({ Bucket: bucket, Key: 'x', Body: randomBytes(1024) }));
  const viaProxy = new S3Client({
    endpoint: proxy.url,
    region: TESTBED_REGION,
    credentials: TESTBED_CREDENTIALS,
    forcePathStyle: true,
  });
  const pace = async (s3) => {
    const n = 200;
    const t = performance.now();
    for (let i = 0; i < n; i += 1) {
      const got = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: 'x' }));
      await got.Body.transformToByteArray();
    }
    return (performance.now() - t) / n;
  };
  proxy.phase = 'pace';
  await pace(clients.s3); // warm-up
  const direct = await pace(clients.s3);
  const proxied = await pace(viaProxy);
  viaProxy.destroy();
  await emptyAndDelete(bucket);
  return { direct, proxied };
}

const proxy = await countingProxy(moto);
if (process.env.BENCH_TRACE) {
  proxy.trace = (line) => appendFileSync(process.env.BENCH_TRACE, `${line}\n`);
}
const results = [];
try {
  // The algorithm (as bench/local-run.sh): busybox FROM scratch, copying its input with a header.
  const image = join(work, 'algorithm', 'image');
  await mkdir(image, { recursive: true });
  await mkdir(join(work, 'inputs'));
  await copyFile('/bin/busybox', join(image, 'busybox'));
  await writeFile(join(image, 'run.sh'), '#!/bin/sh\n{ echo processed; cat "$1"; } > "$2/result.txt"\n', {
    mode: 0o755,
  });
  await writeFile(
    join(image, 'Containerfile'),
    'FROM scratch\nCOPY busybox /bin/busybox\nRUN ["/bin/busybox", "--install", "-s", "/bin"]\nCOPY run.sh /app/run.sh\n',
  );
  await writeFile(
    join(work, 'algorithm', 'algorithm.json'),
    JSON.stringify({
      name,
      version: '1.0',
      build: { context: 'image', dockerfile: 'Containerfile' },
      command: ['/app/run.sh', '{input}', '{output}'],
      input: '/data/in/',
      output: '/data/out/',
      memory: 64,
      timeoutSeconds: 60,
    }),
  );
  await run(cli[0], [...cli.slice(1), 'wrap', join(work, 'algorithm', 'algorithm.json')]);
  for (let i = 0; i < files; i += 1) {
    await writeFile(join(work, 'inputs', `file-${String(i).padStart(4, '0')}.bin`), randomBytes(1024));
  }
  const pace = await motoPace(proxy);
  log(
    `${files} files of 1 KiB, ${WORKERS} runner containers, moto at ${moto} behind a counting proxy at ${proxy.url}; ` +
      `a sequential 1 KiB GetObject takes ${pace.direct.toFixed(1)} ms straight to moto, ${pace.proxied.toFixed(1)} ms through the proxy`,
  );
  for (const mode of modes) {
    log(`sluice run --upload, "mode": "${mode}"`);
    results.push(await runMode(mode, proxy));
  }
} finally {
  await proxy.close();
  await run('podman', ['rmi', '-f', `localhost/sluice/${name}:1.0`]).catch(() => {});
  await rm(work, { recursive: true, force: true });
}

// ── The report.
const s = (ms) => (ms / 1000).toFixed(1);
const perTask = (n) => (n / files).toFixed(2);
const rows = results.map((r) => {
  const runPhase = tally(proxy.counts, `${r.mode}:run`);
  const setup = tally(proxy.counts, `${r.mode}:setup`);
  const teardown = tally(proxy.counts, `${r.mode}:teardown`);
  return { ...r, runPhase, setup, teardown };
});
console.log();
console.log(
  `${files} files, ${WORKERS} runners`.padEnd(26) +
    ['wall s', 'tasks/s', 'proc s', 'proc t/s', 'setup req', 'run req', 'req/task', 'teardown']
      .map((h) => h.padStart(10))
      .join(''),
);
for (const r of rows) {
  console.log(
    r.mode.padEnd(26) +
      [
        s(r.wallMs),
        (files / (r.wallMs / 1000)).toFixed(1),
        s(r.span.ms),
        (files / (r.span.ms / 1000)).toFixed(1),
        r.setup.total,
        r.runPhase.total,
        perTask(r.runPhase.total),
        r.teardown.total,
      ]
        .map((v) => String(v).padStart(10))
        .join(''),
  );
}
console.log(
  '(wall: the whole `sluice run --upload`, provision to teardown; proc: first task start to last task end in the task\n' +
    " records; setup req: provision + the CLI's upload of the inputs; run req: from the end of the upload to the end of\n" +
    ' collect — marker, dispatch, runners, broker, presigned transfers, collect polling; req/task = run req / files)',
);
for (const r of rows) {
  console.log();
  console.log(
    `${r.mode}: run-phase requests per task by operation (origin: host = CLI/broker on 127.0.0.1, container = runners via 10.0.2.2); ms = time to moto's answer per task, ReceiveMessage's long polls included`,
  );
  for (const [op, { n, ms }] of tally(proxy.counts, `${r.mode}:run`, true).ops.slice(0, 14)) {
    console.log(`  ${perTask(n).padStart(7)}  ${(ms / files).toFixed(1).padStart(7)} ms  ${op}`);
  }
  console.log(`  setup: ${r.setup.ops.map(([op, { n }]) => `${op} ${n}`).join(', ')}`);
}
if (rows.length === 2) {
  const [a, b] = rows[0].mode === 'direct' ? rows : [rows[1], rows[0]];
  const ratio = (x, y) => (x / y).toFixed(2);
  console.log();
  console.log(
    `ratio sealed/direct: tasks/s (wall) ${ratio(a.wallMs, b.wallMs)}, tasks/s (processing) ${ratio(a.span.ms, b.span.ms)}, ` +
      `requests per task ${ratio(b.runPhase.total, a.runPhase.total)}`,
  );
}
clients.s3.destroy();
clients.sqs.destroy();

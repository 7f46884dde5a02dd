// Benchmark (not a test): the runner's overhead per task against a moto server — marker check,
// records, download, upload, commit, log upload and message delete, i.e. a task's total time in
// the runner minus the algorithm's own run time — for 1 KB files, for a process algorithm and a
// port algorithm. Runs the committed bundle (packages/runner/dist) as a real process.
//
//   bash scripts/testbed.sh start && eval "$(bash scripts/testbed.sh env)"
//   node bench/runner-overhead.mjs [tasks=200]
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

import { CreateBucketCommand, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { CreateQueueCommand, SQSClient, SendMessageBatchCommand } from '@aws-sdk/client-sqs';

const root = fileURLToPath(new URL('..', import.meta.url));
const tasks = Number(process.argv[2] ?? 200);
const endpoint = process.env.AWS_ENDPOINT_URL;
if (!endpoint) {
  console.error('AWS_ENDPOINT_URL is not set: run `eval "$(bash scripts/testbed.sh env)"` first');
  process.exit(2);
}
const region = process.env.AWS_REGION ?? 'us-east-1';
const credentials = { accessKeyId: 'testing', secretAccessKey: 'testing' };
const s3 = new S3Client({ endpoint, region, credentials, forcePathStyle: true });
const sqs = new SQSClient({ endpoint, region, credentials });

function stats(values) {
  const sorted = [...values].sort((a, b) => a - b);
  const at = (q) => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))];
  return { n: sorted.length, median: at(0.5), p95: at(0.95) };
}

async function scenario(label, manifestFields) {
  const id = randomBytes(4).toString('hex');
  const bucket = `bench-${id}`;
  await s3.send(new CreateBucketCommand({ Bucket: bucket }));
  const queueUrl = (await sqs.send(new CreateQueueCommand({ QueueName: `bench-${id}` }))).QueueUrl;
  const dlqUrl = (await sqs.send(new CreateQueueCommand({ QueueName: `bench-${id}-dlq` }))).QueueUrl;
  const body = randomBytes(1024);
  const messages = [];
  for (let i = 0; i < tasks; i += 1) {
    const key = `in/file-${i}.bin`;
    const put = await s3.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: body }));
    messages.push(
      JSON.stringify({
        sluice: 1,
        runId: `bench-${id}`,
        bucket,
        key,
        etag: put.ETag.replaceAll('"', ''),
        size: 1024,
      }),
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
  const dir = await mkdtemp(join(tmpdir(), 'sluice-bench-'));
  const manifestPath = join(dir, 'algorithm.json');
  await writeFile(
    manifestPath,
    JSON.stringify({ name: 'bench', version: '1', image: 'x.io/bench:1', memory: 256, ...manifestFields }),
  );
  const config = {
    runId: `bench-${id}`,
    queueUrl,
    deadLetterQueueUrl: dlqUrl,
    input: { bucket, prefix: 'in/', include: ['**'] },
    output: { bucket, prefix: 'out/' },
    maxAttempts: 1,
    idleSeconds: 2,
    env: {},
    secretEnv: [],
    pathRoot: dir,
  };
  const child = spawn(process.execPath, [join(root, 'packages/runner/dist/index.js')], {
    env: { ...process.env, SLUICE_RUN: JSON.stringify(config), SLUICE_MANIFEST: manifestPath },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  let pending = '';
  const done = [];
  child.stdout.on('data', (chunk) => {
    pending += chunk;
    const lines = pending.split('\n');
    pending = lines.pop();
    for (const line of lines) {
      const event = JSON.parse(line);
      if (event.event === 'task-succeeded') done.push(event);
    }
  });
  await new Promise((resolve) => child.once('close', resolve));
  await rm(dir, { recursive: true, force: true });
  const overhead = stats(done.map((e) => e.totalMs - e.runMs));
  const total = stats(done.map((e) => e.totalMs));
  const run = stats(done.map((e) => e.runMs));
  console.log(
    `${label}: ${done.length}/${tasks} tasks; overhead per task median ${overhead.median} ms, p95 ${overhead.p95} ms ` +
      `(total median ${total.median} ms, p95 ${total.p95} ms; algorithm run median ${run.median} ms, p95 ${run.p95} ms)`,
  );
}

const port = 20000 + Math.floor(Math.random() * 20000);
await scenario('process algorithm (/bin/sh cp)', {
  command: ['/bin/sh', '-c', 'cp "$1" "$2/out.bin"', 'sh', '{input}', '{output}'],
});
await scenario('port algorithm (node http server)', {
  port,
  command: [process.execPath, join(root, 'test/fixtures/algorithms/port-server.mjs'), String(port)],
});
s3.destroy();
sqs.destroy();

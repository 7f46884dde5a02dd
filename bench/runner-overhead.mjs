// Benchmark (not a test): the runner's overhead per task against a moto server — marker check,
// records, download, upload, commit, log upload and message delete, i.e. a task's total time in
// the runner minus the algorithm's own run time — for 1 KB files, for a process algorithm and a
// port algorithm. Runs the committed bundle (packages/runner/dist) as a real process.
// Beside it, in the same process and on the same moto, the floor of any runner: a plain SDK client
// doing what a task needs at the least — receive the message, GET the input, PUT one output, delete
// the message — one request after the other. Prints median and p90 of each and the ratio runner
// overhead / floor; issue 17's target is a median overhead ≤ 25 ms.
//
//   bash scripts/testbed.sh start && eval "$(bash scripts/testbed.sh env)"
//   node bench/runner-overhead.mjs [tasks=200]
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { GetObjectCommand, PutObjectCommand } from '@aws-sdk/client-s3';
import { DeleteMessageCommand, ReceiveMessageCommand } from '@aws-sdk/client-sqs';

import { ROOT, queuedTasks, stats, testbedClients } from './lib.mjs';

const tasks = Number(process.argv[2] ?? 200);
const TARGET_MS = 25;
const clients = testbedClients();
const ms = ({ median, p90 }) => `median ${median.toFixed(0)} ms, p90 ${p90.toFixed(0)} ms`;

/** The floor: receive, GET the input, PUT one output, delete — sequential, per task. */
async function floor() {
  const id = randomBytes(4).toString('hex');
  const queued = await queuedTasks(clients, `bench-floor-${id}`, `bench-${id}`, tasks);
  const { s3, sqs } = clients;
  const times = [];
  for (let i = 0; i < tasks; i += 1) {
    const started = performance.now();
    const { Messages } = await sqs.send(
      new ReceiveMessageCommand({ QueueUrl: queued.queueUrl, MaxNumberOfMessages: 1, WaitTimeSeconds: 1 }),
    );
    const [message] = Messages;
    const task = JSON.parse(message.Body);
    const got = await s3.send(new GetObjectCommand({ Bucket: task.bucket, Key: task.key }));
    const body = await got.Body.transformToByteArray();
    await s3.send(new PutObjectCommand({ Bucket: task.bucket, Key: `out/${task.key}`, Body: body }));
    await sqs.send(
      new DeleteMessageCommand({ QueueUrl: queued.queueUrl, ReceiptHandle: message.ReceiptHandle }),
    );
    times.push(performance.now() - started);
  }
  return stats(times);
}

async function scenario(label, manifestFields) {
  const id = randomBytes(4).toString('hex');
  const queued = await queuedTasks(clients, `bench-${id}`, `bench-${id}`, tasks);
  const dir = await mkdtemp(join(tmpdir(), 'sluice-bench-'));
  const manifestPath = join(dir, 'algorithm.json');
  await writeFile(
    manifestPath,
    JSON.stringify({ name: 'bench', version: '1', image: 'x.io/bench:1', memory: 256, ...manifestFields }),
  );
  const config = {
    ...queued,
    pathRoot: dir,
  };
  const child = spawn(process.execPath, [join(ROOT, 'packages/runner/dist/index.js')], {
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
  if (done.length !== tasks) throw new Error(`${label}: the runner finished ${done.length}/${tasks} tasks`);
  const overhead = stats(done.map((e) => e.totalMs - e.runMs));
  const total = stats(done.map((e) => e.totalMs));
  const run = stats(done.map((e) => e.runMs));
  console.log(
    `${label}: ${done.length}/${tasks} tasks; runner overhead per task ${ms(overhead)} ` +
      `(task total ${ms(total)}; algorithm run ${ms(run)})`,
  );
  return overhead;
}

const base = await floor();
console.log(`floor, a plain client's receive + GET + PUT + delete per task: ${ms(base)}`);

const port = 20000 + Math.floor(Math.random() * 20000);
const processOverhead = await scenario('process algorithm (/bin/sh cp)', {
  command: ['/bin/sh', '-c', 'cp "$1" "$2/out.bin"', 'sh', '{input}', '{output}'],
});
await scenario('port algorithm (node http server)', {
  port,
  command: [process.execPath, join(ROOT, 'test/fixtures/algorithms/port-server.mjs'), String(port)],
});
console.log(
  `ratio runner overhead / floor (process algorithm): median ${(processOverhead.median / base.median).toFixed(2)}, ` +
    `p90 ${(processOverhead.p90 / base.p90).toFixed(2)}; median ${processOverhead.median} ms against issue 17's ` +
    `target ≤ ${TARGET_MS} ms: ${processOverhead.median <= TARGET_MS ? 'met' : 'not met'}`,
);
clients.destroy();

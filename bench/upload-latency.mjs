// Benchmark (not a test): upload-to-start latency in a kept run. `sluice serve` keeps a local run
// going (compute.minWorkers 1, so a runner is already waiting: the warm case); after one warm-up file,
// N files (default 20) are put one at a time, 1.5 s apart, into its input prefix, and each latency is
// the time from sending the PutObject to the `startedAt` of the task's first attempt in its record
// (S3 event → task queue → runner → record). Prints median and p90.
//
// Beside it, in the same process and on the same moto: the floor, a plain consumer — a bucket whose
// S3 notification goes to a plain queue, long-polled with ReceiveMessage — timed from sending the
// PutObject to the event's receipt. The ratio sluice / plain is the figure to compare across machines.
//
//   bash scripts/testbed.sh start && eval "$(bash scripts/testbed.sh env)"
//   node bench/upload-latency.mjs [uploads=20] [mode=direct]
import { setTimeout as sleep } from 'node:timers/promises';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import {
  CreateBucketCommand,
  PutBucketNotificationConfigurationCommand,
  PutObjectCommand,
} from '@aws-sdk/client-s3';
import {
  CreateQueueCommand,
  DeleteMessageCommand,
  DeleteQueueCommand,
  GetQueueAttributesCommand,
  ReceiveMessageCommand,
} from '@aws-sdk/client-sqs';

import {
  benchId,
  emptyAndDelete,
  requireTestbed,
  say,
  sluice,
  stats,
  taskRecords,
  testbedClients,
  wrappedBusyboxAlgorithm,
  writeJob,
} from './lib.mjs';

requireTestbed('CONTAINERS_CONF');
const uploads = Number(process.argv[2] ?? 20);
const mode = process.argv[3] ?? 'direct';
const GAP_MS = 1500;
const clients = testbedClients();
const { s3, sqs } = clients;
const id = benchId();
const name = `bench-latency-${id}`;
const work = await mkdtemp(join(tmpdir(), 'sluice-bench-latency-'));
const bucketIn = `sluice-bench-latency-in-${id}`;
const bucketOut = `sluice-bench-latency-out-${id}`;
const bucketPlain = `sluice-bench-latency-plain-${id}`;
const body = Buffer.alloc(1024, 1);
const ms = ({ median, p90 }) => `median ${median.toFixed(0)} ms, p90 ${p90.toFixed(0)} ms`;

/**
 * Puts `keys` into `bucket` one at a time, GAP_MS apart; resolves to when each PutObject was sent
 * (Date.now()): moto enqueues the S3 event before it answers, so the answer can come after the start.
 */
async function putSpaced(bucket, keys) {
  const putAt = new Map();
  for (const key of keys) {
    putAt.set(key, Date.now());
    await s3.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: body }));
    await sleep(GAP_MS);
  }
  return putAt;
}

/** The floor: S3 event notifications long-polled from a plain queue. */
async function plainConsumer() {
  await s3.send(new CreateBucketCommand({ Bucket: bucketPlain }));
  const queueUrl = (await sqs.send(new CreateQueueCommand({ QueueName: `${name}-plain` }))).QueueUrl;
  const { Attributes } = await sqs.send(
    new GetQueueAttributesCommand({ QueueUrl: queueUrl, AttributeNames: ['QueueArn'] }),
  );
  await s3.send(
    new PutBucketNotificationConfigurationCommand({
      Bucket: bucketPlain,
      NotificationConfiguration: {
        QueueConfigurations: [{ QueueArn: Attributes.QueueArn, Events: ['s3:ObjectCreated:*'] }],
      },
    }),
  );
  const receivedAt = new Map();
  let putting = true;
  const receiving = (async () => {
    while (putting || receivedAt.size < uploads) {
      const { Messages = [] } = await sqs.send(
        new ReceiveMessageCommand({ QueueUrl: queueUrl, MaxNumberOfMessages: 10, WaitTimeSeconds: 1 }),
      );
      const now = Date.now();
      for (const message of Messages) {
        for (const record of JSON.parse(message.Body).Records ?? [])
          // Keys in S3 events are URL-encoded (spaces as `+`).
          receivedAt.set(decodeURIComponent(record.s3.object.key.replaceAll('+', ' ')), now);
        await sqs.send(
          new DeleteMessageCommand({ QueueUrl: queueUrl, ReceiptHandle: message.ReceiptHandle }),
        );
      }
    }
  })();
  const keys = Array.from({ length: uploads }, (_, i) => `in/file-${i}.bin`);
  const putAt = await putSpaced(bucketPlain, keys);
  putting = false;
  await Promise.race([
    receiving,
    sleep(30_000).then(() => Promise.reject(new Error('plain: events missing'))),
  ]);
  await sqs.send(new DeleteQueueCommand({ QueueUrl: queueUrl }));
  return stats(keys.map((key) => receivedAt.get(key) - putAt.get(key)));
}

/** Waits until `count` task records have a first attempt started; resolves to them. */
async function startedRecords(runId, count) {
  for (let tries = 0; tries < 120; tries += 1) {
    const records = await taskRecords(s3, bucketOut, runId);
    const started = records.filter((r) => r.attempts?.[0]?.startedAt);
    if (started.length >= count) return started;
    await sleep(1000);
  }
  throw new Error(`fewer than ${count} tasks started within 2 minutes`);
}

let removeImages = async () => {};
let job;
const env = { SLUICE_STATE_DIR: join(work, 'state') };
try {
  say(`plain consumer: ${uploads} uploads ${GAP_MS} ms apart, S3 event → queue → ReceiveMessage`);
  const plain = await plainConsumer();

  removeImages = await wrappedBusyboxAlgorithm(work, name, 'cp "$1" "$2/out.bin"');
  await s3.send(new CreateBucketCommand({ Bucket: bucketIn }));
  job = await writeJob(work, {
    name,
    mode,
    input: { bucket: bucketIn, prefix: 'sluice/', create: true },
    output: { bucket: bucketOut, prefix: 'sluice/' },
    compute: { minWorkers: 1, maxWorkers: 2 },
  });
  say(
    `sluice serve ("mode": "${mode}", 1 runner kept): ${uploads} uploads ${GAP_MS} ms apart after one warm-up`,
  );
  let server;
  let runId;
  let ready;
  const dispatched = new Promise((resolve) => (ready = resolve));
  const serving = sluice(['serve', job], {
    env,
    signalOk: true,
    onSpawn: (child) => (server = child),
    onLine: (line) => {
      runId ??= /^run (\S+): serving/.exec(line)?.[1];
      if (/^dispatched:/.test(line)) ready();
      if (process.env.BENCH_VERBOSE) console.error(`  [serve] ${line}`);
    },
  });
  await Promise.race([dispatched, serving.then(() => Promise.reject(new Error('sluice serve stopped')))]);
  let sluiceStats;
  try {
    await putSpaced(bucketIn, ['sluice/warm-up.bin']);
    await startedRecords(runId, 1);
    const keys = Array.from({ length: uploads }, (_, i) => `sluice/file-${i}.bin`);
    const putAt = await putSpaced(bucketIn, keys);
    const records = await startedRecords(runId, uploads + 1);
    const startedAt = new Map(records.map((r) => [r.input.key, Date.parse(r.attempts[0].startedAt)]));
    sluiceStats = stats(keys.map((key) => startedAt.get(key) - putAt.get(key)));
  } finally {
    server.kill('SIGTERM');
    await serving;
  }

  console.log();
  console.log(
    `upload-to-start latency, ${uploads} uploads ${GAP_MS} ms apart, moto at ${process.env.AWS_ENDPOINT_URL}`,
  );
  console.log(`  plain consumer (S3 event → ReceiveMessage): ${ms(plain)}`);
  console.log(`  sluice serve, "mode": "${mode}" (PutObject → attempt startedAt): ${ms(sluiceStats)}`);
  console.log(
    `ratio sluice / plain consumer: median ${(sluiceStats.median / plain.median).toFixed(2)}, ` +
      `p90 ${(sluiceStats.p90 / plain.p90).toFixed(2)}`,
  );
} finally {
  if (job)
    await sluice(['teardown', job], { env }).catch((error) =>
      console.error(`bench: teardown: ${error.message}`),
    );
  await removeImages();
  for (const bucket of [bucketIn, bucketOut, bucketPlain]) await emptyAndDelete(s3, bucket);
  await rm(work, { recursive: true, force: true });
  clients.destroy();
}

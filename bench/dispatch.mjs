// Benchmark (not a test): dispatch of N objects already in the input bucket (default 3,000; issue 17
// asks for 20,000) — `sluice dispatch` listing them and enqueuing one task each — in tasks/s and the
// peak RSS of the dispatch process (VmHWM of the Node process itself, not its children), beside a
// plain client on the same moto: the AWS SDK v3 sending the same number of messages with
// SendMessageBatch, 16 batches in flight (the second argument; on moto a plain client gains up to
// about 16 in flight). moto's SQS slows as a queue grows, so only the ratio sluice / plain is
// comparable across machines. Issue 17's targets: ≥ 0.9 of the plain client's rate, peak RSS ≤ 200 MB.
//
// Both go through the counting proxy in front of moto, and each rate is taken over the window from
// the first SendMessageBatch sent to the last one answered (sluice's whole process time is printed
// too: it includes starting Node, reading the run and starting the runners). Seeding the objects
// (32 PutObjects in flight) is not timed. The run is provisioned first and torn down after (its
// runner containers start at the end of dispatch and are removed then).
//
//   bash scripts/testbed.sh start && eval "$(bash scripts/testbed.sh env)"
//   node bench/dispatch.mjs [objects=3000] [plain-client-in-flight=16]
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import {
  CreateQueueCommand,
  DeleteQueueCommand,
  SQSClient,
  SendMessageBatchCommand,
} from '@aws-sdk/client-sqs';

import {
  TESTBED_CREDENTIALS,
  TESTBED_REGION,
  benchId,
  countingProxy,
  emptyAndDelete,
  mapConcurrent,
  requireTestbed,
  say,
  seedObjects,
  sluice,
  tally,
  testbedClients,
  wrappedBusyboxAlgorithm,
  watchPeakRss,
  writeJob,
} from './lib.mjs';

requireTestbed('CONTAINERS_CONF');
const objects = Number(process.argv[2] ?? 3000);
const inFlight = Number(process.argv[3] ?? 16);
const TARGET_RATIO = 0.9;
const TARGET_RSS_MB = 200;
const clients = testbedClients();
const id = benchId();
const name = `bench-dispatch-${id}`;
const work = await mkdtemp(join(tmpdir(), 'sluice-bench-dispatch-'));
const bucketIn = `sluice-bench-dispatch-in-${id}`;
const bucketOut = `sluice-bench-dispatch-out-${id}`;

/** Seconds from the first SendMessageBatch of `phase` sent to the last answered, and the requests by operation. */
function window(proxy, phase) {
  const sends = [...proxy.counts].filter(
    ([key]) => key.startsWith(`${phase}\t`) && key.endsWith('SendMessageBatch'),
  );
  const first = Math.min(...sends.map(([, e]) => e.first));
  const last = Math.max(...sends.map(([, e]) => e.last));
  return { seconds: (last - first) / 1000, requests: tally(proxy.counts, (p) => p === phase) };
}

/** The plain client: `objects` messages of a task's size, 10 per SendMessageBatch, `inFlight` at a time. */
async function plainClient(proxy) {
  const sqs = new SQSClient({
    endpoint: proxy.url,
    region: TESTBED_REGION,
    credentials: TESTBED_CREDENTIALS,
  });
  const queueUrl = (await sqs.send(new CreateQueueCommand({ QueueName: `${name}-plain` }))).QueueUrl;
  const batches = Array.from({ length: Math.ceil(objects / 10) }, (_, b) =>
    Array.from({ length: Math.min(10, objects - b * 10) }, (_, j) => ({
      Id: String(j),
      MessageBody: JSON.stringify({
        sluice: 1,
        runId: name,
        bucket: bucketIn,
        key: `sluice/file-${b * 10 + j}.bin`,
      }),
    })),
  );
  proxy.phase = 'plain';
  await mapConcurrent(batches, inFlight, async (Entries) => {
    const sent = await sqs.send(new SendMessageBatchCommand({ QueueUrl: queueUrl, Entries }));
    if ((sent.Failed ?? []).length > 0)
      throw new Error(`SendMessageBatch failed: ${JSON.stringify(sent.Failed)}`);
  });
  proxy.phase = 'after';
  await sqs.send(new DeleteQueueCommand({ QueueUrl: queueUrl }));
  sqs.destroy();
}

const proxy = await countingProxy(process.env.AWS_ENDPOINT_URL);
let removeImages = async () => {};
let job;
const state = { SLUICE_STATE_DIR: join(work, 'state') };
try {
  say(`seeding ${objects} objects of 1 KiB into s3://${bucketIn}/sluice/ (32 PutObjects in flight)`);
  const seedStarted = performance.now();
  await seedObjects(clients.s3, bucketIn, 'sluice/', objects, (done) => say(`  ${done} seeded`));
  say(`seeded in ${((performance.now() - seedStarted) / 1000).toFixed(0)} s`);
  removeImages = await wrappedBusyboxAlgorithm(work, name, 'cp "$1" "$2/out.bin"');
  job = await writeJob(work, {
    name,
    input: { bucket: bucketIn, prefix: 'sluice/', create: true },
    output: { bucket: bucketOut, prefix: 'sluice/' },
    compute: { maxWorkers: 1 },
  });
  await sluice(['provision', job], { env: state });

  say(`plain client: ${objects} messages with SendMessageBatch, ${inFlight} in flight`);
  await plainClient(proxy);

  say(`sluice dispatch of ${objects} existing objects`);
  proxy.phase = 'sluice';
  let rss;
  const started = performance.now();
  const { stdout } = await sluice(['dispatch', job], {
    env: { ...state, AWS_ENDPOINT_URL: proxy.url },
    onSpawn: (child) => (rss = watchPeakRss(child.pid)),
  });
  const processSeconds = (performance.now() - started) / 1000;
  const peakMb = rss.stop();
  proxy.phase = 'after';
  if (!new RegExp(`\\b${objects} enqueued`).test(stdout)) {
    throw new Error(`sluice dispatch did not enqueue every object:\n${stdout}`);
  }

  const plain = window(proxy, 'plain');
  const ours = window(proxy, 'sluice');
  const plainRate = objects / plain.seconds;
  const ourRate = objects / ours.seconds;
  const ops = (r) => [...r.requests.ops].map(([op, { n }]) => `${op} ${n}`).join(', ');
  console.log();
  console.log(`dispatch of ${objects} existing objects, moto at ${process.env.AWS_ENDPOINT_URL}`);
  console.log(
    `  plain client (SDK v3, ${inFlight} batches in flight): ${plainRate.toFixed(1)} messages/s (${plain.seconds.toFixed(1)} s; ${ops(plain)})`,
  );
  console.log(
    `  sluice dispatch: ${ourRate.toFixed(1)} tasks/s (${ours.seconds.toFixed(1)} s sending; whole process ${processSeconds.toFixed(1)} s, ` +
      `${(objects / processSeconds).toFixed(1)} tasks/s), peak RSS ${peakMb.toFixed(0)} MB; ${ops(ours)}`,
  );
  const ratio = ourRate / plainRate;
  console.log(
    `ratio sluice / plain client: ${ratio.toFixed(2)} (issue 17's target ≥ ${TARGET_RATIO}: ${ratio >= TARGET_RATIO ? 'met' : 'not met'}); ` +
      `peak RSS ${peakMb.toFixed(0)} MB (target ≤ ${TARGET_RSS_MB} MB: ${peakMb <= TARGET_RSS_MB ? 'met' : 'not met'})`,
  );
} finally {
  await proxy.close();
  if (job)
    await sluice(['teardown', job], { env: state }).catch((error) =>
      console.error(`bench: teardown: ${error.message}`),
    );
  await removeImages();
  await emptyAndDelete(clients.s3, bucketIn);
  await emptyAndDelete(clients.s3, bucketOut);
  await rm(work, { recursive: true, force: true });
  clients.destroy();
}

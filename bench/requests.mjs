// Benchmark (not a test): AWS requests per input file for a whole `sluice run` — provision, dispatch,
// 2 local runners, collect, teardown — over N small files already in the input bucket (default 100),
// with an algorithm that writes three outputs, in direct mode (the runners hold the run's S3/SQS
// access) and sealed mode (the runners hold only the broker's address and token; the broker runs in
// the `sluice run` process and makes the S3/SQS calls, the runners move bytes with presigned URLs).
//
// Every request of the run — the CLI's, the broker's, the runners' and the presigned transfers —
// goes through a counting proxy in front of the test bed's moto (AWS_ENDPOINT_URL points at it;
// runner containers reach it as the engine's alias for the host's loopback) and is counted per
// operation and per phase, told apart by `sluice run`'s progress lines:
//   provision  buckets, queues, notification, run state
//   dispatch   listing the inputs and enqueuing them (the runners start at its end)
//   process    the runners' (or the broker's) work and collect's polling, to the end of collect
//   teardown   removing the run's queues and notification
// The run waits with `--until count --expected N`, so no idle period adds polls. Seeding the inputs
// and reading the records afterwards go straight to moto and are not counted.
//
// Prints, per mode side by side, requests per file by operation and by phase, the total per file
// against the floor of any run (1 GET of the input + 3 PUTs of the outputs = 4), the target of
// issue 17 (≤ 8 in direct mode), and each mode's tasks/s with the ratio sealed/direct.
//
//   bash scripts/testbed.sh start && eval "$(bash scripts/testbed.sh env)"
//   node bench/requests.mjs [files=100] [modes=direct,sealed]
import { appendFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import {
  attemptSpan,
  benchId,
  countingProxy,
  emptyAndDelete,
  requireTestbed,
  say,
  seedObjects,
  sluice,
  tally,
  taskRecords,
  testbedClients,
  wrappedBusyboxAlgorithm,
  writeJob,
} from './lib.mjs';

requireTestbed('CONTAINERS_CONF');
const files = Number(process.argv[2] ?? 100);
const modes = (process.argv[3] ?? 'direct,sealed').split(',');
const OUTPUTS = 3;
const FLOOR = 1 + OUTPUTS; // the input's GET and one PUT per output
const TARGET_DIRECT = 8;
const clients = testbedClients(); // straight to moto: seeding and reading records are not counted
const id = benchId();
const name = `bench-requests-${id}`;
const work = await mkdtemp(join(tmpdir(), 'sluice-bench-requests-'));
const PHASES = ['provision', 'dispatch', 'process', 'teardown'];

async function runMode(mode, proxy) {
  const bucketIn = `sluice-bench-req-${mode}-in-${id}`;
  const bucketOut = `sluice-bench-req-${mode}-out-${id}`;
  await seedObjects(clients.s3, bucketIn, 'sluice/', files);
  const job = await writeJob(work, {
    name: `${name}-${mode}`,
    algorithm: `${name}@1.0`,
    mode,
    input: { bucket: bucketIn, prefix: 'sluice/', create: true },
    output: { bucket: bucketOut, prefix: 'sluice/' },
  });
  let runId;
  let phase = 'provision';
  proxy.phase = `${mode}:${phase}`;
  const enter = (next) => {
    phase = next;
    proxy.phase = `${mode}:${next}`;
  };
  const started = performance.now();
  const { stdout } = await sluice(['run', job, '--until', 'count', '--expected', String(files)], {
    env: { AWS_ENDPOINT_URL: proxy.url, SLUICE_STATE_DIR: join(work, 'state') },
    onLine: (line) => {
      const provisioned = /^run (\S+): provisioned/.exec(line);
      if (provisioned) {
        runId = provisioned[1];
        enter('dispatch');
      }
      if (/^dispatched:/.test(line)) enter('process');
      if (phase === 'process' && /^collected|^done|succeeded, \d+ failed/.test(line)) enter('teardown');
      if (process.env.BENCH_VERBOSE) console.error(`  [${mode} ${phase}] ${line}`);
    },
  });
  const wallMs = performance.now() - started;
  proxy.phase = 'after';
  if (!stdout.includes(`${files} succeeded, 0 failed of ${files} inputs`)) {
    throw new Error(`sluice run (${mode}) did not process every file:\n${stdout}`);
  }
  const records = await taskRecords(clients.s3, bucketOut, runId);
  const short = records.filter((r) => (r.outputs ?? []).length !== OUTPUTS);
  if (records.length !== files || short.length > 0) {
    throw new Error(`${mode}: ${records.length} task records, ${short.length} without ${OUTPUTS} outputs`);
  }
  const span = attemptSpan(records);
  await emptyAndDelete(clients.s3, bucketIn);
  await emptyAndDelete(clients.s3, bucketOut);
  return { mode, wallMs, processingMs: span.ms };
}

const proxy = await countingProxy(process.env.AWS_ENDPOINT_URL);
if (process.env.BENCH_TRACE) proxy.trace = (line) => appendFileSync(process.env.BENCH_TRACE, `${line}\n`);
const results = [];
let removeImages = async () => {};
try {
  // Three outputs per input: a copy with a header, its size and a checksum.
  removeImages = await wrappedBusyboxAlgorithm(
    work,
    name,
    [
      '{ echo processed; cat "$1"; } > "$2/result.txt"',
      'wc -c < "$1" > "$2/size.txt"',
      'md5sum "$1" > "$2/md5.txt"',
    ].join('\n'),
  );
  say(
    `${files} files of 1 KiB already in the bucket, ${OUTPUTS} outputs each, 2 local runners; ` +
      `moto at ${process.env.AWS_ENDPOINT_URL} behind a counting proxy at ${proxy.url}`,
  );
  for (const mode of modes) {
    say(`sluice run --until count, "mode": "${mode}"`);
    results.push(await runMode(mode, proxy));
  }
} finally {
  await proxy.close();
  await removeImages();
  await rm(work, { recursive: true, force: true });
  clients.destroy();
}

// ── The report: one column per mode, requests per input file.
const perFile = (n) => (n / files).toFixed(2);
const inMode = (mode) => (p) => p.startsWith(`${mode}:`);
const byMode = results.map((r) => ({ ...r, all: tally(proxy.counts, inMode(r.mode)) }));
const operations = [...new Set(byMode.flatMap((r) => [...r.all.ops.keys()]))].sort(
  (a, b) => (byMode[0].all.ops.get(b)?.n ?? 0) - (byMode[0].all.ops.get(a)?.n ?? 0),
);
const row = (label, values) =>
  console.log(label.padEnd(48) + values.map((v) => String(v).padStart(10)).join(''));
console.log();
row(
  `requests per file (${files} files, whole run)`,
  byMode.map((r) => r.mode),
);
for (const op of operations) {
  row(
    `  ${op}`,
    byMode.map((r) => perFile(r.all.ops.get(op)?.n ?? 0)),
  );
}
for (const phase of PHASES) {
  row(
    `  phase ${phase}`,
    byMode.map((r) => perFile(tally(proxy.counts, (p) => p === `${r.mode}:${phase}`).total)),
  );
}
row(
  'TOTAL per file',
  byMode.map((r) => perFile(r.all.total)),
);
row(
  `  ratio to the floor (${FLOOR}: 1 GET + ${OUTPUTS} PUT)`,
  byMode.map((r) => (r.all.total / files / FLOOR).toFixed(2)),
);
row(
  'wall s (whole run)',
  byMode.map((r) => (r.wallMs / 1000).toFixed(1)),
);
row(
  'tasks/s (first start to last end)',
  byMode.map((r) => (files / (r.processingMs / 1000)).toFixed(1)),
);
const direct = byMode.find((r) => r.mode === 'direct');
const sealed = byMode.find((r) => r.mode === 'sealed');
if (direct) {
  const total = direct.all.total / files;
  console.log(
    `direct: ${total.toFixed(2)} requests per file (issue 17's target ≤ ${TARGET_DIRECT}: ${total <= TARGET_DIRECT ? 'met' : 'not met'})`,
  );
}
if (direct && sealed) {
  console.log(
    `ratio sealed/direct: requests per file ${(sealed.all.total / direct.all.total).toFixed(2)}, ` +
      `tasks/s ${(direct.processingMs / sealed.processingMs).toFixed(2)}`,
  );
}

// Benchmark (not a test): CPU-bound tasks as a share of the ideal. N inputs (default 10 per core),
// each task burning about 1 s of CPU (a busybox shell loop, calibrated on this machine first), run by
// `sluice run` with the local backend and one runner per core. The ideal is N × 1 s of CPU spread over
// every core: share = N × cpu-seconds per task / (cores × wall). Issue 17's target: ≥ 95 %.
//
// Beside it, in the same process: the same N loops as plain processes on the host, one per core at a
// time — what the machine gives right now (other work on it lowers both figures alike), so the ratio
// sluice share / plain share is the figure that survives a noisy machine. The wall of sluice is taken
// two ways: from the first task's start to the last one's end in the task records, and the whole
// `sluice run` (provision to teardown).
//
//   bash scripts/testbed.sh start && eval "$(bash scripts/testbed.sh env)"
//   node bench/cpu-share.mjs [tasks=10×cores]
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import {
  CORES,
  attemptSpan,
  benchId,
  emptyAndDelete,
  mapConcurrent,
  requireTestbed,
  run,
  say,
  seedObjects,
  sluice,
  taskRecords,
  testbedClients,
  wrappedBusyboxAlgorithm,
  writeJob,
} from './lib.mjs';

requireTestbed('CONTAINERS_CONF');
const tasks = Number(process.argv[2] ?? 10 * CORES);
const TARGET = 0.95;
const clients = testbedClients();
const id = benchId();
const name = `bench-cpu-${id}`;
const work = await mkdtemp(join(tmpdir(), 'sluice-bench-cpu-'));
const loop = (count) => `i=0; while [ $i -lt ${count} ]; do i=$((i+1)); done`;

/** CPU seconds (user + sys) of one busybox loop of `count` iterations, by GNU time. */
async function cpuSeconds(count) {
  const { stderr } = await run('/usr/bin/time', ['-f', 'cpu %U %S', '/bin/busybox', 'sh', '-c', loop(count)]);
  const [, user, system] = /cpu ([\d.]+) ([\d.]+)/.exec(stderr);
  return Number(user) + Number(system);
}

/** The loop count that burns about 1 s of CPU here (the least of three measures of a probe). */
async function calibrate() {
  const probe = 300_000;
  const seconds = Math.min(await cpuSeconds(probe), await cpuSeconds(probe), await cpuSeconds(probe));
  const count = Math.round(probe / seconds);
  return { count, seconds: await cpuSeconds(count) };
}

const share = (cpu, ms) => (tasks * cpu) / (CORES * (ms / 1000));
const pct = (x) => `${(100 * x).toFixed(1)} %`;
let removeImages = async () => {};
const bucketIn = `sluice-bench-cpu-in-${id}`;
const bucketOut = `sluice-bench-cpu-out-${id}`;
try {
  const { count, seconds } = await calibrate();
  say(
    `${tasks} tasks of ${count} busybox loop iterations (${seconds.toFixed(2)} s of CPU measured), ${CORES} cores`,
  );

  // The machine's own share: the same loops as plain processes, one per core at a time.
  let started = performance.now();
  await mapConcurrent(Array.from({ length: tasks }), CORES, () =>
    run('/bin/busybox', ['sh', '-c', loop(count)]),
  );
  const plainMs = performance.now() - started;

  // sluice: one runner per core.
  removeImages = await wrappedBusyboxAlgorithm(work, name, `${loop(count)}\necho done > "$2/done.txt"`);
  await seedObjects(clients.s3, bucketIn, 'sluice/', tasks);
  const job = await writeJob(work, {
    name,
    input: { bucket: bucketIn, prefix: 'sluice/', create: true },
    output: { bucket: bucketOut, prefix: 'sluice/' },
    compute: { maxWorkers: CORES },
  });
  let runId;
  started = performance.now();
  const { stdout } = await sluice(['run', job, '--until', 'count', '--expected', String(tasks)], {
    env: { SLUICE_STATE_DIR: join(work, 'state') },
    onLine: (line) => (runId ??= /^run (\S+): provisioned/.exec(line)?.[1]),
  });
  const wallMs = performance.now() - started;
  if (!stdout.includes(`${tasks} succeeded, 0 failed of ${tasks} inputs`)) {
    throw new Error(`sluice run did not process every file:\n${stdout}`);
  }
  const span = attemptSpan(await taskRecords(clients.s3, bucketOut, runId));

  const processing = share(seconds, span.ms);
  const plain = share(seconds, plainMs);
  console.log();
  console.log(
    `${tasks} CPU-bound tasks of ${seconds.toFixed(2)} s, ${CORES} cores: ideal ${((tasks * seconds) / CORES).toFixed(1)} s`,
  );
  const line = (label, ms) =>
    console.log(
      `  ${label.padEnd(42)} ${(ms / 1000).toFixed(1).padStart(6)} s, ${pct(share(seconds, ms))} of ideal`,
    );
  line(`plain processes, ${CORES} at a time:`, plainMs);
  line('sluice, first start to last end:', span.ms);
  line('sluice run, whole (provision→teardown):', wallMs);
  console.log(
    `share of the ideal while processing: ${pct(processing)} (issue 17's target ≥ ${pct(TARGET)}: ` +
      `${processing >= TARGET ? 'met' : 'not met'}); ratio to the plain processes' share: ${(processing / plain).toFixed(2)}`,
  );
} finally {
  await removeImages();
  await emptyAndDelete(clients.s3, bucketIn);
  await emptyAndDelete(clients.s3, bucketOut);
  await rm(work, { recursive: true, force: true });
  clients.destroy();
}

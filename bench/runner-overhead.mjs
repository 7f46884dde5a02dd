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

import { queuedTasks, stats, testbedClients } from './lib.mjs';

const root = fileURLToPath(new URL('..', import.meta.url));
const tasks = Number(process.argv[2] ?? 200);
const clients = testbedClients();

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
clients.s3.destroy();
clients.sqs.destroy();

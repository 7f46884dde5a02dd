// Benchmark (not a test): what wrapping costs.
// 1. Bytes the runtime adds to an image: the wrapped image's layers above the algorithm image's,
//    uncompressed (podman history) and compressed (the layer sizes in the registry's manifest after
//    a push to the test bed's registry).
// 2. Runner overhead per task inside a container, for 1 KB files: one wrapped runner container
//    (podman run --network host, memory = manifest + runner overhead) takes every task from a moto
//    queue; overhead = a task's total time in the runner minus the algorithm's run time (marker
//    check, records, download, upload, commit, log upload, message delete). Beside it, the baseline:
//    `podman run --rm` of the same algorithm image once per file (the file bind-mounted in).
//
// The wrapped image is built by the committed CLI, `node packages/cli/dist/index.js wrap MANIFEST`
// (the production route; it carries its copy of the runner bundle). SLUICE_CLI names another CLI
// bundle. The algorithm image is a FROM-scratch busybox with a one-line copy script.
//
//   bash scripts/testbed.sh start && eval "$(bash scripts/testbed.sh env)"
//   node bench/wrapped-overhead.mjs [tasks=200] [baseline-runs=50]
//   bash scripts/testbed.sh stop
import { execFile, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { copyFile, mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';

import {
  ROOT,
  TESTBED_CREDENTIALS,
  TESTBED_REGION,
  queuedTasks,
  requireTestbed,
  stats,
  testbedClients,
} from './lib.mjs';

const execFileAsync = promisify(execFile);
const tasks = Number(process.argv[2] ?? 200);
const baselineRuns = Number(process.argv[3] ?? 50);
const cli = process.env.SLUICE_CLI ?? join(ROOT, 'packages/cli/dist/index.js');
requireTestbed('SLUICE_TEST_REGISTRY', 'CONTAINERS_CONF');
const registry = process.env.SLUICE_TEST_REGISTRY;
const clients = testbedClients();
const id = randomBytes(4).toString('hex');
const work = await mkdtemp(join(tmpdir(), 'sluice-bench-wrapped-'));
const algorithmImage = `localhost/sluice-bench-${id}/algorithm:1`;
const name = `bench-wrapped-${id}`;
const wrappedImage = `localhost/sluice/${name}:1`;
const images = [algorithmImage, wrappedImage];

async function podman(args, options = {}) {
  const { stdout } = await execFileAsync('podman', args, { maxBuffer: 64 * 1024 * 1024, ...options });
  return stdout;
}

const mb = (bytes) => `${(bytes / 1e6).toFixed(1)} MB`;

/** Layer sizes (bytes, uncompressed) bottom-up, from podman history. */
async function historySizes(image) {
  const history = JSON.parse(await podman(['history', '--format', 'json', image]));
  return history.reverse().map((entry) => ({
    size: Number(entry.size ?? entry.Size ?? 0),
    createdBy: String(entry.createdBy ?? entry.CreatedBy ?? ''),
  }));
}

/** Compressed layer sizes bottom-up, from the registry's manifest after a push. */
async function pushedLayerSizes(image, repository) {
  const remote = `${registry}/${repository}:1`;
  await podman(['tag', image, remote]);
  images.push(remote);
  await podman(['push', '--tls-verify=false', remote]);
  const response = await fetch(`http://${registry}/v2/${repository}/manifests/1`, {
    headers: {
      Accept:
        'application/vnd.oci.image.manifest.v1+json, application/vnd.docker.distribution.manifest.v2+json',
    },
  });
  const manifest = await response.json();
  return manifest.layers.map((layer) => layer.size);
}

try {
  // The algorithm: busybox FROM scratch, copying its input into its output directory.
  const context = join(work, 'algorithm');
  await mkdir(context, { recursive: true });
  await copyFile('/bin/busybox', join(context, 'busybox'));
  await writeFile(join(context, 'copy.sh'), '#!/bin/sh\ncp "$1" "$2/out.bin"\n', { mode: 0o755 });
  await writeFile(
    join(context, 'Containerfile'),
    [
      'FROM scratch',
      'COPY busybox /bin/busybox',
      'RUN ["/bin/busybox", "--install", "-s", "/bin"]',
      'RUN ["/bin/mkdir", "-m", "1777", "/tmp"]',
      'COPY copy.sh /app/copy.sh',
      '',
    ].join('\n'),
  );
  await podman(['build', '--layers', '-q', '-t', algorithmImage, context]);
  const manifestPath = join(work, 'algorithm.json');
  const manifestFields = {
    name,
    version: '1',
    image: algorithmImage,
    memory: 64,
    input: '/data/in/',
    output: '/data/out/',
    command: ['/app/copy.sh', '{input}', '{output}'],
  };
  await writeFile(manifestPath, JSON.stringify(manifestFields, null, 2));
  const wrapStarted = Date.now();
  await execFileAsync(process.execPath, [cli, 'wrap', manifestPath], { maxBuffer: 16 * 1024 * 1024 });
  const wrapMs = Date.now() - wrapStarted;

  // 1. Bytes added.
  const baseLayers = await historySizes(algorithmImage);
  const wrappedLayers = await historySizes(wrappedImage);
  const added = wrappedLayers.slice(baseLayers.length).filter((layer) => layer.size > 0);
  const runtimeLayer = added.find((layer) => layer.createdBy.includes('/sluice/node/'));
  const basePushed = await pushedLayerSizes(algorithmImage, `sluice-bench-${id}/algorithm`);
  const wrappedPushed = await pushedLayerSizes(wrappedImage, `sluice-bench-${id}/wrapped`);
  const addedPushed = wrappedPushed.slice(basePushed.length);
  const sum = (values) => values.reduce((a, b) => a + b, 0);
  const algorithmBytes = sum(baseLayers.map((l) => l.size));
  console.log(`wrap (sluice wrap, first build): ${wrapMs} ms`);
  console.log(
    `bytes added to the image: ${sum(added.map((l) => l.size))} uncompressed (${mb(sum(added.map((l) => l.size)))}; ` +
      `runtime layer ${runtimeLayer?.size ?? '?'}, runner + manifest ${sum(added.map((l) => l.size)) - (runtimeLayer?.size ?? 0)}), ` +
      `${sum(addedPushed)} compressed in the registry (${mb(sum(addedPushed))}; layers ${JSON.stringify(addedPushed)}); ` +
      `the algorithm image itself: ${algorithmBytes} uncompressed, ${sum(basePushed)} compressed`,
  );

  // 2a. The runner in a container, every task from one queue.
  const config = await queuedTasks(clients, `bench-wrapped-${id}`, `bench-${id}`, tasks);
  const memory = `${manifestFields.memory + 128}m`; // localMemoryLimitMiB: the manifest's + RUNNER_OVERHEAD_MIB
  const runnerStarted = Date.now();
  const child = spawn(
    'podman',
    [
      'run',
      '--rm',
      '--network',
      'host',
      '--memory',
      memory,
      '--memory-swap',
      memory,
      ...[
        'SLUICE_RUN',
        'AWS_ENDPOINT_URL',
        'AWS_REGION',
        'AWS_ACCESS_KEY_ID',
        'AWS_SECRET_ACCESS_KEY',
      ].flatMap((v) => ['--env', v]),
      wrappedImage,
    ],
    {
      env: {
        ...process.env,
        SLUICE_RUN: JSON.stringify(config),
        AWS_REGION: TESTBED_REGION,
        ...credentialsEnv(),
      },
      stdio: ['ignore', 'pipe', 'ignore'],
    },
  );
  let pending = '';
  const done = [];
  child.stdout.on('data', (chunk) => {
    pending += chunk;
    const lines = pending.split('\n');
    pending = lines.pop();
    for (const line of lines) {
      if (!line.startsWith('{')) continue;
      const event = JSON.parse(line);
      if (event.event === 'task-succeeded') done.push(event);
    }
  });
  const code = await new Promise((resolve) => child.once('close', resolve));
  const runnerWallMs = Date.now() - runnerStarted;
  if (code !== 0 || done.length !== tasks) {
    throw new Error(`the runner container exited ${code} after ${done.length}/${tasks} tasks`);
  }
  const overhead = stats(done.map((e) => e.totalMs - e.runMs));
  const total = stats(done.map((e) => e.totalMs));
  const run = stats(done.map((e) => e.runMs));
  console.log(
    `runner in a container: ${done.length}/${tasks} tasks of 1 KB; overhead per task median ${overhead.median} ms, p95 ${overhead.p95} ms ` +
      `(task total median ${total.median} ms, p95 ${total.p95} ms; algorithm run median ${run.median} ms, p95 ${run.p95} ms; ` +
      `container wall ${runnerWallMs} ms incl. start and ${config.idleSeconds} s idle exit)`,
  );

  // 2b. Baseline: one `podman run` of the algorithm image per file.
  const data = join(work, 'data');
  const perRun = [];
  for (let i = 0; i < baselineRuns; i += 1) {
    await rm(data, { recursive: true, force: true });
    await mkdir(join(data, 'in'), { recursive: true });
    await mkdir(join(data, 'out'), { recursive: true });
    await writeFile(join(data, 'in', 'file.bin'), randomBytes(1024));
    const started = Date.now();
    await podman([
      'run',
      '--rm',
      '--network',
      'none',
      '--volume',
      `${data}:/data`,
      algorithmImage,
      '/app/copy.sh',
      '/data/in/file.bin',
      '/data/out',
    ]);
    perRun.push(Date.now() - started);
  }
  const baseline = stats(perRun);
  console.log(
    `podman run per file (same algorithm, no S3): ${baseline.n} runs; median ${baseline.median} ms, p95 ${baseline.p95} ms`,
  );
  console.log(
    `ratio, runner overhead per task / podman run per file: median ${(overhead.median / baseline.median).toFixed(2)}, ` +
      `p95 ${(overhead.p95 / baseline.p95).toFixed(2)}; whole task in the runner / podman run: median ${(total.median / baseline.median).toFixed(2)}`,
  );
} finally {
  await podman(['rmi', '--force', '--ignore', ...images]).catch((e) =>
    console.error(`cleanup: ${e.message}`),
  );
  await rm(work, { recursive: true, force: true });
  clients.s3.destroy();
  clients.sqs.destroy();
}

function credentialsEnv() {
  return {
    AWS_ACCESS_KEY_ID: TESTBED_CREDENTIALS.accessKeyId,
    AWS_SECRET_ACCESS_KEY: TESTBED_CREDENTIALS.secretAccessKey,
  };
}

// Integration, in containers: a wrapped FROM-scratch busybox algorithm (root, no /tmp) run as a
// runner by podman on the host network against moto, in the situations a worker meets:
// - the algorithm allocates past its manifest memory inside a container limited to
//   `localMemoryLimitMiB(manifest)`: the kernel kills the algorithm, the attempt is recorded as
//   `out-of-memory` (podman here reports no OOMKilled: the runner reads the cgroup's count), and the
//   runner lives on to take the next task;
// - a port algorithm (busybox httpd with a CGI script) fed several tasks, one refused with a 4xx;
// - `podman stop` mid-task: the runner hands the task back without using an attempt and exits 0,
//   and another runner container finishes it.
import { randomBytes } from 'node:crypto';
import { mkdtempSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { afterAll, beforeAll, describe, expect, it, jest } from '@jest/globals';
import { checkTaskMessage, formatTaskMessage, parseManifest, taskId, type RunnerConfig } from '@sluice/core';
import { localMemoryLimitMiB } from '@sluice/core/compute';
import { TestAwsAccount, attemptLogText } from '@sluice/testing';

import { freeListenPort } from '../testbed/servers.js';

import { createRun, listKeys, readRecord, runnerConfig, type TestRun } from './runner-support.js';
import {
  PORT_ALGORITHM_CGI,
  buildBusyboxImage,
  containerEnv,
  startRunner,
  testEngine,
  wrapManifest,
} from './wrapped-support.js';

jest.setTimeout(180_000);

/** The process algorithm: copies its input; `hog*` files allocate 300 MiB first; MODE=slow sleeps. */
const RUN_SH = `#!/bin/sh
set -eu
in="$1"
out="$2"
echo "processing $(basename "$in")"
case "$(basename "$in")" in
  hog*) echo "allocating 300 MiB"; head -c 300m /dev/zero | tail ;;
esac
if [ "\${MODE:-ok}" = slow ]; then echo "sleeping"; sleep 60; fi
cp "$in" "$out/result.bin"
`;

describe('wrapped runners in containers: memory kill, port algorithm, podman stop', () => {
  const id = randomBytes(4).toString('hex');
  const engine = testEngine();
  const algorithmTag = `localhost/sluice-it-${id}/wf-algorithm:1`;
  const common = { version: '1.0', image: algorithmTag, input: '/data/in/', output: '/data/out/' };
  const processManifest = {
    ...common,
    name: `wf-process-${id}`,
    memory: 64,
    timeoutSeconds: 60,
    env: { MODE: {} },
    command: ['/app/run.sh', '{input}', '{output}'],
  };
  /** The port algorithm's manifest: its port is picked free when the image is wrapped. */
  const portManifestFor = (port: number): Record<string, unknown> => ({
    ...common,
    name: `wf-port-${id}`,
    memory: 64,
    port,
    command: ['/bin/httpd', '-f', '-p', `127.0.0.1:${port}`, '-h', '/www'],
  });
  let portManifest: Record<string, unknown>;
  const images: string[] = [algorithmTag];
  const accounts: TestAwsAccount[] = [];
  const runs: TestRun[] = [];
  const containers: string[] = [];
  const timings: Record<string, number> = {};
  const work = mkdtempSync(join(tmpdir(), 'sluice-wrapped-failures-'));
  let processImage: string;
  let portImage: string;

  async function newRun(label: string): Promise<{ aws: TestAwsAccount; run: TestRun }> {
    const aws = new TestAwsAccount({ label });
    accounts.push(aws);
    const run = await createRun(aws, { visibilitySeconds: 6 });
    runs.push(run);
    return { aws, run };
  }

  /** Puts an input and enqueues its task as dispatch would; returns its task id. */
  async function enqueue(run: TestRun, key: string, body = `content of ${key}\n`): Promise<string> {
    const put = await run.store.put({ bucket: run.inputBucket, key }, body);
    await run.queue.sendBatch([
      {
        body: formatTaskMessage({
          sluice: 1,
          runId: run.runId,
          bucket: run.inputBucket,
          key,
          etag: put.etag,
          size: Buffer.byteLength(body),
        }),
      },
    ]);
    return taskId({ bucket: run.inputBucket, key, etag: put.etag });
  }

  async function runner(
    aws: TestAwsAccount,
    image: string,
    manifest: Record<string, unknown>,
    config: RunnerConfig,
  ): Promise<Awaited<ReturnType<typeof startRunner>>> {
    const name = `sluice-it-${id}-${config.workerId ?? 'runner'}`;
    containers.push(name);
    const parsed = parseManifest(JSON.stringify(manifest), 'algorithm.json');
    return startRunner(engine, {
      image,
      name,
      env: containerEnv(aws, config),
      memoryMiB: localMemoryLimitMiB(parsed),
      manifest: parsed,
    });
  }

  async function timed<T>(label: string, step: () => Promise<T>): Promise<T> {
    const started = Date.now();
    try {
      return await step();
    } finally {
      timings[label] = Date.now() - started;
    }
  }

  beforeAll(async () => {
    await timed('algorithm image', () =>
      buildBusyboxImage(
        engine,
        join(work, 'algorithm'),
        algorithmTag,
        {
          'run.sh': { text: RUN_SH, mode: 0o755 },
          'www/cgi-bin/index.cgi': { text: PORT_ALGORITHM_CGI, mode: 0o755 },
        },
        ['COPY run.sh /app/run.sh', 'COPY www/ /www/'],
      ),
    );
    const cacheDir = join(work, 'cache');
    const wrappedProcess = await timed('wrap process', () =>
      wrapManifest(engine, processManifest, join(work, 'process'), cacheDir),
    );
    images.push(wrappedProcess.image);
    processImage = wrappedProcess.image;
    portManifest = portManifestFor(await freeListenPort());
    const wrappedPort = await timed('wrap port', () =>
      wrapManifest(engine, portManifest, join(work, 'port'), cacheDir),
    );
    images.push(wrappedPort.image);
    portImage = wrappedPort.image;
  }, 300_000);

  afterAll(async () => {
    await engine.remove(containers);
    // vfs keeps a full copy of every layer: leave nothing behind.
    await engine.removeImages(images);
    for (const run of runs) await rm(run.dir, { recursive: true, force: true });
    for (const aws of accounts) await aws.cleanup();
    await rm(work, { recursive: true, force: true });
    console.info(`wrapped-failures timings (ms): ${JSON.stringify(timings)}`);
  }, 120_000);

  it('records a memory kill as out-of-memory, and the runner survives to take the next task', async () => {
    const { aws, run } = await newRun('wf-memory');
    const hog = await enqueue(run, 'mem/hog.txt');
    const config = runnerConfig(run, {
      input: { bucket: run.inputBucket, prefix: 'mem/', include: ['**'] },
      maxAttempts: 2,
      timeoutSeconds: 60,
      idleSeconds: 6,
      workerId: 'wf-memory',
    });
    const container = await runner(aws, processImage, processManifest, config);
    const failed = await timed('memory: until the kill is recorded', () =>
      container.waitFor('task-failed', { taskId: hog }, 90_000),
    );
    // Only now the next task: the same runner process must take it.
    const after = await enqueue(run, 'mem/after.txt');
    const { exitCode, lines } = await timed('memory: until idle', () => container.finished());

    expect(failed).toMatchObject({ final: true });
    expect(exitCode).toBe(0);
    const started = lines.filter((l) => l.event === 'runner-started');
    expect(started).toHaveLength(1);
    expect(lines.find((l) => l.event === 'task-succeeded')).toMatchObject({ taskId: after });
    expect(lines.at(-1)).toMatchObject({
      event: 'runner-exiting',
      reason: 'idle',
      tasks: expect.objectContaining({ succeeded: 1, failed: 1 }),
    });
    const record = await readRecord(run, hog);
    expect(record.status).toBe('failed');
    // Not retried: out-of-memory is retried only with retryOnOutOfMemory.
    expect(record.attempts).toEqual([
      // podman here reports no OOMKilled, and the process killed may be the script's child: the
      // runner knows it from the cgroup's oom_kill count.
      expect.objectContaining({
        attempt: 1,
        failureClass: 'out-of-memory',
        workerId: 'wf-memory',
      }),
    ]);
    const log = await attemptLogText(run.store, run.outputBucket, record.attempts[0]);
    expect(log).toContain('allocating 300 MiB');
    expect(log).toContain('killed for using too much memory');
    expect((await readRecord(run, after)).status).toBe('succeeded');
    const dead = await run.deadLetter.receive({ waitSeconds: 0, maxMessages: 10 });
    expect(dead.map((m) => checkTaskMessage(JSON.parse(m.body)))).toEqual([
      { ok: true, message: expect.objectContaining({ key: 'mem/hog.txt', attemptsUsed: 1 }) },
    ]);
    expect(await listKeys(run.store, run.outputBucket, 'results/')).toEqual(['results/after.txt/result.bin']);
  });

  it('feeds a port algorithm several tasks through one server, and takes a 4xx as a final failure', async () => {
    const { aws, run } = await newRun('wf-port');
    const names = ['p1.txt', 'p2.txt', 'p3.txt', 'p4.txt', 'p5.txt', 'bad.txt'];
    const ids = new Map<string, string>();
    for (const name of names) ids.set(name, await enqueue(run, `port/${name}`));
    const config = runnerConfig(run, {
      input: { bucket: run.inputBucket, prefix: 'port/', include: ['**'] },
      maxAttempts: 3,
      idleSeconds: 4,
      workerId: 'wf-port',
    });
    const container = await runner(aws, portImage, portManifest, config);
    const { exitCode, lines } = await timed('port: until idle', () => container.finished());

    // The runner's events with the counts: a failure shows what the runner did instead.
    expect({
      exitCode,
      succeeded: lines.filter((l) => l.event === 'task-succeeded').length,
      retried: lines.filter((l) => l.event === 'task-attempt-failed' && l.final !== true).length,
      events: lines.map((l) => JSON.stringify([l.event, l.taskId, l.message])),
    }).toMatchObject({ exitCode: 0, succeeded: 5, retried: 0 });
    for (const name of names.filter((n) => n !== 'bad.txt')) {
      const record = await readRecord(run, ids.get(name) ?? '');
      expect(record).toMatchObject({
        status: 'succeeded',
        attempts: [expect.objectContaining({ attempt: 1 })],
      });
      const result = await run.store.getText({ bucket: run.outputBucket, key: `results/${name}/result.bin` });
      expect(result?.text).toBe(`content of port/${name}\n`);
      const log = await attemptLogText(run.store, run.outputBucket, record.attempts[0]);
      expect(log).toContain(`served ${name}`);
      // One server for every task: never started again.
      expect(log).not.toContain('starting it again');
    }
    const bad = await readRecord(run, ids.get('bad.txt') ?? '');
    expect(bad.status).toBe('failed');
    expect(bad.attempts).toHaveLength(1);
    const badLog = await attemptLogText(run.store, run.outputBucket, bad.attempts[0]);
    expect(badLog).toContain('cannot use bad.txt');
    expect(await listKeys(run.store, run.outputBucket, 'results/bad.txt/')).toEqual([]);
  });

  it('releases the task on podman stop without using an attempt, exits 0, and another runner finishes it', async () => {
    const { aws, run } = await newRun('wf-stop');
    const task = await enqueue(run, 'stop/slow.txt');
    const base = {
      input: { bucket: run.inputBucket, prefix: 'stop/', include: ['**'] },
      maxAttempts: 1,
      timeoutSeconds: 60,
      idleSeconds: 3,
    };
    const first = await runner(
      aws,
      processImage,
      processManifest,
      runnerConfig(run, { ...base, env: { MODE: 'slow' }, workerId: 'wf-stop-a' }),
    );
    await first.waitFor('task-started', { taskId: task });
    // Let the algorithm get into its sleep, then stop the container as an orchestrator would.
    await new Promise((resolve) => setTimeout(resolve, 1000));
    const stopped = Date.now();
    await engine.stop(first.id, { timeoutSeconds: 10 });
    const stopMs = Date.now() - stopped;
    timings['stop: podman stop'] = stopMs;
    const ended = await first.finished();

    expect(ended.exitCode).toBe(0);
    // Well before podman's 10 s grace: the runner stopped itself, it was not killed.
    expect(stopMs).toBeLessThan(9000);
    expect(ended.lines.find((l) => l.event === 'task-released')).toMatchObject({
      taskId: task,
      attemptsUsed: 0,
    });
    expect(ended.lines.at(-1)).toMatchObject({
      event: 'runner-exiting',
      tasks: expect.objectContaining({ released: 1, failed: 0 }),
    });

    const second = await runner(
      aws,
      processImage,
      processManifest,
      runnerConfig(run, { ...base, workerId: 'wf-stop-b' }),
    );
    const finished = await timed('stop: second runner until idle', () => second.finished());
    expect(finished.exitCode).toBe(0);
    // maxAttempts is 1: had the release used the attempt, nothing would be left to run.
    expect(finished.lines.find((l) => l.event === 'task-succeeded')).toMatchObject({
      taskId: task,
      attempt: 1,
    });
    const record = await readRecord(run, task);
    expect(record.status).toBe('succeeded');
    expect(record.attempts).toEqual(
      expect.arrayContaining([
        expect.objectContaining({
          attempt: 1,
          workerId: 'wf-stop-a',
          message: expect.stringMatching(/released/),
        }),
        expect.objectContaining({ attempt: 1, workerId: 'wf-stop-b', exitCode: 0 }),
      ]),
    );
    expect(
      await run.store.getText({ bucket: run.outputBucket, key: 'results/slow.txt/result.bin' }),
    ).toMatchObject({ text: 'content of stop/slow.txt\n' });
  });
});

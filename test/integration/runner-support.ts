// Shared set-up of the runner's integration tests: a run on the test bed's moto server (buckets, a
// task queue with its dead-letter queue, S3 → SQS notifications), manifests for the fixture
// algorithms, runners in this process or as real processes, and readers of the ledger.
import { spawn, type ChildProcess, type ChildProcessByStdio } from 'node:child_process';
import { mkdir, mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Readable } from 'node:stream';

import type { S3Client } from '@aws-sdk/client-s3';
import {
  JsonLog,
  S3ObjectStore,
  S3Presigner,
  SqsQueues,
  SqsTaskQueue,
  type ObjectStore,
  type RunnerConfig,
  type TaskRecord,
} from '@sluice/core';
import { BrokerService, TaskControl, listenBroker, newBrokerKey, newBrokerToken } from '@sluice/core/broker';
import { REPOSITORY_ROOT, TESTBED_CREDENTIALS, readTaskState, type TestAwsAccount } from '@sluice/testing';

import { assembleRunner, directSource, type AssembledRunner } from '../../packages/runner/src/assemble.js';
import { loadSettings, type RunnerSettings } from '../../packages/runner/src/config/settings.js';
import { BrokerTaskSource, bearerToken } from '../../packages/runner/src/sources/broker-source.js';

export const ALGORITHMS = join(REPOSITORY_ROOT, 'test/fixtures/algorithms');
export const RUNNER_BUNDLE = join(REPOSITORY_ROOT, 'packages/runner/dist/index.js');

/** A run on moto: buckets, queues, adapters. */
export interface TestRun {
  readonly runId: string;
  readonly inputBucket: string;
  readonly outputBucket: string;
  readonly queueUrl: string;
  readonly deadLetterUrl: string;
  readonly store: ObjectStore;
  readonly queue: SqsTaskQueue;
  readonly deadLetter: SqsTaskQueue;
  readonly dir: string;
}

/** Creates the buckets and queues of a run; with `notify`, S3 events on the input bucket feed the queue. */
export async function createRun(
  aws: TestAwsAccount,
  options: { notify?: boolean; sharedBucket?: boolean; visibilitySeconds?: number } = {},
): Promise<TestRun> {
  const inputBucket = await aws.createBucket('in');
  const outputBucket = options.sharedBucket === true ? inputBucket : await aws.createBucket('out');
  const queues = new SqsQueues(aws.sqs);
  const ensured = await queues.ensureQueue(aws.queueName('tasks'), {
    visibilityTimeoutSeconds: options.visibilitySeconds ?? 6,
    // Above maxAttempts: the runner moves a task's last failure itself, with its final record.
    deadLetter: { maxReceiveCount: 10, name: aws.queueName('dlq') },
  });
  aws.trackQueue(ensured.url);
  if (ensured.deadLetter === undefined) throw new Error('no dead-letter queue');
  aws.trackQueue(ensured.deadLetter.url);
  const store = new S3ObjectStore(aws.s3);
  if (options.notify === true) {
    await store.putQueueNotifications(inputBucket, {
      queues: [{ queueArn: ensured.arn, events: ['s3:ObjectCreated:*'] }],
    });
  }
  return {
    runId: `it-${aws.id.slice(0, 8)}`,
    inputBucket,
    outputBucket,
    queueUrl: ensured.url,
    deadLetterUrl: ensured.deadLetter.url,
    store,
    queue: new SqsTaskQueue(aws.sqs, ensured.url),
    deadLetter: new SqsTaskQueue(aws.sqs, ensured.deadLetter.url),
    dir: await mkdtemp(join(tmpdir(), 'sluice-runner-it-')),
  };
}

/** Writes a manifest for a fixture algorithm and returns its path. */
export async function writeManifest(
  run: TestRun,
  fields: Record<string, unknown>,
  name = 'algorithm.json',
): Promise<string> {
  const path = join(run.dir, name);
  await writeFile(
    path,
    JSON.stringify({
      name: 'fixture',
      version: '1.0.0',
      image: 'example.com/fixture:1',
      memory: 256,
      input: '/data/in/',
      output: '/data/out/',
      command: ['/bin/sh', join(ALGORITHMS, 'copy.sh'), '{input}', '{output}'],
      ...fields,
    }),
  );
  return path;
}

/** The runner's configuration for a run, with short timings for tests. */
export function runnerConfig(run: TestRun, overrides: Partial<RunnerConfig> = {}): RunnerConfig {
  return {
    runId: run.runId,
    queueUrl: run.queueUrl,
    deadLetterQueueUrl: run.deadLetterUrl,
    input: { bucket: run.inputBucket, prefix: '', include: ['**'] },
    output: { bucket: run.outputBucket, prefix: 'results/' },
    maxAttempts: 3,
    timeoutSeconds: 20,
    idleSeconds: 3,
    heartbeatSeconds: 2,
    retryDelaySeconds: 0,
    env: {},
    secretEnv: [],
    ...overrides,
  };
}

/** The environment of a runner process (or of `loadSettings` for an in-process one). */
export async function runnerEnv(
  aws: TestAwsAccount,
  run: TestRun,
  config: RunnerConfig,
  manifestPath: string,
  extra: Record<string, string> = {},
): Promise<Record<string, string>> {
  const pathRoot = config.pathRoot ?? (await mkdtemp(join(run.dir, 'root-')));
  await mkdir(pathRoot, { recursive: true });
  return {
    PATH: process.env.PATH ?? '/usr/bin:/bin',
    HOME: run.dir,
    AWS_ENDPOINT_URL: aws.endpoint,
    AWS_REGION: aws.region,
    AWS_ACCESS_KEY_ID: TESTBED_CREDENTIALS.accessKeyId,
    AWS_SECRET_ACCESS_KEY: TESTBED_CREDENTIALS.secretAccessKey,
    AWS_SESSION_TOKEN: 'session-token-that-must-not-leak',
    SLUICE_RUN: JSON.stringify({ ...config, pathRoot }),
    SLUICE_MANIFEST: manifestPath,
    ...extra,
  };
}

/** The two ways a runner reaches its run; the runner tests run in both. */
export const MODES = ['direct', 'sealed'] as const;
export type Mode = (typeof MODES)[number];

/** A run's broker in this process on loopback (sealed mode), over the run's store and queues. */
export interface TestBroker {
  readonly url: string;
  readonly token: string;
  readonly key: string;
  /** The broker's JSON log (the control's events: dropped, rejected, already done). */
  readonly lines: Record<string, unknown>[];
  close(): Promise<void>;
}

/**
 * Starts a broker for the run the runner environment `env` describes, presigning with `s3` (the
 * store's own client: moto's or SeaweedFS's).
 */
export async function startTestBroker(
  run: Pick<TestRun, 'store' | 'queue' | 'deadLetter'>,
  s3: S3Client,
  env: Record<string, string>,
  options: { key?: string; port?: number; token?: string } = {},
): Promise<TestBroker> {
  const settings = await loadSettings(env);
  const lines: Record<string, unknown>[] = [];
  const log = new JsonLog({ runId: settings.config.runId, role: 'broker' }, [], (line) => {
    lines.push(JSON.parse(line) as Record<string, unknown>);
  });
  const token = options.token ?? newBrokerToken();
  const key = options.key ?? newBrokerKey();
  const control = new TaskControl({
    settings,
    store: run.store,
    queue: run.queue,
    deadLetter: run.deadLetter,
    log,
  });
  const service = new BrokerService({ settings, control, presigner: new S3Presigner(s3), key, log });
  const listener = await listenBroker(service, { token, host: '127.0.0.1', port: options.port ?? 0, log });
  return { url: listener.url, token, key, lines, close: () => listener.close() };
}

/**
 * A runner in this process, on the test account's clients (direct) or asking `broker` for its
 * tasks (sealed); `lines` collects its JSON log.
 */
export async function inProcessRunner(
  run: TestRun,
  env: Record<string, string>,
  broker?: TestBroker,
): Promise<{ assembled: AssembledRunner; settings: RunnerSettings; lines: Record<string, unknown>[] }> {
  const settings = await loadSettings(env);
  const lines: Record<string, unknown>[] = [];
  const log = new JsonLog(
    { runId: settings.config.runId, workerId: settings.workerId },
    [...settings.secrets],
    (line) => {
      lines.push(JSON.parse(line) as Record<string, unknown>);
    },
  );
  const source =
    broker === undefined
      ? directSource(settings, { store: run.store, queue: run.queue, deadLetter: run.deadLetter }, log)
      : new BrokerTaskSource(broker.url, bearerToken(broker.token), settings.workerId, log);
  const assembled = await assembleRunner(settings, source, log, env);
  return { assembled, settings, lines };
}

/** Runs an in-process runner until it is idle. */
export async function runUntilIdle(
  run: TestRun,
  env: Record<string, string>,
  broker?: TestBroker,
): Promise<Record<string, unknown>[]> {
  const { assembled, lines } = await inProcessRunner(run, env, broker);
  try {
    await assembled.runner.run(new AbortController().signal);
  } finally {
    await assembled.close();
  }
  return lines;
}

/** A runner as a real process (the committed bundle), its stdout lines and its exit. */
export interface RunnerProcess {
  readonly child: ChildProcess;
  readonly lines: Record<string, unknown>[];
  readonly exited: Promise<number | null>;
  /** Resolves when a log line with this event appears. */
  waitFor(event: string, timeoutMs?: number): Promise<Record<string, unknown>>;
}

export function spawnRunner(env: Record<string, string>): RunnerProcess {
  const child: ChildProcessByStdio<null, Readable, Readable> = spawn(process.execPath, [RUNNER_BUNDLE], {
    env,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const lines: Record<string, unknown>[] = [];
  const waiters: { event: string; resolve: (line: Record<string, unknown>) => void }[] = [];
  let pending = '';
  let stderr = '';
  child.stdout.on('data', (chunk: Buffer) => {
    pending += chunk.toString();
    let newline = pending.indexOf('\n');
    while (newline !== -1) {
      const text = pending.slice(0, newline);
      pending = pending.slice(newline + 1);
      newline = pending.indexOf('\n');
      const line = JSON.parse(text) as Record<string, unknown>;
      lines.push(line);
      for (const waiter of waiters.filter((w) => w.event === line.event)) waiter.resolve(line);
    }
  });
  child.stderr.on('data', (chunk: Buffer) => {
    stderr += chunk.toString();
  });
  const exited = new Promise<number | null>((resolve) => {
    child.once('close', (code) => {
      if (stderr.trim() !== '') process.stderr.write(`runner stderr: ${stderr}\n`);
      resolve(code);
    });
  });
  return {
    child,
    lines,
    exited,
    waitFor: (event, timeoutMs = 60_000) => {
      const seen = lines.find((line) => line.event === event);
      if (seen !== undefined) return Promise.resolve(seen);
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => {
          reject(
            new Error(
              `no "${event}" event within ${timeoutMs} ms; saw: ${lines.map((l) => String(l.event)).join(', ')}`,
            ),
          );
        }, timeoutMs);
        waiters.push({
          event,
          resolve: (line) => {
            clearTimeout(timer);
            resolve(line);
          },
        });
      });
    },
  };
}

/** Every key under a prefix of a bucket. */
export async function listKeys(store: ObjectStore, bucket: string, prefix = ''): Promise<string[]> {
  const keys: string[] = [];
  for await (const page of store.list(bucket, prefix)) keys.push(...page.map((o) => o.key));
  return keys;
}

/** A task as it stands: its record merged with its completion marker, validated. */
export async function readRecord(run: TestRun, taskId: string): Promise<TaskRecord> {
  const found = await readTaskState(run.store, run.outputBucket, run.runId, taskId);
  if (found === undefined) throw new Error(`no task record _sluice/${run.runId}/tasks/${taskId}.json`);
  return found;
}

/** 30 keys: spaces, `+`, unicode, nesting, shell and URL metacharacters, a zero-byte and a 20 MB file. */
export const AWKWARD_KEYS = [
  'plain.txt',
  'with space.txt',
  'plus+sign.txt',
  'both + and space.txt',
  'ünïcödé/文件.txt',
  'nested/deep/a/b/c.txt',
  'percent%20literal.txt',
  'emoji 🎉.txt',
  "quote's.txt",
  'dir/with space/file (1).txt',
  'UPPER.TXT.txt',
  'upper.txt.txt',
  'a=b&c.txt',
  'semi;colon.txt',
  '~tilde.txt',
  'hash#tag.txt',
  'question?.txt',
  'comma,name.txt',
  'brackets[1].txt',
  'braces{x}.txt',
  'dollar$.txt',
  'at@sign.txt',
  '.hidden.txt',
  'trailing.dot..txt',
  '-leading-dash.txt',
  'x/..dots../file.txt',
  'star*.txt',
  'back\\slash.txt',
  'empty.bin',
  'big.bin',
];

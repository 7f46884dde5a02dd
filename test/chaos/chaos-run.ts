// One chaos run: a whole `sluice run` of the committed CLI bundle (local backend, real runner
// containers of a wrapped busybox image under podman, the test bed's moto behind the fault proxy)
// while runners are SIGKILLed, requests fail and every input is delivered twice or more; in sealed
// mode the `sluice run` process (and its broker) is SIGKILLed and the run carried on by `sluice
// collect`, which is itself SIGKILLed and started again. Then the checks of checks.ts.
import { execFile } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';

import {
  CreateBucketCommand,
  DeleteObjectsCommand,
  ListObjectsV2Command,
  PutObjectCommand,
} from '@aws-sdk/client-s3';
import { GetQueueUrlCommand, SendMessageBatchCommand } from '@aws-sdk/client-sqs';
import { containerEngineEnv, type TestAwsAccount } from '@sluice/testing';

import { runCli, runIdIn, startCli, userShellEnv, type CliRun, type RunningCli } from '../e2e/e2e-support.js';
import type { ChaosInput } from './chaos-algorithm.js';
import { checkRun, listAll, type RunCheck } from './checks.js';
import type { FaultProxy } from './fault-proxy.js';
import type { Prng } from './prng.js';

const execFileAsync = promisify(execFile);

/** How one run is shaken. */
export interface ChaosRunPlan {
  readonly label: string;
  readonly mode: 'direct' | 'sealed';
  readonly inputs: readonly ChaosInput[];
  /** Kills of a random runner container at random moments. */
  readonly randomKills: number;
  /** Extra deliveries: every input once more, and this share of them once more again. */
  readonly thirdDeliveryShare: number;
  /** Sealed mode: SIGKILL `sluice run` (its broker) once, then `sluice collect` once, each restarted. */
  readonly restartSluice: boolean;
  readonly retries: number;
  readonly timeoutSeconds: number;
}

/** What a run left, for the report. */
export interface ChaosRunResult {
  readonly label: string;
  readonly runId: string;
  readonly check: RunCheck;
  readonly ms: number;
  /** Exit codes of each sluice process that was let finish (run, collect), with what it printed last. */
  readonly exits: readonly { readonly step: string; readonly code: number | null; readonly tail: string }[];
  readonly sluiceKills: { broker: number; collect: number };
  readonly deliveries: number;
}

/** The shared parts of every run. */
export interface ChaosContext {
  readonly aws: TestAwsAccount;
  readonly workspace: string;
  readonly algorithm: string;
  readonly proxy: FaultProxy;
  readonly prng: Prng;
  readonly log: (line: string) => void;
}

const podmanEnv = (): NodeJS.ProcessEnv => ({ ...process.env, ...containerEngineEnv() });

/** SIGKILLs a runner container by name (already gone is fine). */
export async function killContainer(name: string): Promise<void> {
  await execFileAsync('podman', ['kill', '-s', 'KILL', name], { env: podmanEnv() }).catch(() => undefined);
}

async function runningRunners(runId: string): Promise<string[]> {
  const { stdout } = await execFileAsync(
    'podman',
    [
      'ps',
      '--filter',
      `label=org.sluice.run=${runId}`,
      '--filter',
      'status=running',
      '--format',
      '{{.Names}}',
    ],
    { env: podmanEnv() },
  );
  return stdout.split('\n').filter((line) => line.trim() !== '');
}

const tail = (text: string, lines = 25): string => text.split('\n').slice(-lines).join('\n');

/** Runs one chaos run to its end and checks it. */
export async function chaosRun(ctx: ChaosContext, plan: ChaosRunPlan): Promise<ChaosRunResult> {
  const { aws, workspace, proxy, log } = ctx;
  const prng = ctx.prng.fork(plan.label);
  const started = Date.now();
  const id = aws.id.slice(0, 6);
  const inputBucket = aws.bucketName(`${plan.label}-in`);
  const outputBucket = aws.bucketName(`${plan.label}-out`);
  aws.trackBucket(inputBucket);
  aws.trackBucket(outputBucket);
  const inputPrefix = 'in/';
  const outputPrefix = 'out/';

  // The inputs are in the bucket before the run: dispatch's listing enqueues each once.
  await aws.s3.send(new CreateBucketCommand({ Bucket: inputBucket }));
  const etags = new Map<string, string>();
  const queue = [...plan.inputs];
  await Promise.all(
    Array.from({ length: 8 }, async () => {
      for (let input = queue.shift(); input !== undefined; input = queue.shift()) {
        const put = await aws.s3.send(
          new PutObjectCommand({
            Bucket: inputBucket,
            Key: `${inputPrefix}${input.name}`,
            Body: input.content,
          }),
        );
        etags.set(input.name, (put.ETag ?? '').replaceAll('"', ''));
      }
    }),
  );

  const jobFile = `job-${plan.label}.json`;
  writeFileSync(
    join(workspace, jobFile),
    `${JSON.stringify(
      {
        name: `chaos-${plan.label}-${id}`,
        algorithm: `${ctx.algorithm}@1.0`,
        mode: plan.mode,
        input: { bucket: inputBucket, prefix: inputPrefix },
        output: { bucket: outputBucket, prefix: outputPrefix },
        aws: { region: aws.region, credentials: 'environment' },
        compute: { backend: 'local', maxWorkers: 2, idleSeconds: 120 },
        retries: plan.retries,
      },
      null,
      2,
    )}\n`,
  );
  const env = userShellEnv(
    { workspace, awsEndpoint: proxy.url, region: aws.region },
    { SLUICE_STATE_DIR: join(workspace, 'state') },
  );
  const untilArgs = [
    '--until',
    'count',
    '--expected',
    String(plan.inputs.length),
    '--timeout',
    String(plan.timeoutSeconds),
  ];
  const kinds = new Map(plan.inputs.map((i) => [`${inputPrefix}${i.name}`, i.kind]));

  const exits: { step: string; code: number | null; tail: string }[] = [];
  const sluiceKills = { broker: 0, collect: 0 };
  const state = { finished: false };
  let current: RunningCli = startCli(
    ['run', jobFile, '--keep', ...untilArgs],
    workspace,
    env,
    plan.timeoutSeconds * 1000,
  );
  let currentStep = 'run';
  const runId = runIdIn(await current.stderrMatches(/run [a-z0-9-]+: provisioned/));
  log(`${plan.label}: run ${runId}, ${plan.inputs.length} inputs, ${plan.mode} mode`);
  proxy.watchRun({
    runId,
    inputBucket,
    inputPrefix,
    outputBucket,
    outputPrefix,
    killable: (key) => kinds.get(key) === 'ok' || kinds.get(key) === 'slow',
    slow: (key) => kinds.get(key) === 'slow',
  });

  // Every message delivered twice or more: task messages of our own beside dispatch's.
  const queueUrl = (await aws.sqs.send(new GetQueueUrlCommand({ QueueName: `sluice-${runId}-tasks` })))
    .QueueUrl;
  const bodies: string[] = [];
  for (const input of plan.inputs) {
    const message = JSON.stringify({
      sluice: 1,
      runId,
      bucket: inputBucket,
      key: `${inputPrefix}${input.name}`,
      etag: etags.get(input.name),
      size: Buffer.byteLength(input.content),
    });
    bodies.push(message);
    if (prng.chance(plan.thirdDeliveryShare)) bodies.push(message);
  }
  for (let i = 0; i < bodies.length; i += 10) {
    await aws.sqs.send(
      new SendMessageBatchCommand({
        QueueUrl: queueUrl,
        Entries: bodies.slice(i, i + 10).map((MessageBody, j) => ({ Id: String(j), MessageBody })),
      }),
    );
  }
  await current.stderrMatches(/dispatched/).catch(() => undefined);
  proxy.hostFaults = true;

  // Random kills, at seeded moments.
  const randomKiller = (async () => {
    for (let k = 0; k < plan.randomKills && !state.finished; k += 1) {
      // Spread over the run: about 2.5 s of a run's wall time per input (measured here), shared out.
      const gap = Math.max(20_000, (plan.inputs.length * 2_500) / (plan.randomKills + 1));
      await sleep(prng.int(Math.round(gap / 4), gap));
      // eslint-disable-next-line @typescript-eslint/no-unnecessary-condition -- set by the run's end meanwhile
      if (state.finished) break;
      const names = await runningRunners(runId).catch(() => []);
      if (names.length === 0) continue;
      const name = prng.pick(names);
      proxy.countKill('random');
      log(`${plan.label}: random kill of ${name}`);
      await killContainer(name);
    }
  })();

  const markers = async (): Promise<number> => {
    let n = 0;
    let token: string | undefined;
    do {
      const page = await aws.s3.send(
        new ListObjectsV2Command({
          Bucket: outputBucket,
          Prefix: `_sluice/${runId}/done/`,
          ...(token !== undefined && { ContinuationToken: token }),
        }),
      );
      n += page.KeyCount ?? 0;
      token = page.NextContinuationToken;
    } while (token !== undefined);
    return n;
  };
  const waitForMarkers = async (n: number, cli: RunningCli): Promise<boolean> => {
    const exited = { done: false };
    void cli.exited.then(() => {
      exited.done = true;
    });
    while (!exited.done) {
      if ((await markers().catch(() => 0)) >= n) return true;
      await sleep(2000);
    }
    return false;
  };
  const collect = (): RunningCli =>
    startCli(['collect', jobFile, ...untilArgs], workspace, env, plan.timeoutSeconds * 1000);

  try {
    if (plan.restartSluice) {
      // The broker lives in the sluice process that tops up the runners: kill it with `sluice run`.
      const third = Math.ceil(plan.inputs.length / 3);
      if (await waitForMarkers(third, current)) {
        log(`${plan.label}: SIGKILL sluice run (and its broker) after ${third} markers`);
        current.kill('SIGKILL');
        await current.exited;
        sluiceKills.broker += 1;
        await sleep(prng.int(1000, 8000));
        current = collect();
        currentStep = 'collect (after the broker was killed)';
        if (await waitForMarkers(2 * third, current)) {
          log(`${plan.label}: SIGKILL sluice collect after ${2 * third} markers`);
          current.kill('SIGKILL');
          await current.exited;
          sluiceKills.collect += 1;
          await sleep(prng.int(1000, 5000));
          current = collect();
          currentStep = 'collect (after collect was killed)';
        }
      }
    }
    let ended: CliRun = await current.exited;
    exits.push({ step: currentStep, code: ended.code, tail: tail(ended.stderr) + tail(ended.stdout, 5) });
    if (ended.code !== 0) {
      // The property "sluice exits 0 for a completed run" failed; carry the run on to check the rest.
      log(
        `${plan.label}: sluice ${currentStep} exited ${String(ended.code)}; carrying on with sluice collect`,
      );
      ended = await collect().exited;
      exits.push({
        step: 'collect (carrying on)',
        code: ended.code,
        tail: tail(ended.stderr) + tail(ended.stdout, 5),
      });
    }
  } finally {
    state.finished = true;
    await randomKiller;
    proxy.hostFaults = false;
    const teardown = await runCli(
      ['teardown', jobFile],
      workspace,
      userShellEnv(
        { workspace, awsEndpoint: aws.endpoint, region: aws.region },
        { SLUICE_STATE_DIR: join(workspace, 'state') },
      ),
    );
    if (teardown.code !== 0)
      log(`${plan.label}: teardown exited ${String(teardown.code)}:\n${tail(teardown.stderr)}`);
  }

  const check = await checkRun(aws.s3, {
    runId,
    inputBucket,
    inputPrefix,
    outputBucket,
    outputPrefix,
    maxAttempts: plan.retries + 1,
    inputs: plan.inputs,
  });
  // At once, not only in the report at the end (a long run beside another is read while it goes).
  log(
    `${plan.label}: checked in ${Math.round((Date.now() - started) / 1000)} s: ${check.succeeded} succeeded, ${check.failed} failed as expected, lost ${check.lost}, duplicates ${check.duplicates}, wrong outputs ${check.wrongOutputs}, ${check.violations.length} violation(s)`,
  );
  for (const v of check.violations.slice(0, 30))
    log(`${plan.label}: [${v.property}] ${v.input}: ${v.detail}`);
  // The test account's cleanup pages through versions while it deletes, which moto answers wrongly
  // past 1,000 keys: empty the buckets here, from the start each time. SLUICE_CHAOS_KEEP=1 keeps them.
  if (process.env.SLUICE_CHAOS_KEEP === undefined) {
    for (const bucket of [inputBucket, outputBucket]) {
      for (
        let keys = await listAll(aws.s3, bucket, '');
        keys.length > 0;
        keys = await listAll(aws.s3, bucket, '')
      ) {
        for (let i = 0; i < keys.length; i += 1000) {
          await aws.s3.send(
            new DeleteObjectsCommand({
              Bucket: bucket,
              Delete: { Objects: keys.slice(i, i + 1000).map((o) => ({ Key: o.key })), Quiet: true },
            }),
          );
        }
      }
    }
  } else {
    log(`${plan.label}: kept s3://${inputBucket} and s3://${outputBucket} (SLUICE_CHAOS_KEEP)`);
  }
  return {
    label: plan.label,
    runId,
    check,
    ms: Date.now() - started,
    exits,
    sluiceKills,
    deliveries: plan.inputs.length + bodies.length,
  };
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

// End to end, as a user meets it: `sluice serve` (the CLI bundle, packages/cli/dist/index.js, run as
// a process against the test bed's moto server and podman) picks up files uploaded after it started,
// through the S3 notification and the task queue, and on SIGTERM stops its runner containers and
// exits 0 with the run still provisioned; `sluice teardown` then removes it.
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { GetObjectCommand, PutObjectCommand } from '@aws-sdk/client-s3';
import { GetQueueAttributesCommand } from '@aws-sdk/client-sqs';
import { describe, expect, it } from '@jest/globals';
import { TestAwsAccount } from '@sluice/testing';

import {
  keysUnder,
  queuesNamed,
  runnerContainers,
  startCli,
  useWrappedAlgorithm,
  userShellEnv,
  type CliRun,
  type RunningCli,
} from './e2e-support.js';

const aws = new TestAwsAccount({ label: 'serve' });
const id = aws.id.slice(0, 8);
const workspace = mkdtempSync(join(tmpdir(), 'sluice-serve-'));
const algorithm = `serve-${id}`;

function startSluice(args: string[], timeoutMs: number): RunningCli {
  return startCli(
    args,
    workspace,
    userShellEnv({ workspace, awsEndpoint: aws.endpoint, region: aws.region }),
    timeoutMs,
  );
}

function sluice(args: string[], timeoutMs = 180_000): Promise<CliRun> {
  return startSluice(args, timeoutMs).exited;
}

function queuesOf(jobName: string): Promise<string[]> {
  return queuesNamed(aws, `sluice-${jobName}-${id}`);
}

/** Polls until `bucket` holds `expected` under `prefix`, or gives up after `timeoutMs` with what it saw. */
async function waitForKeys(
  bucket: string,
  prefix: string,
  expected: string[],
  timeoutMs: number,
): Promise<string[]> {
  const deadline = Date.now() + timeoutMs;
  let keys = await keysUnder(aws, bucket, prefix);
  while (expected.some((key) => !keys.includes(key)) && Date.now() < deadline) {
    await new Promise((resolve) => setTimeout(resolve, 2000));
    keys = await keysUnder(aws, bucket, prefix);
  }
  return keys;
}

useWrappedAlgorithm({
  workspace,
  algorithm,
  aws,
  wrap: () => sluice(['wrap', 'algorithm/algorithm.json'], 300_000),
});

describe('sluice serve', () => {
  it('processes files uploaded after it started; SIGTERM stops the runners, keeps the run and exits 0', async () => {
    const input = aws.bucketName('serve-in');
    const output = aws.bucketName('serve-out');
    aws.trackBucket(input);
    aws.trackBucket(output);
    writeFileSync(
      join(workspace, 'serve.json'),
      `${JSON.stringify({
        name: `serve-${id}`,
        algorithm: `${algorithm}@1.0`,
        aws: { region: aws.region, credentials: 'environment' },
        input: { bucket: input, prefix: 'in/', create: true },
        output: { bucket: output, prefix: 'out/' },
        compute: { backend: 'local', maxWorkers: 2, idleSeconds: 20 },
        retries: 0,
      })}\n`,
    );

    const serve = startSluice(['serve', 'serve.json', '--status-every', '1'], 400_000);
    const ready = await serve.stderrMatches(/run [a-z0-9-]+: serving — upload files to \S+/);
    const runId = /run ([a-z0-9-]+):/.exec(ready)?.[1] ?? '';
    expect(ready).toContain(`upload files to s3://${input}/in/`);
    await serve.stderrMatches(/dispatched: 0 listed/);
    for (const name of ['1.txt', '2.txt', 'sub/3.txt']) {
      await aws.s3.send(
        new PutObjectCommand({ Bucket: input, Key: `in/${name}`, Body: `content of ${name}` }),
      );
    }
    const expected = ['out/1.txt/result.txt', 'out/2.txt/result.txt', 'out/sub/3.txt/result.txt'];
    const produced = await waitForKeys(output, 'out/', expected, 240_000);
    expect(produced).toEqual(expected);
    const result = await aws.s3.send(
      new GetObjectCommand({ Bucket: output, Key: 'out/sub/3.txt/result.txt' }),
    );
    expect(await result.Body?.transformToString()).toBe('processed\ncontent of sub/3.txt');
    // The status line counts them once their records are final (collect polls every 2-30 s).
    await serve.stderrMatches(/serving: 3 done, 0 failed, 0 running, 0 queued/);
    serve.kill('SIGTERM');
    const exited = await serve.exited;

    expect(exited.code).toBe(0);
    expect(exited.stderr).toContain('SIGTERM: stopping');
    expect(exited.stdout).toMatch(
      new RegExp(
        `^run ${runId}: stopped serving after \\S+; \\d+ runner container\\(s\\) stopped; 3 succeeded, 0 failed so far$`,
        'm',
      ),
    );
    expect(exited.stdout).toContain('left in the queue: 0 task(s)');
    expect(exited.stdout).toContain('to tear the run down: sluice teardown serve.json');
    expect(await runnerContainers(runId)).toEqual([]);
    expect(await queuesOf('serve')).toHaveLength(2);
    // An upload while nobody serves waits in the task queue for the next serve. It may show as in
    // flight: a runner stopped during its long poll leaves the poll open at the server (moto), which
    // takes the message; it is visible again after the visibility timeout.
    await aws.s3.send(new PutObjectCommand({ Bucket: input, Key: 'in/later.txt', Body: 'later' }));
    const taskQueue = (await queuesOf('serve')).find((url) => url.endsWith('-tasks')) ?? '';
    const inQueue = async (): Promise<number> => {
      const { Attributes } = await aws.sqs.send(
        new GetQueueAttributesCommand({
          QueueUrl: taskQueue,
          AttributeNames: ['ApproximateNumberOfMessages', 'ApproximateNumberOfMessagesNotVisible'],
        }),
      );
      return (
        Number(Attributes?.ApproximateNumberOfMessages) +
        Number(Attributes?.ApproximateNumberOfMessagesNotVisible)
      );
    };
    for (let tries = 0; tries < 10 && (await inQueue()) === 0; tries += 1) {
      await new Promise((resolve) => setTimeout(resolve, 1000));
    }
    expect(await inQueue()).toBe(1);

    const teardown = await sluice(['teardown', 'serve.json']);
    expect(teardown.code).toBe(0);
    expect(await queuesOf('serve')).toEqual([]);
  }, 600_000);
});

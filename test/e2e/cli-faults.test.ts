// End to end, as a user meets them: bad input and faults through the committed CLI bundle
// (packages/cli/dist/index.js) run as a process against the test bed's moto server and podman.
// Each case checks the exit status, that the message says what is wrong and what to do (no stack
// trace for a fault sluice understands), and that nothing is left that teardown cannot remove:
// - a job naming an algorithm nobody wrapped, a missing input bucket, input inside the output;
// - AWS unreachable, no credentials at all;
// - a prefix with no files (the run completes with 0 inputs and says why);
// - results under the input prefix of the same bucket (never taken as inputs: no loop);
// - Ctrl-C during `sluice run` (runners stopped, run torn down, exit 130).
// The interrupted provision is covered by packages/testing/src/run-lifecycle.test.ts, which can stop
// a provision at an exact point.
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { GetObjectCommand } from '@aws-sdk/client-s3';
import { describe, expect, it } from '@jest/globals';
import { TestAwsAccount } from '@sluice/testing';

import {
  keysUnder,
  queuesNamed,
  runCli,
  runIdIn,
  runnerContainers,
  startCli,
  useWrappedAlgorithm,
  userShellEnv,
  type CliRun,
} from './e2e-support.js';

const aws = new TestAwsAccount({ label: 'faults' });
const id = aws.id.slice(0, 8);
const workspace = mkdtempSync(join(tmpdir(), 'sluice-faults-'));
const algorithm = `faults-${id}`;

/** A user's shell on the test bed; `overrides` set or (undefined) unset variables. */
function userEnv(overrides: Readonly<Record<string, string | undefined>> = {}): NodeJS.ProcessEnv {
  return userShellEnv({ workspace, awsEndpoint: aws.endpoint, region: aws.region }, overrides);
}

function sluice(args: string[], env = userEnv()): Promise<CliRun> {
  return runCli(args, workspace, env);
}

/** Writes `<name>.json` in the workspace: a local-backend job of the test algorithm. */
function writeJob(name: string, fields: Record<string, unknown>): string {
  const file = `${name}.json`;
  const job = {
    name: `${name}-${id}`,
    algorithm: `${algorithm}@1.0`,
    aws: { region: aws.region, credentials: 'environment' },
    compute: { backend: 'local', maxWorkers: 2, idleSeconds: 20 },
    retries: 0,
    ...fields,
  };
  writeFileSync(join(workspace, file), `${JSON.stringify(job, null, 2)}\n`);
  return file;
}

/** Writes files under a fresh directory of the workspace: { relative path: content }. */
function writeInputs(dir: string, files: Record<string, string>): string {
  const root = join(workspace, dir);
  for (const [path, content] of Object.entries(files)) {
    mkdirSync(join(root, path, '..'), { recursive: true });
    writeFileSync(join(root, path), content);
  }
  return root;
}

function queuesOf(jobName: string): Promise<string[]> {
  return queuesNamed(aws, `sluice-${jobName}-${id}`);
}

const NO_STACK = /^\s+at .+:\d+:\d+\)?$/m;

useWrappedAlgorithm({ workspace, algorithm, aws, wrap: () => sluice(['wrap', 'algorithm/algorithm.json']) });

describe('a job sluice cannot run: exit 2, what to fix, nothing made', () => {
  it('names an algorithm nobody wrapped', async () => {
    const job = writeJob('unknown', {
      algorithm: `never-wrapped-${id}@2.0`,
      input: { bucket: aws.bucketName('unknown-in'), create: true },
      output: { bucket: aws.bucketName('unknown-out') },
    });

    const run = await sluice(['run', job]);

    expect(run.code).toBe(2);
    expect(run.stderr).toContain(
      `no algorithm never-wrapped-${id}@2.0 is registered in the local image store`,
    );
    expect(run.stderr).toContain('sluice wrap algorithm.json');
    expect(await queuesOf('unknown')).toEqual([]);
  });

  it('reads from an input bucket that does not exist; teardown after it is clean', async () => {
    const job = writeJob('missing', {
      input: { bucket: aws.bucketName('missing-in') },
      output: { bucket: aws.bucketName('missing-out') },
    });
    aws.trackBucket(aws.bucketName('missing-out'));

    const run = await sluice(['provision', job]);

    expect(run.code).toBe(2);
    expect(run.stderr).toContain(
      `${job}: $.input.bucket: the input bucket "${aws.bucketName('missing-in')}"`,
    );
    expect(run.stderr).toContain('set "create": true under "input"');
    const teardown = await sluice(['teardown', job]);
    expect(teardown.code).toBe(0);
    expect(await queuesOf('missing')).toEqual([]);
  });

  it('holds its input prefix inside its output prefix (results would loop), refused before anything is made', async () => {
    const bucket = aws.bucketName('loop');
    const job = writeJob('loop', {
      input: { bucket, prefix: 'results/incoming/', create: true },
      output: { bucket, prefix: 'results/' },
    });

    const run = await sluice(['run', job]);

    expect(run.code).toBe(2);
    expect(run.stderr).toContain('$.output.prefix: with input and output in the same bucket');
    expect(run.stderr).toContain('results could become inputs again');
    expect(await queuesOf('loop')).toEqual([]);
  });
});

describe('AWS faults: a clear message, no stack trace', () => {
  const job = (): string =>
    writeJob('unreachable', {
      input: { bucket: aws.bucketName('unreachable-in'), create: true },
      output: { bucket: aws.bucketName('unreachable-out') },
    });

  it('AWS unreachable: exit 1, says what to check', async () => {
    // Port 9 (discard) has no listener here: the connection is refused at once.
    const run = await sluice(['provision', job()], userEnv({ AWS_ENDPOINT_URL: 'http://127.0.0.1:9' }));

    expect(run.code).toBe(1);
    expect(run.stderr).toContain('ECONNREFUSED');
    expect(run.stderr).toContain('AWS could not be reached: check AWS_ENDPOINT_URL');
    expect(run.stderr).not.toMatch(NO_STACK);
  });

  it('no credentials anywhere: exit 2, says how to provide them', async () => {
    const run = await sluice(
      ['provision', job()],
      userEnv({
        AWS_ACCESS_KEY_ID: undefined,
        AWS_SECRET_ACCESS_KEY: undefined,
        HOME: workspace,
        // Not on EC2: the chain must not wait for an instance role.
        AWS_EC2_METADATA_DISABLED: 'true',
      }),
    );

    expect(run.code).toBe(2);
    expect(run.stderr).toContain(
      'No AWS credentials were found. Set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY',
    );
    expect(run.stderr).not.toMatch(NO_STACK);
    expect(await queuesOf('unreachable')).toEqual([]);
  });
});

describe('runs that are odd but valid', () => {
  it('a prefix with no files completes with 0 inputs and says where it looked', async () => {
    const input = aws.bucketName('empty-in');
    const output = aws.bucketName('empty-out');
    aws.trackBucket(input);
    aws.trackBucket(output);
    const job = writeJob('empty', {
      input: { bucket: input, prefix: 'nothing-here/', create: true },
      output: { bucket: output },
    });

    const run = await sluice(['run', job, '--idle', '3']);

    expect(run.code).toBe(0);
    expect(run.stderr).toContain(`no files under s3://${input}/nothing-here/ yet`);
    expect(run.stderr).toContain('check input.bucket and input.prefix');
    expect(run.stdout).toContain('0 succeeded, 0 failed of 0 inputs');
    expect(await queuesOf('empty')).toEqual([]);
  });

  it('results inside the input prefix of the same bucket are never taken as inputs', async () => {
    const bucket = aws.bucketName('shared');
    aws.trackBucket(bucket);
    const job = writeJob('shared', {
      input: { bucket, prefix: 'data/', create: true },
      output: { bucket, prefix: 'data/results/' },
    });
    const dir = writeInputs('shared-files', { 'a.txt': 'A', 'b/c.txt': 'C', 'd e.txt': 'D' });

    const run = await sluice(['run', job, '--upload', dir]);

    expect(run.code).toBe(0);
    expect(run.stderr).toContain('every result fires an S3 event that the runner drops');
    expect(run.stdout).toContain('3 succeeded, 0 failed of 3 inputs');
    expect(await keysUnder(aws, bucket, 'data/results/')).toEqual([
      'data/results/a.txt/result.txt',
      'data/results/b/c.txt/result.txt',
      'data/results/d e.txt/result.txt',
    ]);
    const results = await aws.s3.send(
      new GetObjectCommand({ Bucket: bucket, Key: `_sluice/${runIdIn(run.stderr)}/results.json` }),
    );
    const tasks = (
      JSON.parse((await results.Body?.transformToString()) ?? '{}') as { tasks: { key: string }[] }
    ).tasks;
    expect(tasks.map((task) => task.key).sort()).toEqual(['data/a.txt', 'data/b/c.txt', 'data/d e.txt']);
  });
});

describe('Ctrl-C during sluice run', () => {
  it('stops the runners, tears the run down and exits 130', async () => {
    const input = aws.bucketName('ctrlc-in');
    const output = aws.bucketName('ctrlc-out');
    aws.trackBucket(input);
    aws.trackBucket(output);
    const job = writeJob('ctrlc', {
      input: { bucket: input, prefix: 'in/', create: true },
      output: { bucket: output },
    });
    const dir = writeInputs('ctrlc-files', { '1.txt': 'slow', '2.txt': 'slow', '3.txt': 'slow' });

    const run = startCli(['run', job, '--upload', dir], workspace, userEnv());
    await run.stderrMatches(/dispatched: .*worker\(s\) running/);
    const runId = runIdIn(await run.stderrMatches(/run [a-z0-9-]+: provisioned/));
    expect(await runnerContainers(runId)).not.toEqual([]);
    run.kill('SIGINT');
    const exited = await run.exited;

    expect(exited.code).toBe(130);
    expect(exited.stderr).toContain('SIGINT: interrupted — stopping the run and tearing it down');
    expect(exited.stderr).toContain('torn down:');
    expect(exited.stderr).toContain('sluice: interrupted during collect');
    expect(await runnerContainers(runId)).toEqual([]);
    expect(await queuesOf('ctrlc')).toEqual([]);
  });
});

// End to end, as a workflow runs it: the five actions executed through their committed bundles
// (actions/<name>/dist/index.js) as separate processes, in order — wrap-algorithm (push: false) of a
// FROM-scratch busybox algorithm, provision-run, an upload of 60 files with the AWS SDK (awkward
// keys: spaces, `+`, `%`, unicode, deep nesting; 3 files the algorithm refuses), dispatch-tasks
// (local backend: podman runner containers), collect-results (until a count) and teardown — with
// inputs as INPUT_* variables, outputs from GITHUB_OUTPUT and the summary from GITHUB_STEP_SUMMARY,
// against the test bed's moto server. The run is a push's: provision-run and collect-results comment
// on the pushed commit through a stand-in GitHub API (where to upload, then the outcome). Checks every
// output object, results.json, the outputs and the summary of collect-results, the two comments, the
// dead-letter queue before teardown, and that teardown leaves no queue of the run and no runner
// container behind.
//
// After wrap-algorithm (which the reusable workflow does not run), the steps are those of
// .github/workflows/sluice-run.yml, read from the file (workflow-chain.ts): each step must be the
// workflow's next one, pass only inputs the workflow's step passes too, and pass the earlier step's
// output wherever the workflow wires one (`run-id: ${{ steps.provision.outputs.run-id }}`). The test
// needs no input the workflow lacks: it waits with `until: count` and a `timeout-seconds`, which the
// workflow exposes as its own inputs.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { GetObjectCommand, PutObjectCommand } from '@aws-sdk/client-s3';
import { ListQueuesCommand, ReceiveMessageCommand } from '@aws-sdk/client-sqs';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { CliContainerEngine } from '@sluice/core/compute';
import { FakeGitHubApi, TestAwsAccount, containerEngineEnv } from '@sluice/testing';

import {
  buildAlgorithmContext,
  describeStep,
  runAction,
  runnerContainers,
  type StepRun,
  type Workflow,
} from './e2e-support.js';
import { workflowChain } from './workflow-chain.js';

const INPUT_PREFIX = 'in/';
const OUTPUT_PREFIX = 'results/';
const FILES = 60;
const FAILING = 3;

/** The reusable workflow's sluice steps; this test runs wrap-algorithm, then exactly these. */
const CHAIN = workflowChain();
const ORDER: readonly string[] = ['wrap-algorithm', ...CHAIN.map((step) => step.action)];

/** Input keys (relative to the prefix) that stress encoding: S3 event keys are URL-encoded, `+` for spaces. */
function relativeKeys(): string[] {
  const shapes = [
    (i: number) => `plain-${i}.txt`,
    (i: number) => `with space/file ${i}.txt`,
    (i: number) => `a+b/c+d ${i}.txt`,
    (i: number) => `ünïcødé/日本語-${i}.txt`,
    (i: number) => `emoji/🙂 ${i}.txt`,
    (i: number) => `deep/a/b/c/d/e/f/${i}.txt`,
    (i: number) => `odd/100%25 sure (${i}) [x] #${i}.txt`,
    (i: number) => `odd/semi;colon&amp=${i},~'quote'.txt`,
    (i: number) => `Mixed Case/ÅNGSTRÖM +${i}+.dat`,
    (i: number) => `dots/v1.2.3/${i}..txt`,
  ];
  return Array.from({ length: FILES }, (_, i) => shapes[i % shapes.length]?.(i) ?? `x-${i}`);
}

/** The run's queues (task queue and dead-letter queue) in moto. */
async function queuesOf(aws: TestAwsAccount, runId: string): Promise<string[]> {
  const queues = await aws.sqs.send(new ListQueuesCommand({ QueueNamePrefix: `sluice-${runId}-` }));
  return queues.QueueUrls ?? [];
}

async function bodyOf(aws: TestAwsAccount, bucket: string, key: string): Promise<string> {
  const got = await aws.s3.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
  return (await got.Body?.transformToString('utf8')) ?? '';
}

describe('the five actions as a workflow runs them, with moto and podman', () => {
  const aws = new TestAwsAccount({ label: 'e2e' });
  const id = aws.id.slice(0, 8);
  const workspace = mkdtempSync(join(tmpdir(), 'sluice-e2e-'));
  const githubApi = new FakeGitHubApi();
  const SHA = 'c0ffee0123456789c0ffee0123456789c0ffee01';
  const TOKEN = 'ghs_e2eTokenNeverPrinted';
  let workflow: Workflow = { workspace, awsEndpoint: aws.endpoint, region: aws.region };
  const engine = new CliContainerEngine({ kind: 'podman', env: { ...containerEngineEnv() } });
  const algorithm = `e2e-chain-${id}`;
  const inputBucket = aws.bucketName('in');
  const outputBucket = aws.bucketName('out');
  const keys = relativeKeys().map((key) => `${INPUT_PREFIX}${key}`);
  // Spread over the shapes, so the failures carry awkward keys too.
  const failing = new Set([keys[4], keys[27], keys[58]].map((key) => key ?? ''));
  const steps: StepRun[] = [];
  let runId = '';
  let tornDown = false;

  async function step(...args: Parameters<typeof runAction>): Promise<StepRun> {
    const [, action, inputs] = args;
    expect(`step ${steps.length + 1}: ${action}`).toBe(`step ${steps.length + 1}: ${ORDER[steps.length]}`);
    const workflowStep = CHAIN[steps.length - 1];
    if (workflowStep !== undefined) {
      // Only inputs the workflow passes too, and the outputs it wires passed the same way.
      expect(Object.keys(inputs).filter((input) => !(input in workflowStep.with))).toEqual([]);
      for (const [input, from] of Object.entries(workflowStep.wiredFrom)) {
        const source = steps.find((run) => run.action === from.action);
        expect({ [input]: inputs[input] }).toEqual({ [input]: source?.outputs[from.output] });
      }
    }
    const run = await runAction(...args);
    steps.push(run);
    console.info(`${run.action}: exit ${String(run.code)} in ${run.ms} ms`);
    return run;
  }

  beforeAll(async () => {
    expect(new Set(keys).size).toBe(FILES);
    expect(failing.size).toBe(FAILING);
    const apiUrl = await githubApi.start();
    workflow = {
      ...workflow,
      github: { event: 'push', apiUrl, repository: 'octo/photos', sha: SHA, runId: '7', token: TOKEN },
    };
    await aws.createBucket('in');
    aws.trackBucket(outputBucket);
    await buildAlgorithmContext(join(workspace, 'algorithm'), algorithm);
    writeFileSync(
      join(workspace, 'job.json'),
      `${JSON.stringify(
        {
          name: `e2e-${id}`,
          algorithm: `${algorithm}@1.0`,
          input: { bucket: inputBucket, prefix: INPUT_PREFIX },
          output: { bucket: outputBucket, prefix: OUTPUT_PREFIX },
          aws: { region: aws.region, credentials: 'environment' },
          compute: { backend: 'local', maxWorkers: 2, idleSeconds: 30 },
          retries: 0,
          timeoutSeconds: 60,
        },
        null,
        2,
      )}\n`,
    );
  }, 30_000);

  afterAll(async () => {
    // A failed test still removes the run's queues and runners, then the buckets, images and files.
    if (!tornDown && runId !== '') await runAction(workflow, 'teardown', { 'run-id': runId }, 120_000);
    await engine
      .removeImages([`localhost/sluice/${algorithm}:1.0`, `localhost/sluice/${algorithm}-algorithm:1.0`])
      .catch((e: unknown) => {
        console.warn(`could not remove the images: ${String(e)}`);
      });
    await aws.cleanup();
    await githubApi.stop();
    rmSync(workspace, { recursive: true, force: true });
    const total = steps.reduce((sum, run) => sum + run.ms, 0);
    console.info(`the five actions: ${steps.map((s) => `${s.action} ${s.ms} ms`).join(', ')}; ${total} ms`);
  }, 180_000);

  it('wrap-algorithm builds and wraps the algorithm into the local image store (push: false)', async () => {
    const wrap = await step(workflow, 'wrap-algorithm', {
      manifest: 'algorithm/algorithm.json',
      push: 'false',
    });

    expect({ code: wrap.code, log: describeStep(wrap) }).toMatchObject({ code: 0 });
    expect(wrap.outputs.image).toMatch(new RegExp(`sluice/${algorithm}:1\\.0|^sha256:`));
    expect(wrap.outputs['task-definition']).toBe('');
  }, 240_000);

  it('provision-run provisions the run and says where to upload', async () => {
    const provision = await step(workflow, 'provision-run', { job: 'job.json', backend: 'local' });

    expect({ code: provision.code, log: describeStep(provision) }).toMatchObject({ code: 0 });
    runId = provision.outputs['run-id'] ?? '';
    expect(runId).toMatch(/^e2e-/);
    expect(provision.outputs['queue-url']).toContain(`sluice-${runId}-tasks`);
    expect(provision.outputs['upload-to']).toBe(`s3://${inputBucket}/${INPUT_PREFIX}`);
    expect(provision.summary).toContain(`s3://${inputBucket}/${INPUT_PREFIX}`);
    const queues = await aws.sqs.send(new ListQueuesCommand({ QueueNamePrefix: `sluice-${runId}-` }));
    for (const url of queues.QueueUrls ?? []) aws.trackQueue(url);
    expect((queues.QueueUrls ?? []).length).toBe(2);

    // The pusher is told on the commit, with the token from action.yml's default.
    const comments = githubApi.commentsOn('octo/photos', SHA);
    expect(comments).toHaveLength(1);
    expect(comments[0]?.body).toContain(`aws s3 cp --recursive ./input s3://${inputBucket}/${INPUT_PREFIX}`);
    expect(githubApi.received.map((r) => r.headers.authorization)).toEqual([
      `token ${TOKEN}`,
      `token ${TOKEN}`,
    ]);
  }, 60_000);

  it('uploads the input files with the AWS SDK', async () => {
    expect(runId).not.toBe('');
    for (let start = 0; start < keys.length; start += 10) {
      await Promise.all(
        keys.slice(start, start + 10).map((key) =>
          aws.s3.send(
            new PutObjectCommand({
              Bucket: inputBucket,
              Key: key,
              Body: failing.has(key) ? 'fail' : `content of ${key}\n`,
            }),
          ),
        ),
      );
    }
  }, 60_000);

  it('dispatch-tasks enqueues the files and starts the local runners', async () => {
    expect(runId).not.toBe('');
    const dispatch = await step(workflow, 'dispatch-tasks', { 'run-id': runId });

    expect({ code: dispatch.code, log: describeStep(dispatch) }).toMatchObject({ code: 0 });
    // Files can already be queued by the S3 notification, or done, by now: at most all of them.
    expect(Number(dispatch.outputs.enqueued)).toBeLessThanOrEqual(FILES);
    expect(Number(dispatch.outputs.workers)).toBeGreaterThanOrEqual(1);
  }, 120_000);

  it('collect-results waits for all 60, writes results.json and a summary with the failures', async () => {
    expect(runId).not.toBe('');
    const collect = await step(
      workflow,
      'collect-results',
      {
        'run-id': runId,
        until: 'count',
        'expected-count': String(FILES),
        'timeout-seconds': '200',
        'fail-on-error': 'false',
      },
      230_000,
    );

    expect({ code: collect.code, log: describeStep(collect) }).toMatchObject({ code: 0 });
    expect(collect.outputs).toMatchObject({
      succeeded: String(FILES - FAILING),
      failed: String(FAILING),
      results: `s3://${outputBucket}/_sluice/${runId}/results.json`,
    });
    expect(collect.stdout).toContain(`completed, ${FAILING} failed`);

    // The summary: the outcome, and each failure with the tail of its log.
    expect(collect.summary).toContain(`completed, ${FAILING} failed`);
    expect(collect.summary).toContain('### Failures');

    // The outcome, on the pushed commit beside the upload comment: counts and the failed inputs.
    const comments = githubApi.commentsOn('octo/photos', SHA);
    expect(comments).toHaveLength(2);
    const outcome = comments[1]?.body ?? '';
    expect(outcome).toContain(`sluice run \`${runId}\`: completed, ${FAILING} failed`);
    expect(outcome).toContain(`s3://${outputBucket}/_sluice/${runId}/results.json`);
    expect(outcome).toContain('https://github.example/octo/photos/actions/runs/7');
    // The token reaches the runner only as a mask (`::add-mask::`, which GitHub hides), never in a log line.
    for (const step of steps) {
      expect(`${step.stdout}${step.stderr}`.replace(/^::add-mask::.*$/gm, '')).not.toContain(TOKEN);
    }
    expect(collect.stdout).toContain(`::add-mask::${TOKEN}`);
    for (const key of failing) {
      expect(collect.summary).toContain(key);
      expect(collect.summary).toContain(`refusing ${key.split('/').pop() ?? ''}`);
    }

    // results.json: every input, 57 succeeded with their output, 3 failed.
    const results = JSON.parse(await bodyOf(aws, outputBucket, `_sluice/${runId}/results.json`)) as {
      runId: string;
      counts: Record<string, number>;
      tasks: {
        key: string;
        status: string;
        outputs: { key: string }[];
        failureClass?: string;
        exitCode?: number;
      }[];
    };
    expect(results.runId).toBe(runId);
    expect(results.counts).toMatchObject({
      inputs: FILES,
      succeeded: FILES - FAILING,
      failed: FAILING,
      running: 0,
      pending: 0,
    });
    expect(results.tasks.map((task) => task.key).sort()).toEqual([...keys].sort());
    for (const task of results.tasks) {
      if (failing.has(task.key)) {
        expect(task).toMatchObject({ status: 'failed', exitCode: 1, outputs: [] });
      } else {
        const expected = `${OUTPUT_PREFIX}${task.key.slice(INPUT_PREFIX.length)}/result.txt`;
        expect(task).toMatchObject({
          status: 'succeeded',
          outputs: [expect.objectContaining({ key: expected })],
        });
      }
    }
  }, 240_000);

  it('leaves every success output object in the output bucket, with the processed content', async () => {
    expect(runId).not.toBe('');
    const ok = keys.filter((key) => !failing.has(key));
    const bodies = await Promise.all(
      ok.map((key) =>
        bodyOf(aws, outputBucket, `${OUTPUT_PREFIX}${key.slice(INPUT_PREFIX.length)}/result.txt`),
      ),
    );
    bodies.forEach((body, i) => {
      expect(body).toBe(`processed\ncontent of ${ok[i] ?? ''}\n`);
    });
  }, 60_000);

  it('holds the 3 failed tasks in the dead-letter queue before teardown', async () => {
    expect(runId).not.toBe('');
    const runJson = JSON.parse(await bodyOf(aws, outputBucket, `_sluice/${runId}/run.json`)) as {
      deadLetterQueue: { url?: string; name?: string };
    };
    const url = runJson.deadLetterQueue.url ?? '';
    expect(url).toContain(`sluice-${runId}-tasks-dlq`);
    const bodies: { key: string; runId: string; bucket: string }[] = [];
    for (let empty = 0; empty < 2;) {
      const received = await aws.sqs.send(
        new ReceiveMessageCommand({
          QueueUrl: url,
          MaxNumberOfMessages: 10,
          WaitTimeSeconds: 1,
          VisibilityTimeout: 60,
        }),
      );
      const messages = received.Messages ?? [];
      if (messages.length === 0) empty++;
      for (const message of messages)
        bodies.push(JSON.parse(message.Body ?? '{}') as (typeof bodies)[number]);
    }

    expect(bodies.map((body) => body.key).sort()).toEqual([...failing].sort());
    for (const body of bodies) expect(body).toMatchObject({ runId, bucket: inputBucket });
    // The runners are still there (idle ones exit 0 and stay until teardown removes them).
    expect(await runnerContainers(runId)).not.toEqual([]);
  }, 60_000);

  it('teardown removes the run queues and runner containers, and keeps the data', async () => {
    expect(runId).not.toBe('');
    const teardown = await step(workflow, 'teardown', { 'run-id': runId }, 120_000);

    expect({ code: teardown.code, log: describeStep(teardown) }).toMatchObject({ code: 0 });
    tornDown = true;
    expect(Number(teardown.outputs.deleted)).toBeGreaterThanOrEqual(2);
    const queues = await aws.sqs.send(new ListQueuesCommand({ QueueNamePrefix: `sluice-${runId}-` }));
    expect(queues.QueueUrls ?? []).toEqual([]);
    expect(await runnerContainers(runId)).toEqual([]);
    // Data is kept: results.json is still there.
    expect(await bodyOf(aws, outputBucket, `_sluice/${runId}/results.json`)).toContain(runId);
  }, 150_000);

  it("provision-run's post step, run after a failed job, tears down the run it provisioned", async () => {
    // The job provisions again (same job, same run) and then "fails": GitHub runs the post step with
    // the state main saved (post-if: failure() || cancelled()).
    const provision = await runAction(workflow, 'provision-run', { job: 'job.json', backend: 'local' });
    expect({ code: provision.code, log: describeStep(provision) }).toMatchObject({ code: 0 });
    expect(await queuesOf(aws, runId)).toHaveLength(2);

    const post = await runAction(workflow, 'provision-run', { job: 'job.json' }, 120_000, provision.state);

    expect({ code: post.code, log: describeStep(post) }).toMatchObject({ code: 0 });
    expect(post.stdout).toContain(
      'the job did not finish: tearing down the run of job.json (its data is kept)',
    );
    expect(await queuesOf(aws, runId)).toEqual([]);
  });

  it('ran every step of the reusable workflow, in its order', () => {
    expect(CHAIN.map((step) => step.action)).toEqual([
      'provision-run',
      'dispatch-tasks',
      'collect-results',
      'teardown',
    ]);
    expect(steps.map((run) => run.action)).toEqual(ORDER);
  });
});

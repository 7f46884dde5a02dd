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
//
// One scenario, its steps named `it` blocks in order: wrap, provision, upload, dispatch, collect,
// outputs, dead-letter, teardown, post, order. Each step is done by a function of `chain` below that
// takes what it needs from the steps before it as their results (a step's result is the next one's
// argument, never a variable set on the side) and runs at most once. A step run alone sets up what
// it needs: the earlier steps it depends on run first, checked only for their exit code. So one step
// runs alone with -t and its name, e.g. dispatch (which then wraps, provisions and uploads first):
//
//   node --experimental-vm-modules node_modules/jest/bin/jest.js test/e2e/actions-chain.test.ts \
//     --selectProjects e2e -t 'dispatch:'
//
// (the path before --selectProjects, which would take it for a second project name).
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

/** Runs `make` the first time it is called; every later call gets the same promise. */
function once<T>(make: () => Promise<T>): () => Promise<T> {
  let made: Promise<T> | undefined;
  return () => (made ??= make());
}

/** What a step that set up a later one must have done: exit 0 (its own `it` checks the rest). */
function succeeded(run: StepRun): StepRun {
  if (run.code !== 0) throw new Error(`an earlier step failed:\n${describeStep(run)}`);
  return run;
}

/** The time each step of the chain may take; a step run alone may take its earlier ones' too. */
const STEP_MS = {
  wrap: 240_000,
  provision: 60_000,
  upload: 60_000,
  dispatch: 120_000,
  collect: 240_000,
  teardown: 150_000,
} as const;

/** A test's time limit: `step` and every step before it (which it runs first when run alone), plus `more`. */
function withEarlier(step: keyof typeof STEP_MS, more = 0): number {
  const names = Object.keys(STEP_MS) as (keyof typeof STEP_MS)[];
  return names.slice(0, names.indexOf(step) + 1).reduce((sum, name) => sum + STEP_MS[name], more);
}

/** provision-run's result, carried to every later step. */
interface Provisioned {
  readonly run: StepRun;
  readonly runId: string;
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
  /** For afterAll only: the run to tear down if a step failed before teardown did. */
  const cleanup = { runId: '', tornDown: false };

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

  /** The steps, each done once, each taking the results of the ones before it. */
  const chain = {
    wrap: once(() =>
      step(workflow, 'wrap-algorithm', {
        manifest: 'algorithm/algorithm.json',
        push: 'false',
      }),
    ),

    provision: once(async (): Promise<Provisioned> => {
      succeeded(await chain.wrap());
      const run = await step(workflow, 'provision-run', { job: 'job.json', backend: 'local' });
      const runId = run.outputs['run-id'] ?? '';
      cleanup.runId = runId;
      return { run, runId };
    }),

    upload: once(async (): Promise<Provisioned> => {
      const provisioned = await chain.provision();
      succeeded(provisioned.run);
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
      return provisioned;
    }),

    dispatch: once(async (): Promise<Provisioned & { dispatch: StepRun }> => {
      const uploaded = await chain.upload();
      const dispatch = await step(workflow, 'dispatch-tasks', { 'run-id': uploaded.runId });
      return { ...uploaded, dispatch };
    }),

    collect: once(async (): Promise<Provisioned & { collect: StepRun }> => {
      const dispatched = await chain.dispatch();
      succeeded(dispatched.dispatch);
      const collect = await step(
        workflow,
        'collect-results',
        {
          'run-id': dispatched.runId,
          until: 'count',
          'expected-count': String(FILES),
          'timeout-seconds': '200',
          'fail-on-error': 'false',
        },
        230_000,
      );
      return { ...dispatched, collect };
    }),

    teardown: once(async (): Promise<Provisioned & { teardown: StepRun }> => {
      const collected = await chain.collect();
      succeeded(collected.collect);
      const teardown = await step(workflow, 'teardown', { 'run-id': collected.runId }, 120_000);
      if (teardown.code === 0) cleanup.tornDown = true;
      return { ...collected, teardown };
    }),
  };

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
    if (!cleanup.tornDown && cleanup.runId !== '')
      await runAction(workflow, 'teardown', { 'run-id': cleanup.runId }, 120_000);
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

  it(
    'wrap: wrap-algorithm builds and wraps the algorithm into the local image store (push: false)',
    async () => {
      const wrap = await chain.wrap();

      expect({ code: wrap.code, log: describeStep(wrap) }).toMatchObject({ code: 0 });
      expect(wrap.outputs.image).toMatch(new RegExp(`sluice/${algorithm}:1\\.0|^sha256:`));
      expect(wrap.outputs['task-definition']).toBe('');
    },
    withEarlier('wrap'),
  );

  it(
    'provision: provision-run provisions the run and says where to upload',
    async () => {
      const { run: provision, runId } = await chain.provision();

      expect({ code: provision.code, log: describeStep(provision) }).toMatchObject({ code: 0 });
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
      expect(comments[0]?.body).toContain(
        `aws s3 cp --recursive ./input s3://${inputBucket}/${INPUT_PREFIX}`,
      );
      expect(githubApi.received.map((r) => r.headers.authorization)).toEqual([
        `token ${TOKEN}`,
        `token ${TOKEN}`,
      ]);
    },
    withEarlier('provision'),
  );

  it(
    'upload: uploads the input files with the AWS SDK',
    async () => {
      const { runId } = await chain.upload();
      expect(runId).not.toBe('');
    },
    withEarlier('upload'),
  );

  it(
    'dispatch: dispatch-tasks enqueues the files and starts the local runners',
    async () => {
      const { runId, dispatch } = await chain.dispatch();
      expect(runId).not.toBe('');

      expect({ code: dispatch.code, log: describeStep(dispatch) }).toMatchObject({ code: 0 });
      // Files can already be queued by the S3 notification, or done, by now: at most all of them.
      expect(Number(dispatch.outputs.enqueued)).toBeLessThanOrEqual(FILES);
      expect(Number(dispatch.outputs.workers)).toBeGreaterThanOrEqual(1);
    },
    withEarlier('dispatch'),
  );

  it(
    'collect: collect-results waits for all 60, writes results.json and a summary with the failures',
    async () => {
      const { runId, collect } = await chain.collect();
      expect(runId).not.toBe('');

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
    },
    withEarlier('collect'),
  );

  it(
    'outputs: leaves every success output object in the output bucket, with the processed content',
    async () => {
      const { runId } = await chain.collect();
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
    },
    withEarlier('collect', 60_000),
  );

  it(
    'dead-letter: holds the 3 failed tasks in the dead-letter queue before teardown',
    async () => {
      const { runId } = await chain.collect();
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
    },
    withEarlier('collect', 60_000),
  );

  it(
    'teardown: teardown removes the run queues and runner containers, and keeps the data',
    async () => {
      const { runId, teardown } = await chain.teardown();
      expect(runId).not.toBe('');

      expect({ code: teardown.code, log: describeStep(teardown) }).toMatchObject({ code: 0 });
      expect(Number(teardown.outputs.deleted)).toBeGreaterThanOrEqual(2);
      const queues = await aws.sqs.send(new ListQueuesCommand({ QueueNamePrefix: `sluice-${runId}-` }));
      expect(queues.QueueUrls ?? []).toEqual([]);
      expect(await runnerContainers(runId)).toEqual([]);
      // Data is kept: results.json is still there.
      expect(await bodyOf(aws, outputBucket, `_sluice/${runId}/results.json`)).toContain(runId);
    },
    withEarlier('teardown'),
  );

  it(
    "post: provision-run's post step, run after a failed job, tears down the run it provisioned",
    async () => {
      const { runId } = await chain.teardown();
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
    },
    withEarlier('teardown', 120_000),
  );

  it(
    'order: ran every step of the reusable workflow, in its order',
    async () => {
      await chain.teardown();
      expect(CHAIN.map((step) => step.action)).toEqual([
        'provision-run',
        'dispatch-tasks',
        'collect-results',
        'teardown',
      ]);
      expect(steps.map((run) => run.action)).toEqual(ORDER);
    },
    withEarlier('teardown', 120_000),
  );
});

// Integration, the steps the actions and the CLI call, end to end on one machine: a FROM-scratch
// busybox algorithm is wrapped into the local image store, then provisionStep → upload →
// dispatchStep (local backend: 2 runner containers under podman, host network, against moto) →
// collectStep (until a count) → teardownStep. Provision, dispatch and teardown run twice: the
// second call changes nothing. Checked: results.json, task records, outputs, the summary, that a
// secret passed with fromEnv reaches the algorithm but no log, and that teardown leaves no queue
// and no runner container behind. A port algorithm's run keeps one runner (they share the host's
// network, so their servers would fight over the port) and says so.
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { afterAll, beforeAll, describe, expect, it, jest } from '@jest/globals';
import { outcomeCommentMarkdown } from '@sluice/action-kit';
import { LOCAL_RUN_LABEL } from '@sluice/core/compute';
import {
  resultsKey,
  S3ObjectStore,
  SqsRunQueues,
  taskId,
  taskRecordKey,
  validateTaskRecord,
} from '@sluice/core';
import {
  collectStep,
  dispatchStep,
  provisionStep,
  teardownStep,
  type StepContext,
} from '@sluice/orchestrator';
import {
  RecordingLogger,
  TESTBED_CREDENTIALS,
  TestAwsAccount,
  containerEngineEnv,
  readTaskState,
} from '@sluice/testing';

import { freeListenPort } from '../testbed/servers.js';

import { PORT_ALGORITHM_CGI, buildBusyboxImage, testEngine, wrapManifest } from './wrapped-support.js';

jest.setTimeout(300_000);

const TOKEN = `token-${randomBytes(6).toString('hex')}`;

/** Copies the input, writes the greeting, proves the token arrived; inputs named fail* exit 3. */
const ALGORITHM_SH = `#!/bin/sh
set -eu
in="$1"
out="$2"
case "$(basename "$in")" in
  fail*) echo "refusing $(basename "$in")" >&2; exit 3 ;;
esac
cp "$in" "$out/copy.bin"
printf '%s' "$GREETING" > "$out/greeting.txt"
if [ "$TOKEN" = "${TOKEN}" ]; then echo yes > "$out/token-ok.txt"; fi
`;

const FILES: Record<string, string> = {
  'a.txt': 'alpha',
  'b.txt': 'bravo',
  'with space.txt': 'charlie',
  'nested/d.txt': 'delta',
  'e.txt': '',
  'fail-me.txt': 'this one fails',
};

describe('run steps with the local backend, on moto and podman', () => {
  const id = randomBytes(4).toString('hex');
  const engine = testEngine();
  const images: string[] = [];
  const logger = new RecordingLogger();
  let aws: TestAwsAccount;
  let work: string;
  let jobPath: string;
  let context: StepContext;
  let input: string;
  let output: string;
  let runId = '';

  beforeAll(async () => {
    aws = new TestAwsAccount({ label: 'run-steps' });
    work = await mkdtemp(join(tmpdir(), 'sluice-run-steps-'));
    const algorithmTag = `localhost/sluice-it-${id}/rs-algorithm:1`;
    images.push(algorithmTag);
    await buildBusyboxImage(
      engine,
      join(work, 'algorithm'),
      algorithmTag,
      { 'run.sh': { text: ALGORITHM_SH, mode: 0o755 } },
      [
        'COPY run.sh /app/run.sh',
        'RUN ["/bin/mkdir", "-p", "-m", "1777", "/tmp"]',
        'RUN ["/bin/mkdir", "-p", "/data/in", "/data/out"]',
        'ENTRYPOINT ["/app/run.sh"]',
      ],
    );
    const name = `rs-busybox-${id}`;
    const wrapped = await wrapManifest(
      engine,
      {
        name,
        version: '1.0',
        image: algorithmTag,
        memory: 128,
        input: '/data/in/',
        output: '/data/out/',
        command: ['{input}', '{output}'],
        env: { GREETING: {}, TOKEN: { secret: true } },
        retry: { permanentExitCodes: [3] },
      },
      join(work, 'wrap'),
      join(work, 'cache'),
    );
    images.push(wrapped.image);

    input = await aws.createBucket('in');
    output = aws.bucketName('out');
    aws.trackBucket(output);
    jobPath = join(work, 'job.json');
    await writeFile(
      jobPath,
      JSON.stringify({
        name: `steps ${id}`,
        algorithm: `${name}@1.0`,
        input: { bucket: input, prefix: 'in/' },
        output: { bucket: output, prefix: 'out/' },
        env: { GREETING: 'hello', TOKEN: { fromEnv: 'RS_TOKEN' } },
        compute: { backend: 'local', maxWorkers: 2, idleSeconds: 20 },
        retries: 0,
      }),
    );
    context = {
      logger,
      env: {
        ...process.env,
        ...containerEngineEnv(),
        SLUICE_CONTAINER_ENGINE: 'podman',
        AWS_ENDPOINT_URL: aws.endpoint,
        AWS_REGION: aws.region,
        AWS_ACCESS_KEY_ID: TESTBED_CREDENTIALS.accessKeyId,
        AWS_SECRET_ACCESS_KEY: TESTBED_CREDENTIALS.secretAccessKey,
        RS_TOKEN: TOKEN,
      },
      pollSeconds: 1,
    };
  });

  afterAll(async () => {
    if (runId !== '') {
      const left = await engine.listContainers(`${LOCAL_RUN_LABEL}=${runId}`).catch(() => []);
      await engine.remove(left.map((c) => c.id)).catch(() => undefined);
    }
    await engine.removeImages(images).catch(() => undefined);
    await aws.cleanup();
    await rm(work, { recursive: true, force: true });
  }, 120_000);

  it('provisions, dispatches to two runner containers, collects, and tears down, each twice where it must be idempotent', async () => {
    const store = new S3ObjectStore(aws.s3);
    const queues = new SqsRunQueues(aws.sqs);

    const first = await provisionStep(jobPath, context);
    const second = await provisionStep(jobPath, context);
    runId = first.runId;
    for (const url of [first.queueUrl, first.deadLetterQueueUrl ?? '']) aws.trackQueue(url);
    expect(second).toMatchObject({
      runId,
      queueUrl: first.queueUrl,
      uploadTo: `s3://${input}/in/`,
      created: [],
    });
    expect(first.created).toEqual(expect.arrayContaining([`bucket s3://${output}`]));
    expect(await queues.listQueueUrls(`sluice-${runId}-`)).toHaveLength(2);

    const etags = new Map<string, string>();
    for (const [key, body] of Object.entries(FILES)) {
      etags.set(`in/${key}`, (await store.put({ bucket: input, key: `in/${key}` }, body)).etag);
    }

    const dispatched = await dispatchStep({ jobPath }, context);
    expect(dispatched).toMatchObject({ runId, listed: 6, enqueued: 6, failed: 0, workers: 2 });
    const again = await dispatchStep({ runId }, { ...context, outputBucket: output });
    expect(again.workers).toBe(2);
    const containers = await engine.listContainers(`${LOCAL_RUN_LABEL}=${runId}`);
    expect(containers.length).toBeGreaterThanOrEqual(1);
    expect(containers.length).toBeLessThanOrEqual(2);

    const progress: string[] = [];
    const { report, summaryMarkdown, summaryOptions } = await collectStep(
      { runId },
      { until: 'count', expectedCount: 6, timeoutSeconds: 180 },
      context,
      (p) => progress.push(p.phase),
    );
    expect(report).toMatchObject({
      complete: true,
      timedOut: false,
      counts: { inputs: 6, succeeded: 5, failed: 1, running: 0, pending: 0 },
    });
    expect(progress).toContain('writing-results');
    expect(summaryMarkdown).toContain(`completed, 1 failed`);
    expect(summaryMarkdown).toContain('fail-me.txt');
    expect(summaryMarkdown).toContain('refusing fail-me.txt');
    // The commit comment's version (action-kit renders it): the same outcome and failure, without the logs.
    const commentMarkdown = outcomeCommentMarkdown(report, summaryOptions);
    expect(commentMarkdown).toContain(`completed, 1 failed`);
    expect(commentMarkdown).toContain('fail-me.txt');
    expect(commentMarkdown).not.toContain('refusing fail-me.txt');

    const results = await store.getJson({ bucket: output, key: resultsKey(runId) });
    const body = results?.value as {
      counts: unknown;
      tasks: { key: string; status: string; failureClass?: string }[];
    };
    expect(body.counts).toMatchObject({ inputs: 6, succeeded: 5, failed: 1 });
    expect(body.tasks.map((t) => [t.key, t.status]).sort()).toEqual(
      Object.keys(FILES)
        .map((key) => [`in/${key}`, key.startsWith('fail') ? 'failed' : 'succeeded'])
        .sort(),
    );
    expect(body.tasks.find((t) => t.key === 'in/fail-me.txt')?.failureClass).toBe('algorithm-exit');

    for (const [key, body] of Object.entries(FILES)) {
      const etag = etags.get(`in/${key}`) ?? '';
      const id = taskId({ bucket: input, key: `in/${key}`, etag });
      const record = validateTaskRecord(
        await readTaskState(store, output, runId, id),
        taskRecordKey(runId, id),
      );
      expect(record.attempts[0]?.workerId).toMatch(new RegExp(`^sluice-${runId}-[12]$`));
      if (key.startsWith('fail')) {
        // Each input was sent twice by dispatch and once by its S3 event: a failed task has no
        // completion marker to stop a duplicate, so it may be tried again (at least once delivery).
        expect(record).toMatchObject({ status: 'failed' });
        expect(record.attempts.at(-1)).toMatchObject({ exitCode: 3, failureClass: 'algorithm-exit' });
        continue;
      }
      expect(record.attempts).toHaveLength(1);
      expect(record.status).toBe('succeeded');
      expect(record.algorithmDigest).toMatch(/^sha256:[a-f0-9]{64}$/);
      const copy = await store.getText({ bucket: output, key: `out/${key}/copy.bin` });
      expect(copy?.text).toBe(body);
      expect((await store.getText({ bucket: output, key: `out/${key}/greeting.txt` }))?.text).toBe('hello');
      expect((await store.getText({ bucket: output, key: `out/${key}/token-ok.txt` }))?.text).toBe('yes\n');
    }
    // The token reached the algorithm and was marked secret, but no log line holds it.
    expect(logger.secrets).toContain(TOKEN);
    expect(logger.lines.join('\n')).not.toContain(TOKEN);

    // A local run dispatched as ECS: refused with what to do, before anything is enqueued or started.
    await expect(dispatchStep({ jobPath }, { ...context, backend: 'ecs' })).rejects.toThrow(
      /was provisioned for the local backend, without ECS resources: provision it again with backend ecs/,
    );
    const { RS_TOKEN: _token, ...withoutToken } = context.env;
    await expect(dispatchStep({ jobPath }, { ...context, env: withoutToken })).rejects.toThrow(
      /RS_TOKEN, which is not set/,
    );
    await expect(collectStep({ jobPath }, { until: 'count' }, context)).rejects.toThrow(/expected-count/);

    const tornDown = await teardownStep({ jobPath }, {}, context);
    expect(tornDown.deleted).toEqual(
      expect.arrayContaining([`queue sluice-${runId}-tasks`, `queue sluice-${runId}-tasks-dlq`]),
    );
    expect(tornDown.deleted.some((entry) => entry.includes('runner container'))).toBe(true);
    const twice = await teardownStep({ jobPath }, {}, context);
    expect(twice.deleted).toEqual([]);
    expect(await engine.listContainers(`${LOCAL_RUN_LABEL}=${runId}`)).toEqual([]);
    for (const name of [`sluice-${runId}-tasks`, `sluice-${runId}-tasks-dlq`]) {
      expect(await queues.findQueueUrl(name)).toBeUndefined();
    }
    // Data stays: the results are still there.
    expect(await store.head({ bucket: output, key: resultsKey(runId) })).toBeDefined();
  });

  it('runs maxWorkers × tasksPerWorker runner containers on the local backend, one task each', async () => {
    const store = new S3ObjectStore(aws.s3);
    const pairJob = join(work, 'pair-job.json');
    await writeFile(
      pairJob,
      JSON.stringify({
        name: `steps pair ${id}`,
        algorithm: `rs-busybox-${id}@1.0`,
        input: { bucket: input, prefix: 'pair/' },
        output: { bucket: output, prefix: 'pair-out/' },
        env: { GREETING: 'hello', TOKEN: { fromEnv: 'RS_TOKEN' } },
        compute: { backend: 'local', maxWorkers: 2, tasksPerWorker: 2, idleSeconds: 20 },
        retries: 0,
      }),
    );
    const pairRun = await provisionStep(pairJob, context);
    runId = pairRun.runId;
    for (const url of [pairRun.queueUrl, pairRun.deadLetterQueueUrl ?? '']) aws.trackQueue(url);
    const names = ['q1.txt', 'q2.txt', 'q3.txt', 'q4.txt', 'q5.txt', 'q6.txt'];
    for (const file of names) await store.put({ bucket: input, key: `pair/${file}` }, `content of ${file}`);

    const dispatched = await dispatchStep({ jobPath: pairJob }, context);
    const containers = await engine.listContainers(`${LOCAL_RUN_LABEL}=${runId}`);
    const { report } = await collectStep(
      { jobPath: pairJob },
      { until: 'count', expectedCount: names.length, timeoutSeconds: 180 },
      context,
    );
    await teardownStep({ jobPath: pairJob }, {}, context);

    // Two workers of two tasks: four runner containers.
    expect(dispatched.workers).toBe(4);
    expect(containers).toHaveLength(4);
    expect(report.counts).toMatchObject({ inputs: 6, succeeded: 6, failed: 0 });
    for (const file of names) {
      const result = await store.getText({ bucket: output, key: `pair-out/${file}/copy.bin` });
      expect(result?.text).toBe(`content of ${file}`);
    }
  });

  it('runs a port algorithm with maxWorkers runners on the local backend (each on a network of its own)', async () => {
    const store = new S3ObjectStore(aws.s3);
    const port = await freeListenPort();
    const algorithmTag = `localhost/sluice-it-${id}/rs-port:1`;
    images.push(algorithmTag);
    await buildBusyboxImage(
      engine,
      join(work, 'port-algorithm'),
      algorithmTag,
      { 'www/cgi-bin/index.cgi': { text: PORT_ALGORITHM_CGI, mode: 0o755 } },
      ['COPY www/ /www/'],
    );
    const name = `rs-port-${id}`;
    const wrapped = await wrapManifest(
      engine,
      {
        name,
        version: '1.0',
        image: algorithmTag,
        memory: 64,
        port,
        input: '/data/in/',
        output: '/data/out/',
        command: ['/bin/httpd', '-f', '-p', `127.0.0.1:${port}`, '-h', '/www'],
      },
      join(work, 'wrap-port'),
      join(work, 'cache'),
    );
    images.push(wrapped.image);
    const portJob = join(work, 'port-job.json');
    await writeFile(
      portJob,
      JSON.stringify({
        name: `steps port ${id}`,
        algorithm: `${name}@1.0`,
        input: { bucket: input, prefix: 'port/' },
        output: { bucket: output, prefix: 'port-out/' },
        compute: { backend: 'local', maxWorkers: 3, idleSeconds: 10 },
        retries: 0,
      }),
    );
    const portRun = await provisionStep(portJob, context);
    runId = portRun.runId;
    for (const url of [portRun.queueUrl, portRun.deadLetterQueueUrl ?? '']) aws.trackQueue(url);
    const names = ['p1.txt', 'p2.txt', 'p3.txt', 'p4.txt', 'p5.txt', 'p6.txt'];
    for (const file of names) await store.put({ bucket: input, key: `port/${file}` }, `content of ${file}`);

    const dispatched = await dispatchStep({ jobPath: portJob }, context);
    const { report } = await collectStep(
      { jobPath: portJob },
      { until: 'count', expectedCount: names.length, timeoutSeconds: 180 },
      context,
    );
    await teardownStep({ jobPath: portJob }, {}, context);

    expect(dispatched.workers).toBe(3);
    expect(logger.lines).not.toContainEqual(expect.stringMatching(/is a server on port/));
    expect(report.counts).toMatchObject({ inputs: 6, succeeded: 6, failed: 0 });
    for (const file of names) {
      const result = await store.getText({ bucket: output, key: `port-out/${file}/result.bin` });
      expect(result?.text).toBe(`content of ${file}`);
    }
  });
});

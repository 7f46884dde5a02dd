// Integration: the ECS player (packages/testing) against moto and podman. RunTask goes to moto through
// EcsWorkers exactly as the ECS backend sends it; the player runs each task's container locally.
// - busybox: a FROM-scratch image that prints what it was given, so the test sees the task
//   definition's environment, the resolved secret, the overrides and the exit code arrive; a missing
//   secret stops the task without running it, as ECS does.
// - a wrapped image: a busybox algorithm wrapped with the committed runner bundle, registered as the
//   algorithm's task definition (with its local image id: moto stores no images and podman runs it from
//   the local store), copied into the run's task definition, started with RunTask; the runners process
//   files that arrive through S3 → SQS notifications and exit when idle, and the player stops their
//   tasks, so ECS's count drops to zero.
// - a worker of two tasks (`tasksPerWorker` 2): the run's task definition with two runner containers,
//   registered on moto and started with one RunTask; the player runs both containers of the one task,
//   and both runners work on the run's files side by side.
import { randomBytes } from 'node:crypto';
import { mkdtempSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { DescribeTasksCommand, ECSClient, RegisterTaskDefinitionCommand } from '@aws-sdk/client-ecs';
import { EC2Client } from '@aws-sdk/client-ec2';
import { PutObjectCommand } from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, it, jest } from '@jest/globals';
import {
  ecsLaunchTemplate,
  EcsNetwork,
  EcsTaskDefinitions,
  EcsWorkers,
  runTaskDefinitionInput,
  taskDefinitionInput,
  type EcsLaunchTemplate,
  type RunNetwork,
} from '@sluice/core/ecs';
import { parseManifest } from '@sluice/core';
import { workerSize, type WorkerSize } from '@sluice/core/compute';
import { EcsPlayer, TestAwsAccount, testbedAwsClientConfig } from '@sluice/testing';

import { createRun, listKeys, runnerConfig, type TestRun } from './runner-support.js';
import { buildBusyboxImage, testEngine, wrapManifest } from './wrapped-support.js';

jest.setTimeout(300_000);

const config = testbedAwsClientConfig();
const ACCOUNT = '123456789012';
const id = randomBytes(4).toString('hex');
const cluster = `sluice-player-${id}`;
const executionRoleArn = `arn:aws:iam::${ACCOUNT}:role/sluice-player-execution`;
const taskRoleArn = `arn:aws:iam::${ACCOUNT}:role/sluice-player-task`;
const TOKEN_ARN = `arn:aws:secretsmanager:${config.region}:${ACCOUNT}:secret:watermark/token`;

const PRINT_SH = `#!/bin/sh
echo "SIZE=$SIZE"
echo "TOKEN=$TOKEN"
echo "SLUICE_RUN=$SLUICE_RUN"
echo "AWS_ENDPOINT_URL=$AWS_ENDPOINT_URL"
echo "ARGS=$*"
exit "\${EXIT_CODE:-0}"
`;

const COPY_SH = `#!/bin/sh
set -eu
cp "$1" "$2/result.bin"
`;

describe('the ECS player on moto and podman', () => {
  const ecs = new ECSClient(config);
  const ec2 = new EC2Client(config);
  const engine = testEngine();
  const workers = new EcsWorkers(ecs);
  const work = mkdtempSync(join(tmpdir(), 'sluice-ecs-player-'));
  const images: string[] = [];
  const runIds: string[] = [];
  let network: RunNetwork;

  /** Registers a task definition for the image and makes the run's copy of it. */
  async function runDefinition(
    runId: string,
    manifest: Record<string, unknown>,
    image: string,
    secrets: Record<string, string> = {},
    worker?: WorkerSize,
  ): Promise<string> {
    const manifestText = JSON.stringify(manifest);
    const input = taskDefinitionInput({
      manifest: parseManifest(manifestText, 'algorithm.json'),
      manifestText,
      image: `127.0.0.1:5000/unused@sha256:${'0'.repeat(64)}`,
      region: config.region,
    });
    // moto stores no images: the image is the local one, which the player runs from podman's store.
    const algorithm = await ecs.send(
      new RegisterTaskDefinitionCommand({
        ...input,
        containerDefinitions: (input.containerDefinitions ?? []).map((c) => ({ ...c, image })),
      }),
    );
    const described = await new EcsTaskDefinitions(ecs).describe(
      algorithm.taskDefinition?.taskDefinitionArn ?? '',
    );
    if (described === undefined) throw new Error('algorithm task definition not found');
    const registered = await workers.registerRunTaskDefinition(
      runTaskDefinitionInput(described, {
        runId,
        region: config.region,
        executionRoleArn,
        taskRoleArn,
        secrets,
        ...(worker !== undefined && { worker }),
      }),
    );
    return registered.arn;
  }

  function template(
    runId: string,
    taskDefinition: string,
    run: Parameters<typeof runnerConfig>[0],
    extra: Record<string, string> = {},
    tasksPerWorker = 1,
  ): EcsLaunchTemplate {
    return ecsLaunchTemplate({
      runId,
      cluster,
      taskDefinition,
      config: runnerConfig(run, { runId }),
      compute: { launchType: 'FARGATE', spot: false, assignPublicIp: true },
      subnets: network.subnets,
      securityGroups: network.securityGroups,
      taskRoleArn,
      environment: extra,
      tasksPerWorker,
    });
  }

  beforeAll(async () => {
    await workers.ensureCluster(cluster);
    network = await new EcsNetwork(ec2).resolve(`player-${id}`, {
      subnets: [],
      securityGroups: [],
      assignPublicIp: true,
    });
  });

  afterAll(async () => {
    for (const runId of runIds) {
      await workers.stopAll(runId, cluster, 'test cleanup');
      await workers.deregisterRunTaskDefinitions(runId);
    }
    await new EcsNetwork(ec2).deleteRunSecurityGroups(`player-${id}`);
    await engine.removeImages(images);
    await rm(work, { recursive: true, force: true });
    ecs.destroy();
    ec2.destroy();
  }, 120_000);

  describe('with a busybox image that prints what it gets', () => {
    const runId = `player-bb-${id}`;
    const image = `localhost/sluice-it-${id}/ecs-player:1`;
    const fakeRun = {
      runId,
      inputBucket: 'in-bucket',
      outputBucket: 'out-bucket',
      queueUrl: `${config.endpoint}/${ACCOUNT}/q`,
      deadLetterUrl: `${config.endpoint}/${ACCOUNT}/dlq`,
    } as unknown as TestRun;
    const manifest = {
      name: `player-bb-${id}`,
      version: '1.0',
      image: 'algo:1',
      memory: 64,
      input: '/data/in/',
      output: '/data/out/',
      env: { SIZE: { default: '128' }, TOKEN: { secret: true } },
    };
    let taskDefinition = '';

    beforeAll(async () => {
      runIds.push(runId);
      images.push(image);
      await buildBusyboxImage(
        engine,
        join(work, 'busybox'),
        image,
        { 'print.sh': { text: PRINT_SH, mode: 0o755 } },
        ['COPY print.sh /print.sh', 'ENTRYPOINT ["/print.sh"]'],
      );
      taskDefinition = await runDefinition(runId, manifest, image, { TOKEN: 'watermark/token' });
    }, 120_000);

    it('runs each task with the definition’s environment, the secret, the overrides, and stops it on exit', async () => {
      const player = new EcsPlayer({
        ecs,
        cluster,
        engine,
        secrets: { [TOKEN_ARN]: 's3cr3t-value' },
        keepContainers: true,
        pollMs: 200,
      });
      player.start();
      try {
        const started = await workers.start(template(runId, taskDefinition, fakeRun, { EXIT_CODE: '3' }), 2);
        const ended = await player.waitForExits(2);
        const logs = await Promise.all(ended.map((task) => engine.logs(task.containerId ?? '')));
        const stopped = await ecs.send(new DescribeTasksCommand({ cluster, tasks: started.started }));

        expect(player.errors).toEqual([]);
        expect(ended.map((task) => task.exitCode)).toEqual([3, 3]);
        for (const { stdout } of logs) {
          expect(stdout).toContain('SIZE=128\n');
          expect(stdout).toContain('TOKEN=s3cr3t-value\n');
          expect(stdout).toContain(`AWS_ENDPOINT_URL=${config.endpoint}\n`);
          const line = stdout.split('\n').find((l) => l.startsWith('SLUICE_RUN=')) ?? '';
          expect(JSON.parse(line.slice('SLUICE_RUN='.length))).toMatchObject({ runId, idleSeconds: 3 });
        }
        expect(ended[0]?.envNames).toEqual(
          expect.arrayContaining(['SIZE', 'TOKEN', 'SLUICE_RUN', 'EXIT_CODE', 'AWS_ACCESS_KEY_ID']),
        );
        expect(stopped.tasks?.map((t) => [t.desiredStatus, t.stoppedReason])).toEqual([
          ['STOPPED', 'Essential container in task exited (exit code 3)'],
          ['STOPPED', 'Essential container in task exited (exit code 3)'],
        ]);
        expect(await workers.count(runId, cluster)).toBe(0);
      } finally {
        await player.stop();
      }
    });

    it('stops a task whose secret cannot be read without running it, as ECS does', async () => {
      const player = new EcsPlayer({ ecs, cluster, engine, secrets: {}, pollMs: 200 });
      player.start();
      try {
        await workers.start(template(runId, taskDefinition, fakeRun), 1);
        const [ended] = await player.waitForExits(1);

        expect(ended?.containerId).toBeUndefined();
        expect(ended?.stoppedReason).toMatch(/^ResourceInitializationError: .*watermark\/token/);
        expect(await workers.count(runId, cluster)).toBe(0);
      } finally {
        await player.stop();
      }
    });
  });

  describe('with a wrapped image: the runner over S3 → SQS on moto', () => {
    const aws = new TestAwsAccount({ label: 'ecs-player' });
    let run: TestRun;
    let taskDefinition = '';
    const algorithmTag = `localhost/sluice-it-${id}/ecs-player-copy:1`;

    beforeAll(async () => {
      await buildBusyboxImage(
        engine,
        join(work, 'copy'),
        algorithmTag,
        { 'copy.sh': { text: COPY_SH, mode: 0o755 } },
        [
          'COPY copy.sh /app/copy.sh',
          'RUN ["/bin/mkdir", "-p", "-m", "1777", "/tmp"]',
          'ENTRYPOINT ["/app/copy.sh"]',
        ],
      );
      images.push(algorithmTag);
      const manifest = {
        name: `player-copy-${id}`,
        version: '1.0',
        image: algorithmTag,
        memory: 128,
        input: '/data/in/',
        output: '/data/out/',
        command: ['{input}', '{output}'],
      };
      const wrapped = await wrapManifest(engine, manifest, join(work, 'wrap'), join(work, 'cache'));
      images.push(wrapped.image);
      run = await createRun(aws, { notify: true });
      runIds.push(run.runId);
      taskDefinition = await runDefinition(run.runId, manifest, wrapped.image);
      for (const key of ['a.txt', 'b.txt', 'c/d.txt']) {
        await aws.s3.send(
          new PutObjectCommand({
            Bucket: run.inputBucket,
            Key: key,
            Body: `content of ${key}\n`,
          }),
        );
      }
    }, 240_000);

    afterAll(async () => {
      await rm(run.dir, { recursive: true, force: true });
      await aws.cleanup();
    });

    it('processes every uploaded file with runners started by RunTask, and ends with no task running', async () => {
      const player = new EcsPlayer({ ecs, cluster, engine, pollMs: 300 });
      player.start();
      try {
        const report = await workers.start(template(run.runId, taskDefinition, run), 2);
        const ended = await player.waitForExits(2, 180_000);
        const done = await listKeys(run.store, run.outputBucket, `_sluice/${run.runId}/done/`);
        const results = await listKeys(run.store, run.outputBucket, 'results/');

        expect(report.started).toHaveLength(2);
        expect(player.errors).toEqual([]);
        expect(ended.map((task) => task.exitCode)).toEqual([0, 0]);
        expect(done).toHaveLength(3);
        expect(results.sort()).toEqual([
          'results/a.txt/result.bin',
          'results/b.txt/result.bin',
          'results/c/d.txt/result.bin',
        ]);
        expect(await workers.count(run.runId, cluster)).toBe(0);
      } finally {
        await player.stop();
      }
    });
  });
  describe('with a worker of two tasks: two runner containers in one ECS task', () => {
    const aws = new TestAwsAccount({ label: 'ecs-player-pair' });
    let run: TestRun;
    let taskDefinition = '';
    const algorithmTag = `localhost/sluice-it-${id}/ecs-player-slow:1`;
    const keys = ['p1.txt', 'p2.txt', 'p3.txt', 'p4.txt'];

    beforeAll(async () => {
      // Two seconds a file, so the second runner finds work while the first is busy.
      await buildBusyboxImage(
        engine,
        join(work, 'slow'),
        algorithmTag,
        { 'copy.sh': { text: COPY_SH.replace('set -eu', 'set -eu\nsleep 2'), mode: 0o755 } },
        [
          'COPY copy.sh /app/copy.sh',
          'RUN ["/bin/mkdir", "-p", "-m", "1777", "/tmp"]',
          'ENTRYPOINT ["/app/copy.sh"]',
        ],
      );
      images.push(algorithmTag);
      const manifest = {
        name: `player-pair-${id}`,
        version: '1.0',
        image: algorithmTag,
        memory: 128,
        cpu: 0.25,
        input: '/data/in/',
        output: '/data/out/',
        command: ['{input}', '{output}'],
      };
      const wrapped = await wrapManifest(engine, manifest, join(work, 'wrap-pair'), join(work, 'cache'));
      images.push(wrapped.image);
      run = await createRun(aws, { notify: true });
      runIds.push(run.runId);
      const worker = workerSize(parseManifest(JSON.stringify(manifest), 'algorithm.json'), {
        backend: 'ecs',
        launchType: 'FARGATE',
        tasksPerWorker: 2,
      });
      taskDefinition = await runDefinition(run.runId, manifest, wrapped.image, {}, worker);
      for (const key of keys) {
        await aws.s3.send(
          new PutObjectCommand({ Bucket: run.inputBucket, Key: key, Body: `content of ${key}\n` }),
        );
      }
    }, 240_000);

    afterAll(async () => {
      await rm(run.dir, { recursive: true, force: true });
      await aws.cleanup();
    });

    it('registers the two-container definition at the worker size, and both runners of one task work side by side', async () => {
      const registered = await new EcsTaskDefinitions(ecs).describe(taskDefinition);
      // 2 × (0.25 vCPU, 128 + 128 MiB) → the smallest Fargate size holding them: 0.5 vCPU, 1024 MiB.
      expect(registered?.taskDefinition.cpu).toBe('512');
      expect(registered?.taskDefinition.memory).toBe('1024');
      expect(
        registered?.taskDefinition.containerDefinitions?.map((c) => [c.name, c.essential ?? true]),
      ).toEqual([
        ['algorithm', true],
        ['algorithm-2', false],
      ]);

      const player = new EcsPlayer({ ecs, cluster, engine, pollMs: 300 });
      player.start();
      try {
        const report = await workers.start(template(run.runId, taskDefinition, run, {}, 2), 1);
        const [ended] = await player.waitForExits(1, 180_000);
        const done = await listKeys(run.store, run.outputBucket, `_sluice/${run.runId}/done/`);
        const results = await listKeys(run.store, run.outputBucket, 'results/');
        const succeeded = await Promise.all(
          (ended?.containers ?? []).map(async (container) => {
            const { stdout } = await engine.logs(container.containerId);
            const exiting = stdout
              .split('\n')
              .filter((line) => line.includes('"runner-exiting"'))
              .map((line) => JSON.parse(line) as { tasks?: { succeeded?: number } })[0];
            return exiting?.tasks?.succeeded ?? 0;
          }),
        );

        expect(report.started).toHaveLength(1);
        expect(player.errors).toEqual([]);
        expect(ended?.containers.map((c) => [c.name, c.exitCode])).toEqual([
          ['algorithm', 0],
          ['algorithm-2', 0],
        ]);
        // Each runner of the one worker took files: two tasks ran side by side in it.
        expect(succeeded.every((count) => count >= 1)).toBe(true);
        expect(succeeded.reduce((a, b) => a + b, 0)).toBe(keys.length);
        expect(done).toHaveLength(keys.length);
        expect(results.sort()).toEqual(keys.map((key) => `results/${key}/result.bin`));
        expect(await workers.count(run.runId, cluster)).toBe(0);
      } finally {
        await player.stop();
      }
    });
  });
});

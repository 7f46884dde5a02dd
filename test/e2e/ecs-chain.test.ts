// End to end with `compute.backend: ecs`, in both modes (sealed, the default, and direct): `sluice run`
// (the committed CLI bundle, as a process) against moto, while the test's ECS player plays ECS — every
// task RunTask starts in moto becomes a podman container of the task definition's image, with the
// request's overrides (SLUICE_RUN, the run's roles), and its exit stops the task. So the AWS path runs
// for real: the run's roles, log group, security group, task definition, watcher Lambda (and in sealed
// mode the broker Lambda and its function URL) are made in moto, dispatch and collect start workers
// with RunTask, the runners process the files, and teardown removes every tagged thing.
//
// Sealed mode: moto cannot run the broker Lambda nor serve its function URL, so the player serves a
// stand-in per broker (`brokerStandIns`): the built bundle's real `brokerHandler` with the function's
// environment as moto stored it, behind a listener that verifies each request's SigV4 signature. The
// runner containers get their task role's credentials from a credentials endpoint, as on ECS: no key
// in their environment. What this proves: the runner signs its requests correctly with its task role,
// the handler serves a whole run from its deployed environment, presigned transfers work from the
// container. What it does not: Lambda's IAM auth itself (moto), the role's policy (the simulator tests).
//
// The job keeps its run (`keep: true`, continuous intake): after `sluice run` has ended, files uploaded
// are processed when the watcher runs — its handler, called here with the event its schedule carries.
//
// What moto cannot do here: invoke the watcher Lambda (it runs functions in Docker, so the test calls
// the handler in process), enforce the roles (iam-roles.test.ts and the simulator
// tests do), or resolve secrets for a task (the player would, from a map).
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import {
  DescribeTaskDefinitionCommand,
  DescribeTasksCommand,
  ECSClient,
  ListTasksCommand,
} from '@aws-sdk/client-ecs';
import { EventBridgeClient, ListRulesCommand, ListTargetsByRuleCommand } from '@aws-sdk/client-eventbridge';
import {
  GetRolePolicyCommand,
  IAMClient,
  ListRolePoliciesCommand,
  ListRolesCommand,
} from '@aws-sdk/client-iam';
import { LambdaClient, ListFunctionsCommand } from '@aws-sdk/client-lambda';
import { GetObjectCommand, PutObjectCommand } from '@aws-sdk/client-s3';
import { ListQueuesCommand } from '@aws-sdk/client-sqs';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { CliContainerEngine } from '@sluice/core/compute';
import {
  EcsPlayer,
  TestAwsAccount,
  containerEngineEnv,
  testbedAwsClientConfig,
  testbedEndpoints,
  testbedTaskEnv,
} from '@sluice/testing';

import { handler } from '../../packages/lambda/src/index.js';
import { buildAlgorithmContext, runCli, runIdIn, userShellEnv, type CliRun } from './e2e-support.js';

/** Files per mode (the fourth is refused by the algorithm); two modes run the whole chain each. */
const FILES = 5;
const MODES = ['sealed', 'direct'] as const;
type Mode = (typeof MODES)[number];

/** Variables that would hand the container an AWS credential. */
const CREDENTIAL_VARIABLES = ['AWS_ACCESS_KEY_ID', 'AWS_SECRET_ACCESS_KEY', 'AWS_SESSION_TOKEN'];

const aws = new TestAwsAccount({ label: 'ecs' });
const id = aws.id.slice(0, 8);
const config = testbedAwsClientConfig();
const ecs = new ECSClient(config);
const iam = new IAMClient(config);
const lambda = new LambdaClient(config);
const events = new EventBridgeClient(config);
const workspace = mkdtempSync(join(tmpdir(), 'sluice-ecs-e2e-'));
const engine = new CliContainerEngine({ kind: 'podman', env: { ...containerEngineEnv() } });
const algorithm = `ecs-e2e-${id}`;
const { registry } = testbedEndpoints();
const image = `${registry}/sluice/${algorithm}:1.0`;
let pushed = '';

function sluice(args: string[]): Promise<CliRun> {
  return runCli(
    args,
    workspace,
    userShellEnv({ workspace, awsEndpoint: aws.endpoint, region: aws.region }),
    400_000,
  );
}

const sleep = (ms: number): Promise<void> =>
  new Promise((resolve) => {
    setTimeout(resolve, ms);
  });

beforeAll(async () => {
  await buildAlgorithmContext(join(workspace, 'algorithm'), algorithm);
  // As a user does: push the wrapped image (to the test bed's registry: moto stores no images) and
  // register its task definition (in moto) — the catalogue entry provision-run finds.
  const wrapped = await sluice(['wrap', 'algorithm/algorithm.json', '--push', '--registry', registry]);
  if (wrapped.code !== 0) throw new Error(`sluice wrap failed:\n${wrapped.stderr}`);
  pushed = /@sha256:[a-f0-9]{64}/.exec(wrapped.stdout + wrapped.stderr)?.[0] ?? '';
}, 300_000);

afterAll(async () => {
  await engine
    .removeImages([image, `localhost/sluice/${algorithm}:1.0`, `localhost/sluice/${algorithm}-algorithm:1.0`])
    .catch((e: unknown) => {
      console.warn(`could not remove the images: ${String(e)}`);
    });
  await aws.cleanup();
  for (const client of [ecs, iam, lambda, events]) client.destroy();
  rmSync(workspace, { recursive: true, force: true });
}, 180_000);

describe.each(MODES)('sluice run in %s mode with the ECS backend, ECS played by podman', (mode: Mode) => {
  const inputBucket = aws.bucketName(`in-${mode}`);
  const outputBucket = aws.bucketName(`out-${mode}`);
  const jobFile = `job-${mode}.json`;
  // The player is told to stand in for what moto cannot serve; in direct mode it has nothing to do.
  const player = new EcsPlayer({
    ecs,
    cluster: 'sluice',
    engine,
    awsEnv: testbedTaskEnv(),
    pollMs: 500,
    brokerStandIns: true,
    lambda,
  });
  let run: CliRun;
  let runId = '';

  /** The run's ECS tasks still meant to run. */
  async function runningTasks(): Promise<string[]> {
    const listed = await ecs.send(
      new ListTasksCommand({ cluster: 'sluice', startedBy: `sluice-${runId}`, desiredStatus: 'RUNNING' }),
    );
    return listed.taskArns ?? [];
  }

  async function runState(): Promise<{
    ecs: { roles: { task: string }; broker?: { functionName: string; url: string } };
  }> {
    const got = await aws.s3.send(
      new GetObjectCommand({ Bucket: outputBucket, Key: `_sluice/${runId}/run.json` }),
    );
    return JSON.parse((await got.Body?.transformToString()) ?? '{}') as Awaited<ReturnType<typeof runState>>;
  }

  beforeAll(async () => {
    aws.trackBucket(inputBucket);
    aws.trackBucket(outputBucket);
    const files = join(workspace, `files-${mode}`);
    for (let i = 0; i < FILES; i++) {
      mkdirSync(join(files, `batch ${i % 2}`), { recursive: true });
      writeFileSync(join(files, `batch ${i % 2}`, `file+${i}.txt`), i === 3 ? 'fail' : `content ${i}`);
    }
    writeFileSync(
      join(workspace, jobFile),
      `${JSON.stringify(
        {
          name: `ecs-${mode}-${id}`,
          algorithm: `${algorithm}@1.0`,
          mode,
          input: { bucket: inputBucket, prefix: 'in/', create: true },
          output: { bucket: outputBucket, prefix: 'out/' },
          aws: { region: aws.region, credentials: 'environment' },
          compute: { backend: 'ecs', maxWorkers: 2, idleSeconds: 10 },
          retries: 0,
          // Continuous intake: the run stays after `sluice run`, and its watcher keeps it going.
          keep: true,
        },
        null,
        2,
      )}\n`,
    );
    player.start();
    const started = Date.now();
    run = await sluice(['run', jobFile, '--upload', `files-${mode}`]);
    console.info(`ecs-chain (${mode}): sluice run took ${Date.now() - started} ms`);
    runId = runIdIn(run.stderr);
  }, 600_000);

  afterAll(async () => {
    await player.stop();
    if (runId !== '') await sluice(['teardown', jobFile]);
  }, 180_000);

  it('completes: every file done by ECS workers, the refused one failed', () => {
    expect({ code: run.code, stderr: run.stderr.split('\n').slice(-30).join('\n') }).toMatchObject({
      code: 0,
    });
    expect(run.stdout).toContain(`${FILES - 1} succeeded, 1 failed of ${FILES} inputs`);
    expect(run.stderr).toMatch(/started [12] ECS worker\(s\)/);
    expect(player.tasks().length).toBeGreaterThanOrEqual(1);
    // Polls before provision made the cluster find none; nothing else may go wrong.
    expect(player.errors.filter((error) => !/ClusterNotFound/.test(String(error)))).toEqual([]);
  });

  it('wrote results.json and the outputs under the output prefix', async () => {
    const got = await aws.s3.send(
      new GetObjectCommand({ Bucket: outputBucket, Key: `_sluice/${runId}/results.json` }),
    );
    const results = JSON.parse((await got.Body?.transformToString()) ?? '{}') as {
      tasks: { key: string; status: string }[];
    };
    expect(results.tasks).toHaveLength(FILES);
    expect(results.tasks.filter((task) => task.status === 'failed').map((task) => task.key)).toEqual([
      'in/batch 1/file+3.txt',
    ]);
    const output = await aws.s3.send(
      new GetObjectCommand({ Bucket: outputBucket, Key: 'out/batch 0/file+0.txt/result.txt' }),
    );
    expect(await output.Body?.transformToString()).toBe('processed\ncontent 0');
  });

  it("collect's summary links results.json in the S3 console and the runners' log group in CloudWatch", async () => {
    const summaryFile = join(workspace, `summary-${mode}.md`);
    const collected = await sluice(['collect', jobFile, '--summary', `summary-${mode}.md`]);

    expect({
      code: collected.code,
      stderr: collected.stderr.split('\n').slice(-20).join('\n'),
    }).toMatchObject({
      code: 0,
    });
    const summary = readFileSync(summaryFile, 'utf8');
    const results = `s3://${outputBucket}/_sluice/${runId}/results.json`;
    expect(summary).toContain(
      `Results: [\`${results}\`](https://${aws.region}.console.aws.amazon.com/s3/object/${outputBucket}` +
        `?region=${aws.region}&prefix=_sluice%2F${runId}%2Fresults.json)`,
    );
    expect(summary).toContain(
      `Runner logs: [\`/sluice/runs/${runId}\`](https://${aws.region}.console.aws.amazon.com/cloudwatch/home` +
        `?region=${aws.region}#logsV2:log-groups/log-group/$252Fsluice$252Fruns$252F${runId})`,
    );
  });

  it('started the workers from the run task definition, with its roles and the run in SLUICE_RUN', async () => {
    const task = player.tasks()[0];
    expect(task).toBeDefined();
    const definition = await ecs.send(
      new DescribeTaskDefinitionCommand({ taskDefinition: task?.taskDefinitionArn ?? '' }),
    );
    expect(definition.taskDefinition?.family).toBe(`sluice-run-${runId}`);
    expect(definition.taskDefinition?.taskRoleArn).toMatch(
      new RegExp(`role/sluice/${runId}/sluice-${runId}-task$`),
    );
    expect(definition.taskDefinition?.containerDefinitions?.[0]?.image).toBe(`${image}${pushed}`);
    expect(definition.taskDefinition?.containerDefinitions?.[0]?.logConfiguration?.options).toMatchObject({
      'awslogs-group': `/sluice/runs/${runId}`,
    });
  });

  it(`${mode}: the runners' configuration, environment and task role are the mode's`, async () => {
    const state = await runState();
    const tasks = player.tasks();
    const described = await ecs.send(
      new DescribeTasksCommand({ cluster: 'sluice', tasks: tasks.map((task) => task.taskArn) }),
    );
    const runnerConfigs = (described.tasks ?? []).map(
      (task) =>
        JSON.parse(
          task.overrides?.containerOverrides?.[0]?.environment?.find((e) => e.name === 'SLUICE_RUN')?.value ??
            '{}',
        ) as { broker?: { url: string; auth: string } },
    );
    expect(runnerConfigs.length).toBe(tasks.length);
    const roleName = state.ecs.roles.task.slice(state.ecs.roles.task.lastIndexOf('/') + 1);
    const policies = await iam.send(new ListRolePoliciesCommand({ RoleName: roleName }));
    const actions: string[] = [];
    for (const policyName of policies.PolicyNames ?? []) {
      const policy = await iam.send(new GetRolePolicyCommand({ RoleName: roleName, PolicyName: policyName }));
      const document = JSON.parse(decodeURIComponent(policy.PolicyDocument ?? '{}')) as {
        Statement: { Effect: string; Action: string | string[] }[];
      };
      for (const statement of document.Statement) {
        if (statement.Effect === 'Allow') actions.push(...[statement.Action].flat());
      }
    }
    expect(actions.length).toBeGreaterThan(0);
    const storage = actions.filter((action) => /^(s3|sqs):/i.test(action));

    if (mode === 'sealed') {
      expect(state.ecs.broker?.functionName).toBe(`sluice-${runId}-broker`);
      for (const runner of runnerConfigs) {
        expect(runner.broker).toEqual({ url: state.ecs.broker?.url, auth: 'iam' });
      }
      for (const task of tasks) {
        expect(task.envNames.filter((name) => CREDENTIAL_VARIABLES.includes(name))).toEqual([]);
        expect(task.envNames).not.toContain('AWS_ENDPOINT_URL');
        expect(task.envNames).toContain('AWS_CONTAINER_CREDENTIALS_FULL_URI');
      }
      expect(storage).toEqual([]);
      expect(actions).toContain('lambda:InvokeFunctionUrl');
    } else {
      expect(state.ecs.broker).toBeUndefined();
      for (const runner of runnerConfigs) expect(runner.broker).toBeUndefined();
      expect(storage.length).toBeGreaterThan(0);
    }
  });

  if (mode === 'sealed') {
    it("sealed: every runner request carried a valid signature; the broker's stand-in refuses a missing or wrong one with 403", async () => {
      const standIn = await player.brokerStandIn(`sluice-${runId}-broker`);
      expect(standIn).toBeDefined();
      if (standIn === undefined) return;
      const counts = standIn.counts();
      expect(counts.refused).toEqual([]);
      expect(counts.accepted).toBeGreaterThanOrEqual(FILES);

      const body = JSON.stringify({ workerId: 'intruder', waitSeconds: 0 });
      const headers = { 'content-type': 'application/json', 'x-sluice-protocol': 'sluice-broker/1' };
      const unsigned = await fetch(`${standIn.url}/v1/lease`, { method: 'POST', headers, body });
      const date = new Date().toISOString().replace(/[-:]|\.\d{3}/g, '');
      const forged = await fetch(`${standIn.url}/v1/lease`, {
        method: 'POST',
        headers: {
          ...headers,
          'x-amz-date': date,
          authorization:
            `AWS4-HMAC-SHA256 Credential=testing/${date.slice(0, 8)}/${aws.region}/lambda/aws4_request, ` +
            `SignedHeaders=content-type;host;x-amz-date, Signature=${'0'.repeat(64)}`,
        },
        body,
      });
      expect([unsigned.status, forged.status]).toEqual([403, 403]);
      expect(standIn.counts().refused).toEqual(['no Authorization header', 'the signature does not match']);
    });
  }

  it('keep: true — files uploaded after sluice run ended are processed: the watcher (its schedule event) starts workers', async () => {
    expect(run.stderr).toContain(`kept run ${runId}`);
    // The watcher's schedule carries its event as the target's Input: read it as Lambda would get it.
    const targets = await events.send(new ListTargetsByRuleCommand({ Rule: `sluice-${runId}-watch` }));
    const event = JSON.parse(targets.Targets?.[0]?.Input ?? '{}') as unknown;
    // The run's first workers must be gone (idle), so only the watcher can start the next ones.
    for (let waited = 0; (await runningTasks()).length > 0; waited += 1000) {
      if (waited > 90_000) throw new Error('the first workers did not exit when idle');
      await sleep(1000);
    }
    for (const i of [1, 2]) {
      await aws.s3.send(
        new PutObjectCommand({ Bucket: inputBucket, Key: `in/later/file ${i}.txt`, Body: `later ${i}` }),
      );
    }
    // moto cannot invoke the function: its handler runs here, with the environment Lambda would give it.
    const saved = { ...process.env };
    Object.assign(process.env, testbedTaskEnv());
    try {
      const outcome = await handler(event);
      expect(outcome).toMatchObject({ outcome: 'checked', running: 0, started: 2 });
    } finally {
      for (const key of Object.keys(testbedTaskEnv())) {
        if (saved[key] === undefined) Reflect.deleteProperty(process.env, key);
        else process.env[key] = saved[key];
      }
    }
    const deadline = Date.now() + 180_000;
    const results: string[] = [];
    while (results.length < 2 && Date.now() < deadline) {
      results.length = 0;
      for (const i of [1, 2]) {
        const got = await aws.s3
          .send(new GetObjectCommand({ Bucket: outputBucket, Key: `out/later/file ${i}.txt/result.txt` }))
          .then((object) => object.Body?.transformToString())
          .catch(() => undefined);
        if (got !== undefined) results.push(got);
      }
      if (results.length < 2) await sleep(1000);
    }
    expect(results.sort()).toEqual(['processed\nlater 1', 'processed\nlater 2']);
  });

  it('teardown removes the watcher, broker, roles, task definition and queues, and stops no data', async () => {
    const teardown = await sluice(['teardown', jobFile]);
    expect(teardown.code).toBe(0);

    const roles = await iam.send(new ListRolesCommand({ PathPrefix: `/sluice/${runId}/` }));
    expect(roles.Roles ?? []).toEqual([]);
    const functions = (await lambda.send(new ListFunctionsCommand({}))).Functions ?? [];
    expect(
      functions.map((f) => f.FunctionName).filter((name) => name?.startsWith(`sluice-${runId}-`)),
    ).toEqual([]);
    const rules = await events.send(new ListRulesCommand({ NamePrefix: `sluice-${runId}` }));
    expect(rules.Rules ?? []).toEqual([]);
    expect(await runningTasks()).toEqual([]);
    const queues = await aws.sqs.send(new ListQueuesCommand({ QueueNamePrefix: `sluice-${runId}` }));
    expect(queues.QueueUrls ?? []).toEqual([]);
    expect(teardown.stdout + teardown.stderr).toContain(`log group /sluice/runs/${runId}`);
  });
});

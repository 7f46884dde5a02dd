// ensureWatcher / removeWatcher against moto: the Lambda function with its settings and tags, the
// schedule rule, its target with the exact Input, the invoke permission; idempotent both ways.
//
// moto differs from AWS here, and the code is written for AWS:
// - moto cannot invoke a Lambda (it runs functions in Docker): nothing is invoked through it; the
//   handler is tested in process (watcher-lambda.test.ts).
// - CreateFunction checks that the role exists in moto's IAM (as AWS does), so the test makes one.
// - AddPermission with a statement id already in the policy appends a duplicate where AWS answers
//   ResourceConflictException: ensureWatcher reads the policy first, which is right for both.
// - Functions are Active at once; the waiters still run (GetFunction), they just return at once.
import { randomBytes } from 'node:crypto';

import {
  DescribeRuleCommand,
  EventBridgeClient,
  ListTagsForResourceCommand,
  ListTargetsByRuleCommand,
  PutRuleCommand,
} from '@aws-sdk/client-eventbridge';
import { CreateRoleCommand, DeleteRoleCommand, IAMClient } from '@aws-sdk/client-iam';
import {
  DeleteFunctionEventInvokeConfigCommand,
  GetFunctionCommand,
  GetFunctionEventInvokeConfigCommand,
  GetPolicyCommand,
  LambdaClient,
} from '@aws-sdk/client-lambda';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { canonicalJson, ConfigurationError, type WatcherEvent } from '@sluice/core';
import {
  WATCHER_PERMISSION_ID,
  WATCHER_TARGET_ID,
  codeSha256,
  ensureWatcher,
  removeWatcher,
  watcherZip,
} from '@sluice/core/ecs';
import { testbedAwsClientConfig } from '@sluice/testing';

const config = testbedAwsClientConfig();
const lambda = new LambdaClient(config);
const events = new EventBridgeClient(config);
const iam = new IAMClient(config);
const clients = { lambda, events };
const hex = (): string => randomBytes(4).toString('hex');
const bundle = (text: string): Uint8Array =>
  new TextEncoder().encode(`export const handler = async () => ${text};\n`);

function watcherEvent(runId: string): WatcherEvent {
  return {
    sluice: 'watcher/1',
    runId,
    queueUrl: `${config.endpoint}/123456789012/sluice-${runId}-tasks`,
    maxWorkers: 4,
    minWorkers: 0,
    launch: {
      cluster: 'sluice',
      taskDefinition: 'sluice-thumbs:1',
      startedBy: runId,
      launchType: 'FARGATE',
      networkConfiguration: { awsvpcConfiguration: { subnets: ['subnet-1'], assignPublicIp: 'DISABLED' } },
    },
  };
}

let roleArn: string;
const roleName = `sl-watcher-it-${hex()}`;

beforeAll(async () => {
  const created = await iam.send(
    new CreateRoleCommand({
      RoleName: roleName,
      AssumeRolePolicyDocument: JSON.stringify({
        Version: '2012-10-17',
        Statement: [
          { Effect: 'Allow', Principal: { Service: 'lambda.amazonaws.com' }, Action: 'sts:AssumeRole' },
        ],
      }),
    }),
  );
  roleArn = created.Role?.Arn ?? '';
});

afterAll(async () => {
  await iam.send(new DeleteRoleCommand({ RoleName: roleName }));
  lambda.destroy();
  events.destroy();
  iam.destroy();
});

describe('ensureWatcher on moto', () => {
  const runId = `watch-${hex()}`;
  const name = `sluice-${runId}-watch`;
  const event = watcherEvent(runId);
  afterAll(() => removeWatcher(clients, runId));

  it('creates the function, the schedule, its target with the event as Input, and the permission', async () => {
    const zip = watcherZip(bundle('1'));

    const deployed = await ensureWatcher(clients, { event, roleArn, zip, endpoint: config.endpoint });

    const fn = await lambda.send(new GetFunctionCommand({ FunctionName: name }));
    const invokeConfig = await lambda.send(new GetFunctionEventInvokeConfigCommand({ FunctionName: name }));
    const rule = await events.send(new DescribeRuleCommand({ Name: name }));
    const ruleTags = await events.send(new ListTagsForResourceCommand({ ResourceARN: deployed.ruleArn }));
    const targets = await events.send(new ListTargetsByRuleCommand({ Rule: name }));
    const policy = JSON.parse(
      (await lambda.send(new GetPolicyCommand({ FunctionName: name }))).Policy ?? '{}',
    ) as { Statement: Record<string, unknown>[] };

    expect(deployed).toMatchObject({ functionName: name, ruleName: name, codeSha256: codeSha256(zip) });
    expect(deployed.changed).toEqual([
      `function ${name} (created)`,
      `function ${name} (no retries of a failed invocation)`,
      `rule ${name} (created)`,
      `permission ${WATCHER_PERMISSION_ID} on ${name}`,
      `target ${WATCHER_TARGET_ID} on rule ${name} (created)`,
    ]);
    expect(fn.Configuration).toMatchObject({
      FunctionName: name,
      Runtime: 'nodejs22.x',
      Handler: 'index.handler',
      Role: roleArn,
      MemorySize: 128,
      Timeout: 60,
      CodeSha256: codeSha256(zip),
      Environment: { Variables: { AWS_ENDPOINT_URL: config.endpoint } },
    });
    expect(fn.Tags).toEqual({ 'sluice:run-id': runId, 'sluice:managed': 'true' });
    expect(invokeConfig).toMatchObject({ MaximumRetryAttempts: 0, MaximumEventAgeInSeconds: 60 });
    expect(rule).toMatchObject({ Name: name, ScheduleExpression: 'rate(1 minute)', State: 'ENABLED' });
    expect(ruleTags.Tags).toEqual(
      expect.arrayContaining([
        { Key: 'sluice:run-id', Value: runId },
        { Key: 'sluice:managed', Value: 'true' },
      ]),
    );
    expect(targets.Targets).toEqual([
      expect.objectContaining({
        Id: WATCHER_TARGET_ID,
        Arn: deployed.functionArn,
        Input: canonicalJson(event),
      }),
    ]);
    expect(JSON.parse(targets.Targets?.[0]?.Input ?? '')).toEqual(event);
    expect(policy.Statement).toEqual([
      expect.objectContaining({
        Sid: WATCHER_PERMISSION_ID,
        Action: 'lambda:InvokeFunction',
        Principal: { Service: 'events.amazonaws.com' },
        Condition: { ArnLike: { 'AWS:SourceArn': deployed.ruleArn } },
      }),
    ]);
  });

  it('changes nothing when ensured again with the same code and event', async () => {
    const again = await ensureWatcher(clients, {
      event,
      roleArn,
      zip: watcherZip(bundle('1')),
      endpoint: config.endpoint,
    });
    const policy = JSON.parse(
      (await lambda.send(new GetPolicyCommand({ FunctionName: name }))).Policy ?? '{}',
    ) as { Statement: unknown[] };

    expect(again.changed).toEqual([]);
    expect(policy.Statement).toHaveLength(1);
  });

  it('updates the code, the settings, the schedule and the Input when they change', async () => {
    const zip = watcherZip(bundle('2'));
    const changedEvent = { ...event, maxWorkers: 9 };
    // Someone disabled the rule and removed the asynchronous invocation settings by hand (moto
    // appends on a second PutFunctionEventInvokeConfig where AWS replaces: a delete reads the same on both).
    await lambda.send(new DeleteFunctionEventInvokeConfigCommand({ FunctionName: name }));
    await events.send(
      new PutRuleCommand({ Name: name, ScheduleExpression: 'rate(5 minutes)', State: 'DISABLED' }),
    );

    const updated = await ensureWatcher(clients, { event: changedEvent, roleArn, zip });

    const fn = await lambda.send(new GetFunctionCommand({ FunctionName: name }));
    const rule = await events.send(new DescribeRuleCommand({ Name: name }));
    const targets = await events.send(new ListTargetsByRuleCommand({ Rule: name }));
    expect(updated.changed).toEqual([
      `function ${name} (code)`,
      `function ${name} (environment)`,
      `function ${name} (no retries of a failed invocation)`,
      `rule ${name} (schedule)`,
      `target ${WATCHER_TARGET_ID} on rule ${name} (input)`,
    ]);
    expect(fn.Configuration?.CodeSha256).toBe(codeSha256(zip));
    expect(fn.Configuration?.Environment?.Variables ?? {}).toEqual({});
    expect(rule).toMatchObject({ ScheduleExpression: 'rate(1 minute)', State: 'ENABLED' });
    expect(targets.Targets?.map((target) => target.Input)).toEqual([canonicalJson(changedEvent)]);
    expect(await lambda.send(new GetFunctionEventInvokeConfigCommand({ FunctionName: name }))).toMatchObject({
      MaximumRetryAttempts: 0,
      MaximumEventAgeInSeconds: 60,
    });
  });

  it('refuses an event that is not a watcher event, before making anything', async () => {
    const other = `watch-${hex()}`;
    const bad = { ...watcherEvent(other), launch: { ...watcherEvent(other).launch, count: 2 } };

    await expect(
      ensureWatcher(clients, { event: bad, roleArn, zip: watcherZip(bundle('1')) }),
    ).rejects.toThrow(ConfigurationError);
    await expect(
      lambda.send(new GetFunctionCommand({ FunctionName: `sluice-${other}-watch` })),
    ).rejects.toThrow();
  });
});

describe('ensureWatcher with a role Lambda cannot assume', () => {
  it('waits for IAM, then says what is wrong with the role', async () => {
    const runId = `watch-${hex()}`;
    const missingRole = `arn:aws:iam::123456789012:role/sl-watcher-missing-${hex()}`;

    const started = Date.now();
    const refused = ensureWatcher(clients, {
      event: watcherEvent(runId),
      roleArn: missingRole,
      zip: watcherZip(bundle('1')),
      roleWaitSeconds: 2,
    });

    await expect(refused).rejects.toThrow(ConfigurationError);
    await expect(refused).rejects.toThrow(/cannot be assumed by Lambda .*lambda\.amazonaws\.com/);
    expect(Date.now() - started).toBeGreaterThanOrEqual(900);
    expect((await removeWatcher(clients, runId)).deleted).toEqual([]);
  });
});

describe('removeWatcher on moto', () => {
  it('removes the target, the rule and the function, and a second time finds nothing to do', async () => {
    const runId = `watch-${hex()}`;
    const name = `sluice-${runId}-watch`;
    await ensureWatcher(clients, { event: watcherEvent(runId), roleArn, zip: watcherZip(bundle('1')) });

    const first = await removeWatcher(clients, runId);
    const second = await removeWatcher(clients, runId);

    expect(first).toEqual({ deleted: [`rule ${name}`, `function ${name}`], kept: [] });
    expect(second).toEqual({ deleted: [], kept: [] });
    await expect(events.send(new DescribeRuleCommand({ Name: name }))).rejects.toThrow(/does not exist/);
    await expect(lambda.send(new GetFunctionCommand({ FunctionName: name }))).rejects.toThrow();
  });

  it('leaves a rule of the same name that is not tagged for the run', async () => {
    const runId = `watch-${hex()}`;
    const name = `sluice-${runId}-watch`;
    await events.send(new PutRuleCommand({ Name: name, ScheduleExpression: 'rate(1 hour)' }));

    const removal = await removeWatcher(clients, runId);
    const refused = ensureWatcher(clients, {
      event: watcherEvent(runId),
      roleArn,
      zip: watcherZip(bundle('1')),
    });

    expect(removal).toEqual({ deleted: [], kept: [`rule ${name} (not tagged sluice:run-id=${runId})`] });
    await expect(refused).rejects.toThrow(/not tagged sluice:run-id/);
    await removeWatcher(clients, runId);
  });
});

// ensureBroker / removeBroker against moto: sealed mode's broker function (the Lambda bundle's
// brokerHandler, the run's settings and key in its environment, tagged with the run) and its function
// URL with IAM auth; idempotent, the key kept across re-provisions, a URL opened to the public put
// back to IAM auth.
//
// moto cannot invoke the function or serve its URL (it runs functions in Docker): it answers the
// control plane only; the handler is tested in process (packages/lambda/src/broker.test.ts) and
// behind a SigV4-checking stand-in of the URL in the ECS end-to-end test.
import { randomBytes } from 'node:crypto';

import { CreateRoleCommand, DeleteRoleCommand, IAMClient } from '@aws-sdk/client-iam';
import {
  GetFunctionCommand,
  GetFunctionUrlConfigCommand,
  LambdaClient,
  UpdateFunctionUrlConfigCommand,
} from '@aws-sdk/client-lambda';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import {
  BROKER_FUNCTION_SETTINGS,
  BROKER_KEY_VARIABLE,
  BROKER_SETTINGS_VARIABLE,
  brokerFunctionName,
  ensureBroker,
  removeBroker,
  watcherZip,
  type BrokerFunctionSettings,
} from '@sluice/core/ecs';
import { testbedAwsClientConfig } from '@sluice/testing';

const config = testbedAwsClientConfig();
const lambda = new LambdaClient(config);
const iam = new IAMClient(config);
const hex = (): string => randomBytes(4).toString('hex');
const zip = watcherZip(new TextEncoder().encode('export const brokerHandler = async () => ({});\n'));
const runId = `broker-it-${hex()}`;
const roleName = `sl-broker-it-${hex()}`;
let roleArn: string;

const settings: BrokerFunctionSettings = {
  config: {
    runId,
    queueUrl: `${config.endpoint}/123456789012/sluice-${runId}-tasks`,
    deadLetterQueueUrl: `${config.endpoint}/123456789012/sluice-${runId}-tasks-dlq`,
    input: { bucket: 'photos', prefix: 'in/', include: ['**'] },
    output: { bucket: 'thumbs', prefix: 'out/' },
    maxAttempts: 2,
    idleSeconds: 60,
    env: {},
    secretEnv: [],
  },
  manifest: {
    retry: { permanentExitCodes: [], retryOnTimeout: true, retryOnOutOfMemory: false },
    allowEmptyOutput: false,
  },
  timeoutSeconds: 600,
  heartbeatSeconds: 20,
  retryDelaySeconds: 10,
  algorithmDigest: `sha256:${'b'.repeat(64)}`,
};

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
  await removeBroker(lambda, runId).catch(() => undefined);
  await iam.send(new DeleteRoleCommand({ RoleName: roleName })).catch(() => undefined);
  lambda.destroy();
  iam.destroy();
});

describe('ensureBroker and removeBroker on moto', () => {
  let key = '';

  it('creates the function (broker handler, 90 s, the run in its environment) and an IAM-auth URL', async () => {
    const deployed = await ensureBroker(lambda, { runId, settings, roleArn, zip, endpoint: config.endpoint });

    const fn = await lambda.send(new GetFunctionCommand({ FunctionName: brokerFunctionName(runId) }));
    const variables = fn.Configuration?.Environment?.Variables ?? {};
    key = variables[BROKER_KEY_VARIABLE] ?? '';
    const url = await lambda.send(new GetFunctionUrlConfigCommand({ FunctionName: deployed.functionName }));

    expect(deployed.functionName).toBe(`sluice-${runId}-broker`);
    expect(fn.Configuration).toMatchObject({
      Handler: 'index.brokerHandler',
      Timeout: BROKER_FUNCTION_SETTINGS.timeoutSeconds,
      Role: roleArn,
    });
    expect(JSON.parse(variables[BROKER_SETTINGS_VARIABLE] ?? '{}')).toEqual(settings);
    expect(variables.AWS_ENDPOINT_URL).toBe(config.endpoint);
    expect(key).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(fn.Tags).toMatchObject({ 'sluice:run-id': runId, 'sluice:managed': 'true' });
    expect(url.AuthType).toBe('AWS_IAM');
    expect(deployed.url).toBe(url.FunctionUrl);
    expect(deployed.changed).toEqual([
      `function sluice-${runId}-broker (created)`,
      `function URL of sluice-${runId}-broker (created, IAM auth)`,
    ]);
  });

  it('changes nothing on a repeat, and keeps the key that signed the tokens already handed out', async () => {
    const again = await ensureBroker(lambda, { runId, settings, roleArn, zip, endpoint: config.endpoint });
    const fn = await lambda.send(new GetFunctionCommand({ FunctionName: brokerFunctionName(runId) }));

    expect(again.changed).toEqual([]);
    expect(fn.Configuration?.Environment?.Variables?.[BROKER_KEY_VARIABLE]).toBe(key);
  });

  it('puts a URL someone opened to the public back to IAM auth', async () => {
    const functionName = brokerFunctionName(runId);
    await lambda.send(new UpdateFunctionUrlConfigCommand({ FunctionName: functionName, AuthType: 'NONE' }));

    const again = await ensureBroker(lambda, { runId, settings, roleArn, zip, endpoint: config.endpoint });
    const url = await lambda.send(new GetFunctionUrlConfigCommand({ FunctionName: functionName }));

    expect(again.changed).toEqual([`function URL of ${functionName} (back to IAM auth)`]);
    expect(url.AuthType).toBe('AWS_IAM');
  });

  it('removes the function and its URL, once', async () => {
    const removed = await removeBroker(lambda, runId);
    const repeat = await removeBroker(lambda, runId);

    expect(removed.deleted).toEqual([`function sluice-${runId}-broker and its URL`]);
    expect(repeat).toEqual({ deleted: [], kept: [] });
  });
});

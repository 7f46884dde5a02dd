// Integration: the session a direct-mode local run's runner containers get (LocalRunnerSessions),
// against the test bed's moto server, for the two common callers — an IAM user's keys (moto answers
// unknown keys as the user `moto`) and an assumed role (a workflow's deployer role). Whichever the
// caller, the runners get a session of the run's own role (the direct task role's policy, trusting
// only the caller), never the caller's keys. That policy's scoping is proven where it can be: by
// moto's own IAM enforcement of the task role's queues (iam-roles.test.ts) and by the IAM simulator
// (packages/core/src/iam/policies.simulate.test.ts); local-runner-role.test.ts holds the local
// role's policy equal to the task role's.
import { randomBytes } from 'node:crypto';

import { CreateRoleCommand, GetRoleCommand, GetRolePolicyCommand, IAMClient } from '@aws-sdk/client-iam';
import { AssumeRoleCommand, GetCallerIdentityCommand, STSClient } from '@aws-sdk/client-sts';
import { afterAll, describe, expect, it } from '@jest/globals';
import { ConfigurationError, type Logger } from '@sluice/core';
import { IamRunRoles } from '@sluice/core/ecs';
import { RUN_ROLE_POLICY_NAME, localRunnerPolicy, localRunnerRoleName } from '@sluice/core/iam';
import { TestAwsAccount } from '@sluice/testing';

import {
  LocalRunnerSessions,
  localSessionClients,
  type SessionRun,
} from '../../packages/orchestrator/src/backends/local-session.js';

const aws = new TestAwsAccount({ label: 'local-session' });
const config = aws.clientConfig();
const iam = new IAMClient(config);
const runIds: string[] = [];

/** A logger that keeps what it was told to mask and every line it wrote. */
function recordingLogger(): Logger & { readonly secrets: string[]; readonly lines: string[] } {
  const secrets: string[] = [];
  const lines: string[] = [];
  const line = (message: string): void => {
    lines.push(message);
  };
  return {
    secrets,
    lines,
    setSecret: (value: string) => secrets.push(value),
    debug: line,
    info: line,
    warning: line,
    error: line,
  };
}

function run(): SessionRun {
  const runId = `local-${randomBytes(4).toString('hex')}`;
  runIds.push(runId);
  const queue = `arn:aws:sqs:${aws.region}:123456789012:sluice-${runId}-tasks`;
  return {
    runId,
    queue: { arn: queue },
    deadLetterQueue: { arn: `${queue}-dlq` },
    input: { bucket: 'photos-in', prefix: 'incoming/' },
    output: { bucket: 'photos-out', prefix: 'small/' },
  };
}

const fast = { maxElapsedMs: 5_000, baseDelayMs: 100 };

afterAll(async () => {
  const roles = new IamRunRoles(iam);
  for (const runId of runIds) await roles.deleteRunRoles(runId);
  iam.destroy();
});

describe('LocalRunnerSessions: an IAM user as the caller', () => {
  it("hands runners a session of the run's own role, not the caller's keys, for up to 12 hours", async () => {
    // Prepare
    const target = run();
    const logger = recordingLogger();
    const sessions = new LocalRunnerSessions(target, 900, {
      clients: () => localSessionClients(config),
      logger,
      assumeRetry: fast,
    });

    // Act
    const session = await sessions.current();

    // Assess: other keys, masked, never logged.
    const { AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_SESSION_TOKEN } = session.env;
    expect(AWS_ACCESS_KEY_ID).toBeDefined();
    expect(AWS_ACCESS_KEY_ID).not.toBe(config.credentials.accessKeyId);
    expect(AWS_SECRET_ACCESS_KEY).not.toBe(config.credentials.secretAccessKey);
    expect(logger.secrets).toEqual(expect.arrayContaining([AWS_SECRET_ACCESS_KEY, AWS_SESSION_TOKEN]));
    for (const value of [AWS_SECRET_ACCESS_KEY ?? '', AWS_SESSION_TOKEN ?? '']) {
      expect(logger.lines.join('\n')).not.toContain(value);
    }
    // The session is the run role's: STS says so.
    const sts = new STSClient({
      ...config,
      credentials: {
        accessKeyId: AWS_ACCESS_KEY_ID ?? '',
        secretAccessKey: AWS_SECRET_ACCESS_KEY ?? '',
        sessionToken: AWS_SESSION_TOKEN ?? '',
      },
    });
    const who = await sts.send(new GetCallerIdentityCommand({}));
    sts.destroy();
    expect(who.Arn).toContain(`:assumed-role/${localRunnerRoleName(target.runId)}/`);
    expect(session.expiresAt.getTime() - Date.now()).toBeGreaterThan(11 * 3_600_000);
    // The role: under the run's path, trusting the caller alone, with the direct task role's policy.
    const role = (await iam.send(new GetRoleCommand({ RoleName: localRunnerRoleName(target.runId) }))).Role;
    expect(role?.Path).toBe(`/sluice/${target.runId}/`);
    const trust: unknown = JSON.parse(decodeURIComponent(role?.AssumeRolePolicyDocument ?? '{}'));
    expect(trust).toMatchObject({
      Statement: [{ Principal: { AWS: 'arn:aws:sts::123456789012:user/moto' } }],
    });
    const inline = await iam.send(
      new GetRolePolicyCommand({
        RoleName: localRunnerRoleName(target.runId),
        PolicyName: RUN_ROLE_POLICY_NAME,
      }),
    );
    expect(JSON.parse(decodeURIComponent(inline.PolicyDocument ?? '{}'))).toEqual(
      localRunnerPolicy({
        partition: 'aws',
        runId: target.runId,
        input: target.input,
        output: target.output,
        taskQueueArn: target.queue.arn ?? '',
        deadLetterQueueArn: target.deadLetterQueue.arn ?? '',
      }),
    );
  });

  it('keeps a session while it is fresh enough, and assumes the role again when it is not', async () => {
    let now = Date.now();
    const sessions = new LocalRunnerSessions(run(), 900, {
      clients: () => localSessionClients(config),
      logger: recordingLogger(),
      now: () => now,
      assumeRetry: fast,
    });
    const first = await sessions.current();
    expect((await sessions.current()).env).toEqual(first.env);

    // Nearly 12 hours on: what is left would not cover one 15-minute task and its margins.
    now = first.expiresAt.getTime() - 10 * 60_000;
    const second = await sessions.current();

    expect(second.env.AWS_ACCESS_KEY_ID).not.toBe(first.env.AWS_ACCESS_KEY_ID);
  });
});

describe('LocalRunnerSessions: an assumed role as the caller (a workflow)', () => {
  async function deployerSession(): Promise<typeof config> {
    const name = `deployer-${randomBytes(4).toString('hex')}`;
    const trust = {
      Version: '2012-10-17',
      Statement: [
        { Effect: 'Allow', Principal: { AWS: 'arn:aws:iam::123456789012:root' }, Action: 'sts:AssumeRole' },
      ],
    };
    const created = await iam.send(
      new CreateRoleCommand({ RoleName: name, AssumeRolePolicyDocument: JSON.stringify(trust) }),
    );
    const sts = new STSClient(config);
    const assumed = await sts.send(
      new AssumeRoleCommand({ RoleArn: created.Role?.Arn ?? '', RoleSessionName: 'GitHubActions' }),
    );
    sts.destroy();
    const credentials = assumed.Credentials;
    return {
      ...config,
      credentials: {
        accessKeyId: credentials?.AccessKeyId ?? '',
        secretAccessKey: credentials?.SecretAccessKey ?? '',
        sessionToken: credentials?.SessionToken ?? '',
      } as typeof config.credentials,
    };
  }

  it("hands runners a 1-hour session of the run's role, trusting that one role session", async () => {
    const caller = await deployerSession();
    const target = run();
    const sessions = new LocalRunnerSessions(target, 900, {
      clients: () => localSessionClients(caller),
      logger: recordingLogger(),
      assumeRetry: fast,
    });

    const session = await sessions.current();

    expect(session.env.AWS_ACCESS_KEY_ID).not.toBe(caller.credentials.accessKeyId);
    expect(session.expiresAt.getTime() - Date.now()).toBeLessThanOrEqual(3_600_000);
    const role = (await iam.send(new GetRoleCommand({ RoleName: localRunnerRoleName(target.runId) }))).Role;
    const trust: unknown = JSON.parse(decodeURIComponent(role?.AssumeRolePolicyDocument ?? '{}'));
    expect(trust).toMatchObject({
      Statement: [
        { Principal: { AWS: expect.stringMatching(/:assumed-role\/deployer-[0-9a-f]+\/GitHubActions$/) } },
      ],
    });
  });

  it('refuses a task limit a 1-hour session cannot cover, rather than fail tasks later', async () => {
    const caller = await deployerSession();
    const sessions = new LocalRunnerSessions(run(), 3600, {
      clients: () => localSessionClients(caller),
      logger: recordingLogger(),
      assumeRetry: fast,
    });

    await expect(sessions.current()).rejects.toThrow(ConfigurationError);
    await expect(sessions.current()).rejects.toThrow(/1 hour.*sealed mode/s);
  });
});

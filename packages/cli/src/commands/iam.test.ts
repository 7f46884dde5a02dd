import { describe, expect, it } from '@jest/globals';
import { deployerPolicy, type PolicyDocument } from '@sluice/core/iam';

import type { CliIo } from '../io.js';
import { runCli } from '../program.js';

async function sluice(...args: string[]): Promise<{ code: number; out: string; err: string }> {
  let out = '';
  let err = '';
  const io: CliIo = {
    out: (text) => (out += text),
    err: (text) => (err += text),
    readFile: () => Promise.reject(new Error('no files here')),
  };
  const code = await runCli(args, io);
  return { code, out, err };
}

describe('sluice iam', () => {
  it('prints the deployer policy for the account and region, as JSON', async () => {
    const run = await sluice('iam', 'deployer', '--account-id', '123456789012', '--region', 'eu-west-1');

    expect(run).toMatchObject({ code: 0, err: '' });
    expect(JSON.parse(run.out)).toEqual(
      deployerPolicy({ partition: 'aws', region: 'eu-west-1', accountId: '123456789012' }),
    );
    expect(run.out).toContain('arn:aws:sqs:eu-west-1:123456789012:sluice-*');
  });

  it('takes the partition from the region', async () => {
    const run = await sluice('iam', 'deployer', '--account-id', '123456789012', '--region', 'cn-north-1');

    expect(run.out).toContain('arn:aws-cn:sqs:cn-north-1:123456789012:sluice-*');
    expect(run.out).not.toContain('arn:aws:');
  });

  it('prints a GitHub OIDC trust policy for one repository, any ref or one ref', async () => {
    const trust = ['iam', 'github-trust', '--account-id', '123456789012', '--repository', 'octo/jobs'];
    const any = await sluice(...trust);
    const main = await sluice(...trust, '--ref', 'refs/heads/main');

    expect(any.code).toBe(0);
    expect(JSON.parse(any.out)).toEqual({
      Version: '2012-10-17',
      Statement: [
        {
          Sid: 'GitHubActionsOfOneRepository',
          Effect: 'Allow',
          Principal: {
            Federated: 'arn:aws:iam::123456789012:oidc-provider/token.actions.githubusercontent.com',
          },
          Action: ['sts:AssumeRoleWithWebIdentity'],
          Condition: {
            StringEquals: { 'token.actions.githubusercontent.com:aud': 'sts.amazonaws.com' },
            StringLike: { 'token.actions.githubusercontent.com:sub': 'repo:octo/jobs:*' },
          },
        },
      ],
    });
    expect((JSON.parse(main.out) as PolicyDocument).Statement[0]?.Condition).toEqual({
      StringEquals: {
        'token.actions.githubusercontent.com:aud': 'sts.amazonaws.com',
        'token.actions.githubusercontent.com:sub': 'repo:octo/jobs:ref:refs/heads/main',
      },
    });
  });

  it('refuses a wrong account id, region, repository or ref with exit 2, saying what is expected', async () => {
    const cases: [string[], string][] = [
      [['deployer', '--account-id', '1234', '--region', 'eu-west-1'], 'An AWS account id is 12 digits'],
      [['deployer', '--account-id', '123456789012', '--region', 'Ireland'], 'A region looks like eu-west-1'],
      [['github-trust', '--account-id', '123456789012', '--repository', 'jobs'], 'owner/name'],
      [
        ['github-trust', '--account-id', '123456789012', '--repository', 'o/r', '--ref', 'main'],
        'refs/heads/main',
      ],
      [['deployer', '--region', 'eu-west-1'], "required option '--account-id <id>' not specified"],
    ];
    for (const [args, message] of cases) {
      const run = await sluice('iam', ...args);
      expect({ args, code: run.code, out: run.out }).toEqual({ args, code: 2, out: '' });
      expect(run.err).toContain(message);
    }
  });
});

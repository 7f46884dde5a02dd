// docs/github.md's shell blocks, run as they stand in the doc (test/docs/doc-commands.ts), in a
// shell whose HOME is a scratch directory. GitHub cannot be reached from here: a local mirror of
// this repository with a tag v1 stands in for https://github.com/sluice-dev/sluice.
// - github-cli: the CLI, cloned at v1 and defined as a shell function; the blocks that use it run
//   after it in the same shell, as a reader of the page does;
// - github-validate: `sluice validate` in a copy of the jobs repository example, with the
//   algorithm repository's manifest beside it;
// - github-oidc-setup: the OIDC provider, the role and its policies, made with the aws CLI and
//   `sluice iam` against the moto server, then read back: exactly the documents core writes;
// - github-secret: the troubleshooting entry's Secrets Manager command against the moto server;
// - github-release: a release in a clone of this repository — versions, rebuilt bundles, commit,
//   tag and push to a bare repository standing in for GitHub — then `release.mjs check` on the tag.
import { execFileSync } from 'node:child_process';
import { cpSync, existsSync, mkdtempSync, readFileSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import {
  DeleteOpenIDConnectProviderCommand,
  DeleteRoleCommand,
  DeleteRolePolicyCommand,
  GetOpenIDConnectProviderCommand,
  GetRoleCommand,
  GetRolePolicyCommand,
  IAMClient,
} from '@aws-sdk/client-iam';
import {
  DeleteSecretCommand,
  GetSecretValueCommand,
  SecretsManagerClient,
} from '@aws-sdk/client-secrets-manager';
import { afterAll, describe, expect, it } from '@jest/globals';
import { deployerPolicy, githubOidcTrustPolicy } from '@sluice/core/iam';
import { REPOSITORY_ROOT, TESTBED_CREDENTIALS, TestAwsAccount } from '@sluice/testing';

import {
  awsCliBin,
  outputTail,
  docBlock,
  joinBlocks,
  runDocCommands,
  type DocCommandBlock,
  type DocCommandsRun,
} from '../docs/doc-commands.js';
import { plainShellEnv } from './e2e-support.js';

const DOC = 'docs/github.md';
const scratchDirs: string[] = [];

function scratch(label: string): string {
  const dir = mkdtempSync(join(tmpdir(), `sluice-docs-${label}-`));
  scratchDirs.push(dir);
  return dir;
}

const git = (cwd: string, ...args: string[]): string =>
  execFileSync('git', args, { cwd, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });

/** A user's shell: a home of its own, PATH with the aws CLI, the given AWS settings, nothing of jest's. */
function shellEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  return {
    ...plainShellEnv(),
    HOME: scratch('home'),
    PATH: `${awsCliBin()}:${process.env.PATH ?? ''}`,
    ...extra,
  };
}

const GITHUB_REPOSITORY_URL = 'https://github.com/sluice-dev/sluice';
let mirror: string | undefined;

/** A bare mirror of this repository with the tag v1 at its HEAD: GitHub's sluice, as far as git can tell. */
function sluiceMirror(): string {
  if (mirror === undefined) {
    mirror = join(scratch('mirror'), 'sluice.git');
    git(REPOSITORY_ROOT, 'clone', '-q', '--bare', REPOSITORY_ROOT, mirror);
    git(mirror, 'tag', '-f', 'v1', 'HEAD');
  }
  return mirror;
}

/** Runs the CLI block, then `block`, in one shell. */
function withCli(
  block: DocCommandBlock,
  options: { readonly cwd: string; readonly env: NodeJS.ProcessEnv },
): Promise<DocCommandsRun> {
  return runDocCommands(joinBlocks(docBlock(DOC, 'github-cli'), block), {
    ...options,
    replace: [[GITHUB_REPOSITORY_URL, `file://${sluiceMirror()}`]],
  });
}

afterAll(() => {
  for (const dir of scratchDirs) rmSync(dir, { recursive: true, force: true });
});

describe('docs/github.md, the commands of a first run', () => {
  it('github-cli, github-cli-update: clones the CLI at v1, runs it with no install, follows v1 when it moves', async () => {
    const env = shellEnv();
    const replace = [[GITHUB_REPOSITORY_URL, `file://${sluiceMirror()}`]] as const;
    const run = await runDocCommands(docBlock(DOC, 'github-cli'), { cwd: scratch('cli'), env, replace });

    expect({ code: run.code, tail: outputTail(run) }).toMatchObject({ code: 0 });
    const { version } = JSON.parse(readFileSync(join(REPOSITORY_ROOT, 'package.json'), 'utf8')) as {
      version: string;
    };
    expect(run.output.trim().split('\n').pop()).toBe(version);

    // A release moves v1 (here: to the commit before); the update block follows it.
    const clone = join(env.HOME ?? '', '.sluice');
    const moved = git(sluiceMirror(), 'rev-parse', 'HEAD~1').trim();
    git(sluiceMirror(), 'tag', '-f', 'v1', moved);
    try {
      const update = await runDocCommands(docBlock(DOC, 'github-cli-update'), { cwd: clone, env });
      expect({ code: update.code, tail: outputTail(update) }).toMatchObject({ code: 0 });
      expect(git(clone, 'rev-parse', 'HEAD').trim()).toBe(moved);
    } finally {
      git(sluiceMirror(), 'tag', '-f', 'v1', 'HEAD');
    }
  });

  it('github-validate: checks the jobs repository example against the algorithm repository manifest', async () => {
    const repo = scratch('jobs-repo');
    cpSync(join(REPOSITORY_ROOT, 'examples', 'jobs-repo'), repo, { recursive: true });
    cpSync(
      join(REPOSITORY_ROOT, 'examples', 'algorithm-repo', 'algorithm.json'),
      join(repo, 'algorithm.json'),
    );

    const run = await withCli(docBlock(DOC, 'github-validate'), { cwd: repo, env: shellEnv() });

    expect({ code: run.code, tail: outputTail(run) }).toMatchObject({ code: 0 });
    expect(run.output).toContain('algorithm.json: valid manifest');
    expect(run.output).toContain('jobs/holiday-photos.json: valid job');
  });
});

describe('docs/github.md, AWS access through OIDC', () => {
  const aws = new TestAwsAccount({ label: 'docs-oidc' });
  const iam = new IAMClient({
    endpoint: aws.endpoint,
    region: aws.region,
    credentials: { ...TESTBED_CREDENTIALS },
  });
  const ROLE = 'sluice-jobs';
  const PROVIDER = 'arn:aws:iam::123456789012:oidc-provider/token.actions.githubusercontent.com';

  /** The doc's role and provider, gone (before: a run cut short may have left them). */
  async function removeWhatTheDocMakes(): Promise<void> {
    await iam
      .send(new DeleteRolePolicyCommand({ RoleName: ROLE, PolicyName: 'sluice' }))
      .catch(() => undefined);
    await iam.send(new DeleteRoleCommand({ RoleName: ROLE })).catch(() => undefined);
    await iam
      .send(new DeleteOpenIDConnectProviderCommand({ OpenIDConnectProviderArn: PROVIDER }))
      .catch(() => undefined);
  }

  afterAll(async () => {
    await removeWhatTheDocMakes();
    iam.destroy();
  });

  it('github-oidc-setup: makes the provider and a role with exactly the trust and deployer policies', async () => {
    await removeWhatTheDocMakes();
    const dir = scratch('oidc');
    const env = shellEnv({
      AWS_ENDPOINT_URL: aws.endpoint,
      AWS_DEFAULT_REGION: aws.region,
      AWS_ACCESS_KEY_ID: TESTBED_CREDENTIALS.accessKeyId,
      AWS_SECRET_ACCESS_KEY: TESTBED_CREDENTIALS.secretAccessKey,
    });

    const run = await withCli(docBlock(DOC, 'github-oidc-setup'), { cwd: dir, env });

    expect({ code: run.code, tail: outputTail(run) }).toMatchObject({ code: 0 });
    // The last command prints what goes into SLUICE_ROLE_ARN.
    expect(run.output.trim().split('\n').pop()).toBe('arn:aws:iam::123456789012:role/sluice-jobs');

    const provider = await iam.send(
      new GetOpenIDConnectProviderCommand({ OpenIDConnectProviderArn: PROVIDER }),
    );
    expect(provider.ClientIDList).toEqual(['sts.amazonaws.com']);
    const role = await iam.send(new GetRoleCommand({ RoleName: ROLE }));
    expect(role.Role?.MaxSessionDuration).toBe(14_400);
    expect(JSON.parse(decodeURIComponent(role.Role?.AssumeRolePolicyDocument ?? '{}'))).toEqual(
      githubOidcTrustPolicy({ partition: 'aws', accountId: '123456789012', repository: 'my-org/my-jobs' }),
    );
    const policy = await iam.send(new GetRolePolicyCommand({ RoleName: ROLE, PolicyName: 'sluice' }));
    expect(JSON.parse(decodeURIComponent(policy.PolicyDocument ?? '{}'))).toEqual(
      deployerPolicy({ partition: 'aws', region: 'eu-west-1', accountId: '123456789012' }),
    );
  }, 120_000);

  it('github-secret: stores the value from the shell under the name the job then refers to', async () => {
    const dir = scratch('secret');
    const token = `docs-token-${Date.now()}`;
    const env = shellEnv({
      AWS_ENDPOINT_URL: aws.endpoint,
      AWS_DEFAULT_REGION: aws.region,
      AWS_ACCESS_KEY_ID: TESTBED_CREDENTIALS.accessKeyId,
      AWS_SECRET_ACCESS_KEY: TESTBED_CREDENTIALS.secretAccessKey,
      TOKEN: token,
    });
    const secrets = new SecretsManagerClient(aws.clientConfig());
    await secrets
      .send(new DeleteSecretCommand({ SecretId: 'my-jobs/api-token', ForceDeleteWithoutRecovery: true }))
      .catch(() => undefined);

    const run = await withCli(docBlock(DOC, 'github-secret'), { cwd: dir, env });

    expect({ code: run.code, tail: outputTail(run) }).toMatchObject({ code: 0 });
    const stored = await secrets.send(new GetSecretValueCommand({ SecretId: 'my-jobs/api-token' }));
    expect(stored.SecretString).toBe(token);
    expect(run.output.trim().split('\n').pop()).toBe(stored.ARN);
    await secrets.send(
      new DeleteSecretCommand({ SecretId: 'my-jobs/api-token', ForceDeleteWithoutRecovery: true }),
    );
    secrets.destroy();
  }, 120_000);
});

describe('docs/github.md, versions and releases', () => {
  it('github-release: versions, bundles, commit, tag and push make a release the check accepts', async () => {
    const clone = scratch('release');
    const origin = join(clone, 'origin.git');
    const work = join(clone, 'sluice');
    git(clone, 'init', '-q', '--bare', origin);
    git(clone, 'clone', '-q', REPOSITORY_ROOT, work);
    git(work, 'checkout', '-q', '-B', 'main');
    git(work, 'remote', 'set-url', 'origin', origin);
    // The bundles build with this checkout's installed packages.
    symlinkSync(join(REPOSITORY_ROOT, 'node_modules'), join(work, 'node_modules'));
    const env = shellEnv({
      GIT_AUTHOR_NAME: 'Release Test',
      GIT_AUTHOR_EMAIL: 'release@example.invalid',
      GIT_COMMITTER_NAME: 'Release Test',
      GIT_COMMITTER_EMAIL: 'release@example.invalid',
    });

    const run = await runDocCommands(docBlock(DOC, 'github-release'), { cwd: work, env, timeoutMs: 900_000 });

    expect({ code: run.code, tail: outputTail(run) }).toMatchObject({ code: 0 });
    expect(run.output).toMatch(/check-dist: rebuilt; [1-9]\d* bundle file\(s\) changed and staged/);
    expect(git(origin, 'tag', '--list')).toBe('v1.2.3\n');
    expect(git(origin, 'log', '-1', '--format=%s', 'main')).toBe('Release 1.2.3\n');
    // The pushed release: one version everywhere, a CHANGELOG section, fresh bundles, a clean tree.
    expect(git(work, 'status', '--porcelain', '--untracked-files=no')).toBe('');
    const check = execFileSync(process.execPath, ['scripts/release.mjs', 'check', 'v1.2.3'], {
      cwd: work,
      encoding: 'utf8',
    });
    expect(check).toContain('1.2.3');
    expect(existsSync(join(work, 'packages', 'cli', 'dist', 'index.js'))).toBe(true);
    expect(
      execFileSync(process.execPath, [join(work, 'packages', 'cli', 'dist', 'index.js'), '--version'], {
        encoding: 'utf8',
      }).trim(),
    ).toBe('1.2.3');
  }, 900_000);
});

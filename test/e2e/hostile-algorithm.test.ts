// End to end, a hostile algorithm (test/fixtures/algorithms/hostile.sh) through `sluice run` with
// the committed CLI bundle, podman and the moto server: it searches its environment, every process's
// environ and cmdline, readable files (/proc/1/root, /run/secrets, /root, /tmp, /etc, the workspace)
// and the ECS and EC2 credential endpoints, and uploads what it found. The report must hold none of
// the secret values the runner was handed, and must show the search was made (its own environment
// read, the runner's process seen), so the test fails when the algorithm can reach the runner.
// Once with an image whose USER is unset (root: the algorithm gets uid 65532) and once with a named
// non-root USER (resolved through the image's /etc/passwd); for each job mode in MODES.
// The runners' own credentials (the broker token, the run's AWS session) are in files mounted
// read-only and private to root: no runner container's variables (`podman inspect`) may hold them.
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chmod, copyFile, mkdir, mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';

import { GetObjectCommand } from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { CliContainerEngine } from '@sluice/core/compute';
import { REPOSITORY_ROOT, TestAwsAccount, containerEngineEnv } from '@sluice/testing';

import { keysUnder, runCli, runIdIn, runnerContainers, userShellEnv, type CliRun } from './e2e-support.js';

const execFileAsync = promisify(execFile);

/** The job modes the hostile algorithm runs under (the job's `"mode"`). */
const MODES = ['direct', 'sealed'] as const;
type Mode = (typeof MODES)[number];

/** The algorithm images: USER unset (root), and a named non-root user from the image's /etc/passwd. */
const USERS = [
  { label: 'root', lines: [], expectedId: 'uid=65532' },
  {
    label: 'app',
    lines: ['RUN ["/bin/sh", "-c", "mkdir -p /home/app && chown 1234:1234 /home/app"]', 'USER app'],
    expectedId: 'uid=1234',
  },
] as const;

const HOSTILE = join(REPOSITORY_ROOT, 'test/fixtures/algorithms/hostile.sh');

const aws = new TestAwsAccount({ label: 'hostile' });
const id = aws.id.slice(0, 8);
let workspace = '';

/** What the runner holds and the algorithm must never see. */
const SECRETS = {
  AWS_SECRET_ACCESS_KEY: `hostile-secret-${randomBytes(12).toString('hex')}`,
  AWS_SESSION_TOKEN: `hostile-token-${randomBytes(12).toString('hex')}`,
};

function sluice(args: string[]): Promise<CliRun> {
  return runCli(
    args,
    workspace,
    userShellEnv(
      { workspace, awsEndpoint: aws.endpoint, region: aws.region },
      { ...SECRETS, SLUICE_STATE_DIR: join(workspace, 'state') },
    ),
    300_000,
  );
}

/** The token and lease key of every local broker the runs so far made (sluice's state directory). */
async function brokerSecrets(): Promise<[string, string][]> {
  const dir = join(workspace, 'state', 'brokers');
  const names = await readdir(dir).catch(() => []);
  const found: [string, string][] = [];
  for (const name of names) {
    const file = JSON.parse(await readFile(join(dir, name), 'utf8')) as { token: string; key: string };
    found.push([`${name} token`, file.token], [`${name} key`, file.key]);
  }
  return found;
}

/**
 * The secret values of the run's runner credential files (sluice's state directory): the broker
 * token, or each AWS session's secret key and session token.
 */
async function runnerCredentialSecrets(runId: string): Promise<[string, string][]> {
  const dir = join(workspace, 'state', 'runners', runId);
  const found: [string, string][] = [];
  for (const set of await readdir(dir)) {
    for (const file of await readdir(join(dir, set))) {
      const text = await readFile(join(dir, set, file), 'utf8');
      if (file === 'broker-token') found.push([`${set}/${file}`, text.trim()]);
      for (const match of text.matchAll(/^(aws_secret_access_key|aws_session_token) = (.+)$/gm)) {
        found.push([`${set}/${file} ${match[1]}`, match[2] ?? '']);
      }
    }
  }
  return found;
}

/** Every variable (`NAME=value`) of every runner container of the run, as `podman inspect` shows them. */
async function runnerVariables(runId: string): Promise<string[]> {
  const ids = await runnerContainers(runId);
  if (ids.length === 0) return [];
  const { stdout } = await execFileAsync('podman', ['inspect', '--format', '{{json .Config.Env}}', ...ids], {
    env: { ...process.env, ...containerEngineEnv() },
  });
  return stdout
    .split('\n')
    .filter((line) => line.trim() !== '')
    .flatMap((line) => JSON.parse(line) as string[]);
}

/** Writes an algorithm directory (manifest, busybox image context with hostile.sh) for `sluice wrap`. */
async function writeAlgorithm(name: string, userLines: readonly string[]): Promise<string> {
  const dir = join(workspace, name);
  const image = join(dir, 'image');
  await mkdir(image, { recursive: true });
  await copyFile('/bin/busybox', join(image, 'busybox'));
  await copyFile(HOSTILE, join(image, 'hostile.sh'));
  await chmod(join(image, 'hostile.sh'), 0o755);
  await writeFile(
    join(image, 'passwd'),
    'root:x:0:0:root:/root:/bin/sh\napp:x:1234:1234::/home/app:/bin/sh\n',
  );
  await writeFile(join(image, 'group'), 'root:x:0:\napp:x:1234:\n');
  await writeFile(
    join(image, 'Containerfile'),
    [
      'FROM scratch',
      'COPY busybox /bin/busybox',
      'RUN ["/bin/busybox", "--install", "-s", "/bin"]',
      'COPY passwd group /etc/',
      'COPY hostile.sh /app/hostile.sh',
      // A secret of the image's root, which the algorithm must not read either.
      'RUN ["/bin/sh", "-c", "mkdir -p /root && chmod 0700 /root && echo root-only > /root/secret"]',
      ...userLines,
      '',
    ].join('\n'),
  );
  await writeFile(
    join(dir, 'algorithm.json'),
    `${JSON.stringify(
      {
        name,
        version: '1.0',
        build: { context: 'image', dockerfile: 'Containerfile' },
        command: ['/app/hostile.sh', '{input}', '{output}'],
        input: '/data/in/',
        output: '/data/out/',
        memory: 64,
        timeoutSeconds: 120,
      },
      null,
      2,
    )}\n`,
  );
  return join(name, 'algorithm.json');
}

const names = USERS.map((user) => `hostile-${user.label}-${id}`);

beforeAll(async () => {
  workspace = await mkdtemp(join(tmpdir(), 'sluice-hostile-'));
});

afterAll(async () => {
  const engine = new CliContainerEngine({ kind: 'podman', env: { ...containerEngineEnv() } });
  await engine
    .removeImages(
      names.flatMap((name) => [`localhost/sluice/${name}:1.0`, `localhost/sluice/${name}-algorithm:1.0`]),
    )
    .catch((e: unknown) => {
      console.warn(`could not remove the images: ${String(e)}`);
    });
  await aws.cleanup();
  await rm(workspace, { recursive: true, force: true });
}, 120_000);

describe.each(MODES.map((mode) => [mode]))('a hostile algorithm in %s mode', (mode: Mode) => {
  it.each(USERS.map((user) => [user.label, user] as const))(
    'finds no credential of the runner (image USER %s)',
    async (_label, user) => {
      const name = `hostile-${user.label}-${id}`;
      const manifest = await writeAlgorithm(name, user.lines);
      const wrapped = await sluice(['wrap', manifest]);
      if (wrapped.code !== 0) throw new Error(`sluice wrap failed:\n${wrapped.stderr}`);
      const input = aws.bucketName(`${user.label}-${mode}-in`);
      const output = aws.bucketName(`${user.label}-${mode}-out`);
      aws.trackBucket(input);
      aws.trackBucket(output);
      const job = `${name}-${mode}.json`;
      await writeFile(
        join(workspace, job),
        `${JSON.stringify({
          name: `${name}-${mode}`,
          mode,
          algorithm: `${name}@1.0`,
          input: { bucket: input, create: true },
          output: { bucket: output },
          aws: { region: aws.region, credentials: 'environment' },
          compute: { backend: 'local', maxWorkers: 1, idleSeconds: 10 },
          retries: 0,
        })}\n`,
      );
      const files = join(workspace, `${name}-${mode}-files`);
      await mkdir(files, { recursive: true });
      await writeFile(join(files, 'bait.txt'), 'an input\n');

      // --keep: the runner containers stay to be inspected, then teardown removes them.
      const run = await sluice(['run', job, '--upload', files, '--keep']);
      const runId = runIdIn(run.stderr);
      const variables = await runnerVariables(runId);
      const credentials = await runnerCredentialSecrets(runId);
      const tornDown = await sluice(['teardown', job]);

      if (run.code !== 0) throw new Error(`sluice run failed:\n${run.stderr}`);
      expect(tornDown.code).toBe(0);
      expect(run.stdout).toContain('1 succeeded, 0 failed of 1 inputs');
      expect(await keysUnder(aws, output, 'bait.txt/')).toEqual(['bait.txt/report.txt']);
      const object = await aws.s3.send(new GetObjectCommand({ Bucket: output, Key: 'bait.txt/report.txt' }));
      const report = (await object.Body?.transformToString()) ?? '';
      const counter = (label: string): number =>
        Number(new RegExp(`^# ${label}: (\\d+)$`, 'm').exec(report)?.[1] ?? Number.NaN);
      // It found nothing of the runner's...
      for (const [variable, value] of Object.entries(SECRETS)) {
        expect({ variable, found: report.includes(value) }).toEqual({ variable, found: false });
      }
      // Sealed mode: the runner holds the run's broker token (the broker's lease key stays in the
      // sluice process); neither may reach the algorithm.
      const brokers = await brokerSecrets();
      expect(brokers.length > 0).toBe(mode === 'sealed');
      for (const [variable, value] of brokers) {
        expect({ variable, found: report.includes(value) }).toEqual({ variable, found: false });
      }
      // The runners' own credentials: in files, not in the containers' variables, and out of reach.
      expect(variables.length).toBeGreaterThan(0);
      expect(variables.map((variable) => variable.split('=')[0])).toContain(
        mode === 'sealed' ? 'SLUICE_BROKER_TOKEN_FILE' : 'AWS_SHARED_CREDENTIALS_FILE',
      );
      expect(credentials.length).toBeGreaterThan(0);
      for (const [variable, value] of [...credentials, ...brokers, ...Object.entries(SECRETS)]) {
        const inVariables = variables.some((entry) => entry.includes(value));
        expect({ variable, inVariables, inReport: report.includes(value) }).toEqual({
          variable,
          inVariables: false,
          inReport: false,
        });
      }
      expect(report).toContain('# unlistable: /run/sluice/credentials');
      // teardown removed the files with the containers.
      expect(await readdir(join(workspace, 'state', 'runners')).catch(() => [])).not.toContain(runId);
      expect(report).not.toContain('root-only');
      expect(report).not.toMatch(/^SLUICE_RUN=/m);
      // ...though it searched: its own environment read, the runner's process (and its own) seen, files read.
      expect(report).toContain(`# id: ${user.expectedId}`);
      expect(report).toContain('# self-environ: read');
      expect(counter('processes-seen')).toBeGreaterThanOrEqual(2);
      expect(counter('files-read')).toBeGreaterThan(0);
      expect(report).toContain('# endpoints: tried');
    },
    600_000,
  );
});

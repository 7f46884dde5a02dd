// Support for the end-to-end tests: the committed action bundles (actions/<name>/dist/index.js) run
// as processes the way GitHub's runner runs them — inputs as INPUT_<NAME> variables, outputs read back
// from the GITHUB_OUTPUT file, the job summary from GITHUB_STEP_SUMMARY — against the test bed's moto
// server and podman.
import { execFile, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { chmod, copyFile, mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';

import { ListObjectsV2Command } from '@aws-sdk/client-s3';
import { ListQueuesCommand } from '@aws-sdk/client-sqs';
import { afterAll, beforeAll } from '@jest/globals';
import { CliContainerEngine } from '@sluice/core/compute';
import {
  REPOSITORY_ROOT,
  TESTBED_CREDENTIALS,
  containerEngineEnv,
  type TestAwsAccount,
} from '@sluice/testing';
import { parse } from 'yaml';

const execFileAsync = promisify(execFile);

/** The five actions, in the order a workflow runs them. */
export type ActionName =
  'wrap-algorithm' | 'provision-run' | 'dispatch-tasks' | 'collect-results' | 'teardown';

/** What one step left behind. */
export interface StepRun {
  readonly action: ActionName;
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
  readonly outputs: Record<string, string>;
  readonly summary: string;
  /** What the step saved for its post step (GITHUB_STATE), by name. */
  readonly state: Record<string, string>;
  readonly ms: number;
}

/** The committed bundle of an action. */
export function actionBundle(action: ActionName): string {
  return join(REPOSITORY_ROOT, 'actions', action, 'dist', 'index.js');
}

/** Reads a GITHUB_OUTPUT file: `name<<DELIMITER\nvalue\nDELIMITER` entries, as @actions/core writes them. */
export function readOutputs(file: string): Record<string, string> {
  const outputs: Record<string, string> = {};
  if (!existsSync(file)) return outputs;
  const lines = readFileSync(file, 'utf8').split('\n');
  for (let i = 0; i < lines.length; i++) {
    const match = /^([^<=]+)<<(.+)$/.exec(lines[i] ?? '');
    if (match === null) continue;
    const [, name = '', delimiter] = match;
    const value: string[] = [];
    for (i++; i < lines.length && lines[i] !== delimiter; i++) value.push(lines[i] ?? '');
    outputs[name] = value.join('\n');
  }
  return outputs;
}

/** The variable GitHub's runner sets for an input: `INPUT_` + the name uppercased, spaces as `_` (dashes kept). */
export function inputVariable(name: string): string {
  return `INPUT_${name.replace(/ /g, '_').toUpperCase()}`;
}

/** Where the steps of one workflow run live, and the AWS endpoint they talk to. */
export interface Workflow {
  /** The workspace (the steps' working directory, GITHUB_WORKSPACE). */
  readonly workspace: string;
  readonly awsEndpoint: string;
  readonly region: string;
  /** The event and the GitHub API the run sees; without it, a `workflow_dispatch` with no API. */
  readonly github?: GitHubContext;
}

/** What GitHub's runner tells a step about the event and the API. */
export interface GitHubContext {
  readonly event: string;
  /** GITHUB_API_URL: a stand-in API on a loopback port. */
  readonly apiUrl: string;
  readonly repository: string;
  readonly sha: string;
  readonly runId: string;
  /** What `${{ github.token }}` evaluates to. */
  readonly token: string;
}

/**
 * The inputs a step gets from its action.yml defaults, as the runner applies them: plain values, and
 * `${{ github.token }}` when the workflow has a GitHub context; other expressions are left out.
 */
function defaultInputs(action: ActionName, github: GitHubContext | undefined): Record<string, string> {
  const yml = parse(readFileSync(join(REPOSITORY_ROOT, 'actions', action, 'action.yml'), 'utf8')) as {
    inputs?: Record<string, { default?: string | number | boolean }>;
  };
  const defaults: Record<string, string> = {};
  for (const [name, input] of Object.entries(yml.inputs ?? {})) {
    if (input.default === undefined) continue;
    const value = String(input.default);
    if (value === '${{ github.token }}') {
      if (github !== undefined) defaults[name] = github.token;
    } else if (!value.includes('${{')) {
      defaults[name] = value;
    }
  }
  return defaults;
}

/**
 * Runs one action's bundle as a process: `node dist/index.js` in the workspace with the inputs (over
 * action.yml's defaults) as INPUT_* variables, fresh GITHUB_OUTPUT and GITHUB_STEP_SUMMARY files, the
 * event and API of `workflow.github`, the test bed's podman settings and AWS endpoint with dummy
 * credentials. Never throws for a failing step: the exit code is returned.
 */
export function runAction(
  workflow: Workflow,
  action: ActionName,
  inputs: Readonly<Record<string, string>>,
  timeoutMs = 240_000,
  /** The runner's STATE_<name> variables of a post step: the state its main step saved. */
  savedState: Readonly<Record<string, string>> = {},
): Promise<StepRun> {
  const bundle = actionBundle(action);
  if (!existsSync(bundle)) throw new Error(`${bundle} is missing: build it (npm run build)`);
  const tag = `${action}-${randomBytes(3).toString('hex')}`;
  const output = join(workflow.workspace, `.github-output-${tag}`);
  const summary = join(workflow.workspace, `.github-summary-${tag}`);
  writeFileSync(output, '');
  writeFileSync(summary, '');
  // The runner creates the state file too: an action with a post step saves state into it.
  const state = join(workflow.workspace, `.github-state-${tag}`);
  writeFileSync(state, '');
  const env: NodeJS.ProcessEnv = {};
  for (const [key, value] of Object.entries(process.env)) {
    if (!/^(INPUT_|STATE_|GITHUB_|RUNNER_|ACTIONS_|AWS_)/.test(key)) env[key] = value;
  }
  Object.assign(env, containerEngineEnv(), {
    GITHUB_ACTIONS: 'true',
    GITHUB_WORKSPACE: workflow.workspace,
    GITHUB_OUTPUT: output,
    GITHUB_STEP_SUMMARY: summary,
    GITHUB_STATE: state,
    GITHUB_EVENT_NAME: workflow.github?.event ?? 'workflow_dispatch',
    RUNNER_TEMP: workflow.workspace,
    SLUICE_CONTAINER_ENGINE: 'podman',
    SLUICE_CACHE_DIR: join(workflow.workspace, '.sluice-cache'),
    AWS_ENDPOINT_URL: workflow.awsEndpoint,
    AWS_REGION: workflow.region,
    AWS_ACCESS_KEY_ID: TESTBED_CREDENTIALS.accessKeyId,
    AWS_SECRET_ACCESS_KEY: TESTBED_CREDENTIALS.secretAccessKey,
  });
  const { github } = workflow;
  if (github !== undefined) {
    Object.assign(env, {
      GITHUB_API_URL: github.apiUrl,
      GITHUB_SERVER_URL: 'https://github.example',
      GITHUB_REPOSITORY: github.repository,
      GITHUB_SHA: github.sha,
      GITHUB_RUN_ID: github.runId,
    });
  }
  for (const [name, value] of Object.entries({ ...defaultInputs(action, github), ...inputs })) {
    env[inputVariable(name)] = value;
  }
  for (const [name, value] of Object.entries(savedState)) env[`STATE_${name}`] = value;
  const started = Date.now();
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [bundle], {
      cwd: workflow.workspace,
      env,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    const timer = setTimeout(() => child.kill('SIGTERM'), timeoutMs);
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    child.on('error', (error) => {
      clearTimeout(timer);
      reject(error);
    });
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({
        action,
        code,
        stdout,
        stderr,
        outputs: readOutputs(output),
        summary: readFileSync(summary, 'utf8'),
        state: readOutputs(state),
        ms: Date.now() - started,
      });
    });
  });
}

/** A step's output for a failed assertion: exit code, annotations and the end of its output. */
export function describeStep(step: StepRun): string {
  const tail = (text: string): string => text.split('\n').slice(-40).join('\n');
  return `${step.action} exited ${String(step.code)} after ${step.ms} ms\n--- stdout\n${tail(step.stdout)}\n--- stderr\n${tail(step.stderr)}`;
}

/**
 * The algorithm's script: copies its input with a header; refuses (exit 1) a file whose content is
 * `fail`; sleeps a minute on a file whose content is `slow`.
 */
const RUN_SH = `#!/bin/sh
in="$1"
out="$2"
name=$(basename "$in")
# A file whose content is \`slow\` keeps its runner busy (for tests that interrupt a run).
if [ "$(cat "$in")" = slow ]; then
  sleep 60
fi
if [ "$(cat "$in")" = fail ]; then
  echo "refusing $name: its content is fail" >&2
  exit 1
fi
{ echo processed; cat "$in"; } > "$out/result.txt"
`;

/**
 * Writes an algorithm's directory for wrap-algorithm: `algorithm.json` (name@1.0, built from
 * `image/Containerfile`) and a FROM-scratch busybox image context with `/app/run.sh`.
 */
export async function buildAlgorithmContext(dir: string, name: string): Promise<void> {
  const image = join(dir, 'image');
  await mkdir(image, { recursive: true });
  await copyFile('/bin/busybox', join(image, 'busybox'));
  await writeFile(join(image, 'run.sh'), RUN_SH);
  await chmod(join(image, 'run.sh'), 0o755);
  await writeFile(
    join(image, 'Containerfile'),
    [
      'FROM scratch',
      'COPY busybox /bin/busybox',
      'RUN ["/bin/busybox", "--install", "-s", "/bin"]',
      'COPY run.sh /app/run.sh',
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
        command: ['/app/run.sh', '{input}', '{output}'],
        input: '/data/in/',
        output: '/data/out/',
        memory: 64,
        timeoutSeconds: 60,
      },
      null,
      2,
    )}\n`,
  );
}

// ---------------------------------------------------------------------------------------------
// The sluice CLI bundle as a user's shell runs it.

/** The committed CLI bundle. */
export const CLI_BUNDLE = join(REPOSITORY_ROOT, 'packages', 'cli', 'dist', 'index.js');

/** What a CLI process left. */
export interface CliRun {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

/** A running CLI process. */
export interface RunningCli {
  readonly exited: Promise<CliRun>;
  /** The first match of `pattern` in stderr so far or to come; rejects if the process exits first. */
  stderrMatches(pattern: RegExp): Promise<string>;
  kill(signal: NodeJS.Signals): void;
}

/**
 * A user's shell on this machine: jest's environment without its AWS, sluice, action-input and
 * GitHub variables, with the test bed's podman settings.
 */
export function plainShellEnv(): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [key, value] of Object.entries(process.env)) {
    if (!/^(AWS_|SLUICE_|INPUT_|GITHUB_)/.test(key)) env[key] = value;
  }
  return Object.assign(env, containerEngineEnv());
}

/**
 * The environment of a user's shell on the test bed: this process's, without AWS or sluice settings,
 * plus the test bed's AWS endpoint and dummy credentials and podman's settings. `overrides` set or
 * (with undefined) unset variables.
 */
export function userShellEnv(
  workflow: Pick<Workflow, 'workspace' | 'awsEndpoint' | 'region'>,
  overrides: Readonly<Record<string, string | undefined>> = {},
): NodeJS.ProcessEnv {
  const env: Record<string, string | undefined> = plainShellEnv();
  Object.assign(env, {
    NODE_NO_WARNINGS: '1',
    SLUICE_CONTAINER_ENGINE: 'podman',
    SLUICE_CACHE_DIR: join(workflow.workspace, '.sluice-cache'),
    AWS_ENDPOINT_URL: workflow.awsEndpoint,
    AWS_REGION: workflow.region,
    AWS_ACCESS_KEY_ID: TESTBED_CREDENTIALS.accessKeyId,
    AWS_SECRET_ACCESS_KEY: TESTBED_CREDENTIALS.secretAccessKey,
    ...overrides,
  });
  return Object.fromEntries(
    Object.entries(env).filter((entry): entry is [string, string] => entry[1] !== undefined),
  );
}

/** Starts `sluice ARGS` in `cwd`; SIGKILL after `timeoutMs`. */
export function startCli(
  args: readonly string[],
  cwd: string,
  env: NodeJS.ProcessEnv,
  timeoutMs = 180_000,
): RunningCli {
  const child = spawn(process.execPath, [CLI_BUNDLE, ...args], {
    cwd,
    env,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  const waiting: { pattern: RegExp; resolve: (text: string) => void }[] = [];
  child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => {
    stderr += chunk.toString();
    for (const wait of waiting.splice(0)) {
      const match = wait.pattern.exec(stderr);
      if (match === null) waiting.push(wait);
      else wait.resolve(match[0]);
    }
  });
  const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
  const exited = new Promise<CliRun>((resolve, reject) => {
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
  return {
    exited,
    stderrMatches: (pattern) =>
      new Promise((resolve, reject) => {
        const match = pattern.exec(stderr);
        if (match !== null) resolve(match[0]);
        else waiting.push({ pattern, resolve });
        void exited.then(() => {
          reject(new Error(`sluice exited before its stderr matched ${String(pattern)}:\n${stderr}`));
        });
      }),
    kill: (signal) => child.kill(signal),
  };
}

/** `sluice ARGS` to its end (never rejects for a failing command: see the exit code). */
export function runCli(
  args: readonly string[],
  cwd: string,
  env: NodeJS.ProcessEnv,
  timeoutMs = 180_000,
): Promise<CliRun> {
  return startCli(args, cwd, env, timeoutMs).exited;
}

/** The ids of the containers (running or not) labelled with the run, as podman lists them. */
export async function runnerContainers(runId: string): Promise<string[]> {
  const { stdout } = await execFileAsync(
    'podman',
    ['ps', '--all', '--quiet', '--filter', `label=org.sluice.run=${runId}`],
    { env: { ...process.env, ...containerEngineEnv() } },
  );
  return stdout.split('\n').filter((line) => line.trim() !== '');
}

/** The run id in a CLI's progress (`run <id>: provisioned`). */
export function runIdIn(stderr: string): string {
  const match = /run ([a-z0-9-]+): provisioned/.exec(stderr);
  if (match?.[1] === undefined) throw new Error(`no run id in:\n${stderr}`);
  return match[1];
}

/**
 * The setup of a CLI test file: before its tests, the test algorithm `algorithm` is written to
 * `<workspace>/algorithm` and wrapped by `wrap` (`sluice wrap algorithm/algorithm.json` as the file
 * runs the CLI); after them, its images, the account's resources and the workspace are removed.
 */
export function useWrappedAlgorithm(fixture: {
  readonly workspace: string;
  readonly algorithm: string;
  readonly aws: TestAwsAccount;
  readonly wrap: () => Promise<CliRun>;
}): void {
  const { workspace, algorithm, aws } = fixture;
  beforeAll(async () => {
    await buildAlgorithmContext(join(workspace, 'algorithm'), algorithm);
    const wrapped = await fixture.wrap();
    if (wrapped.code !== 0) throw new Error(`sluice wrap failed:\n${wrapped.stderr}`);
  }, 300_000);

  afterAll(async () => {
    const engine = new CliContainerEngine({ kind: 'podman', env: { ...containerEngineEnv() } });
    await engine
      .removeImages([`localhost/sluice/${algorithm}:1.0`, `localhost/sluice/${algorithm}-algorithm:1.0`])
      .catch((e: unknown) => {
        console.warn(`could not remove the images: ${String(e)}`);
      });
    await aws.cleanup();
    rmSync(workspace, { recursive: true, force: true });
  }, 120_000);
}

/** The URLs of the account's queues whose names start with `prefix`. */
export async function queuesNamed(aws: TestAwsAccount, prefix: string): Promise<string[]> {
  const listed = await aws.sqs.send(new ListQueuesCommand({ QueueNamePrefix: prefix }));
  return listed.QueueUrls ?? [];
}

/** The keys under `prefix` in `bucket`, sorted (one page: the tests keep to fewer than 1,000). */
export async function keysUnder(aws: TestAwsAccount, bucket: string, prefix: string): Promise<string[]> {
  const listed = await aws.s3.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: prefix }));
  return (listed.Contents ?? []).map((object) => object.Key ?? '').sort();
}

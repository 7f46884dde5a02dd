// Support for the end-to-end tests: the committed action bundles (actions/<name>/dist/index.js) run
// as processes the way GitHub's runner runs them — inputs as INPUT_<NAME> variables, outputs read back
// from the GITHUB_OUTPUT file, the job summary from GITHUB_STEP_SUMMARY — against the test bed's moto
// server and podman.
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { chmod, copyFile, mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';

import { REPOSITORY_ROOT, TESTBED_CREDENTIALS, containerEngineEnv } from '@sluice/testing';

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
}

/**
 * Runs one action's bundle as a process: `node dist/index.js` in the workspace with the inputs as
 * INPUT_* variables, fresh GITHUB_OUTPUT and GITHUB_STEP_SUMMARY files, the test bed's podman settings
 * and AWS endpoint with dummy credentials. Never throws for a failing step: the exit code is returned.
 */
export function runAction(
  workflow: Workflow,
  action: ActionName,
  inputs: Readonly<Record<string, string>>,
  timeoutMs = 240_000,
): Promise<StepRun> {
  const bundle = actionBundle(action);
  if (!existsSync(bundle)) throw new Error(`${bundle} is missing: build it (npm run build)`);
  const tag = `${action}-${randomBytes(3).toString('hex')}`;
  const output = join(workflow.workspace, `.github-output-${tag}`);
  const summary = join(workflow.workspace, `.github-summary-${tag}`);
  writeFileSync(output, '');
  writeFileSync(summary, '');
  const env: NodeJS.ProcessEnv = {};
  for (const [key, value] of Object.entries(process.env)) {
    if (!/^(INPUT_|STATE_|GITHUB_|RUNNER_|ACTIONS_|AWS_)/.test(key)) env[key] = value;
  }
  Object.assign(env, containerEngineEnv(), {
    GITHUB_ACTIONS: 'true',
    GITHUB_WORKSPACE: workflow.workspace,
    GITHUB_OUTPUT: output,
    GITHUB_STEP_SUMMARY: summary,
    GITHUB_STATE: join(workflow.workspace, `.github-state-${tag}`),
    GITHUB_EVENT_NAME: 'workflow_dispatch',
    RUNNER_TEMP: workflow.workspace,
    SLUICE_CONTAINER_ENGINE: 'podman',
    SLUICE_CACHE_DIR: join(workflow.workspace, '.sluice-cache'),
    AWS_ENDPOINT_URL: workflow.awsEndpoint,
    AWS_REGION: workflow.region,
    AWS_ACCESS_KEY_ID: TESTBED_CREDENTIALS.accessKeyId,
    AWS_SECRET_ACCESS_KEY: TESTBED_CREDENTIALS.secretAccessKey,
  });
  for (const [name, value] of Object.entries(inputs)) env[inputVariable(name)] = value;
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

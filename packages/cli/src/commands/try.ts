import { copyFile, mkdir, mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { basename, dirname, join, resolve } from 'node:path';

import {
  ConfigurationError,
  PortAlgorithm,
  SecretMask,
  TaskLog,
  TaskWorkspace,
  algorithmCommand,
  algorithmEnvironment,
  executeTask,
  parseManifest,
  toError,
  withManifestDefaults,
  type Manifest,
  type TaskAttempt,
} from '@sluice/core';
import type { Command } from 'commander';

import type { CommandContext } from '../context.js';
import { ExitCode } from '../exit-codes.js';

const EXAMPLES = `
Examples:
  $ sluice try algorithm.json photo.jpg
  $ sluice try algorithm.json photo.jpg --env SIZE=256 --out /tmp/thumbs

The algorithm runs as a process on this machine (not in its image), with the manifest's input and
output paths placed under a temporary directory; {input} and {output} in its command stand for them.

Exit status: 0 the algorithm succeeded, 1 it failed (the record says why) or sluice failed,
2 a file or the command line is wrong.
`;

interface TryOptions {
  readonly env: string[];
  readonly out?: string;
  readonly timeout?: string;
}

/** `sluice try MANIFEST FILE`: one local file through the algorithm, the way the runner would. */
export function registerTry(program: Command, context: CommandContext): void {
  program
    .command('try')
    .summary('run one local file through an algorithm, as a runner would')
    .description(
      'Run the algorithm of MANIFEST on FILE the way a runner does (same paths, environment, time ' +
        'limit, log masking and failure classes) without a queue or a bucket, then show the results, ' +
        'the log and the record.',
    )
    .argument('<manifest>', 'the algorithm.json')
    .argument('<file>', 'the input file')
    .option('--env <NAME=VALUE>', 'a value for one of the algorithm variables (repeatable)', collect, [])
    .option('--out <dir>', 'where to copy the results (default ./sluice-try-out)')
    .option('--timeout <seconds>', "time limit (default the manifest's timeoutSeconds)")
    .addHelpText('after', EXAMPLES)
    .action((manifestPath: string, file: string, options: TryOptions) =>
      tryFile(context, manifestPath, file, options),
    );
}

/** Runs FILE through the algorithm of MANIFEST in a temporary workspace and prints what came of it. */
async function tryFile(
  context: CommandContext,
  manifestPath: string,
  file: string,
  options: TryOptions,
): Promise<void> {
  const manifest = parseManifest(await context.io.readFile(manifestPath), manifestPath);
  const { values, timeoutSeconds, secrets } = tryInputs(manifest, options);
  const outDir = resolve(options.out ?? 'sluice-try-out');
  const root = await mkdtemp(join(tmpdir(), 'sluice-try-'));
  let server: PortAlgorithm | undefined;
  try {
    const workspace = new TaskWorkspace(manifest, root);
    await workspace.prepare();
    const key = basename(file);
    try {
      await copyFile(file, workspace.inputFileFor(key));
    } catch (thrown) {
      throw new ConfigurationError(`cannot read ${file}: ${toError(thrown).message}`, { cause: thrown });
    }
    const logFile = join(root, 'task.log');
    const log = new TaskLog(logFile, { secrets });
    const env = algorithmEnvironment(process.env, values);
    const startedAt = new Date().toISOString();
    if (manifest.port !== undefined) {
      server = new PortAlgorithm({
        command: algorithmCommand(manifest, { input: workspace.inputPath, output: workspace.outputPath }),
        env,
        port: manifest.port,
      });
      await server.start(log);
    }
    const result = await executeTask({
      manifest,
      workspace,
      taskId: 'try',
      key,
      env,
      timeoutMs: timeoutSeconds * 1000,
      log,
      ...(server !== undefined && { server }),
    });
    await log.close();
    const copied = await copyOutputs(result.outputs, outDir);
    const { verdict } = result;
    const attempt: TaskAttempt = {
      attempt: 1,
      workerId: 'sluice-try',
      startedAt,
      endedAt: new Date().toISOString(),
      phases: { runMs: result.runMs },
      ...(verdict.exitCode !== undefined && { exitCode: verdict.exitCode }),
      // Masked as the runner's ledger masks it: a port server's error body may echo a secret value.
      ...(!verdict.ok && {
        failureClass: verdict.failureClass,
        message: new SecretMask(secrets).text(verdict.message),
      }),
    };
    const record = {
      status: verdict.ok ? 'succeeded' : 'failed',
      retryable: verdict.ok ? undefined : verdict.retryable,
      input: { file: resolve(file), placedAt: workspace.inputFileFor(key).slice(root.length) },
      attempts: [attempt],
      outputs: copied,
    };
    context.io.out(
      `outputs (${copied.length}):\n${copied.map((o) => `  ${o.path}  ${o.size} bytes`).join('\n') || '  (none)'}\n\n` +
        `log:\n${(await readFile(logFile, 'utf8')).trimEnd().replace(/^/gm, '  ')}\n\n` +
        `record:\n${JSON.stringify(record, null, 2)}\n`,
    );
    context.exitCode = verdict.ok ? ExitCode.ok : ExitCode.fault;
  } finally {
    await server?.stop();
    await rm(root, { recursive: true, force: true });
  }
}

/** The variables' values (given or defaulted), the time limit, and the values the log must mask. */
function tryInputs(
  manifest: Manifest,
  options: TryOptions,
): { values: Record<string, string>; timeoutSeconds: number; secrets: string[] } {
  const values = withManifestDefaults(manifest, parseValues(options.env));
  const missing = Object.entries(manifest.env)
    .filter(([name, spec]) => spec.required && values[name] === undefined)
    .map(([name]) => name);
  if (missing.length > 0)
    throw new ConfigurationError(`the algorithm requires ${missing.join(', ')}: pass --env NAME=VALUE`);
  const timeoutSeconds = options.timeout === undefined ? manifest.timeoutSeconds : Number(options.timeout);
  if (!Number.isInteger(timeoutSeconds) || timeoutSeconds < 1) {
    throw new ConfigurationError(
      `--timeout must be a whole number of seconds, found ${options.timeout ?? ''}`,
    );
  }
  const secrets = Object.entries(manifest.env)
    .filter(([name, spec]) => spec.secret && values[name] !== undefined)
    .map(([name]) => values[name] ?? '');
  return { values, timeoutSeconds, secrets };
}

/** Copies the algorithm's outputs under `outDir`, keeping their relative paths. */
async function copyOutputs(
  outputs: readonly { readonly relativePath: string; readonly file: string; readonly size: number }[],
  outDir: string,
): Promise<{ path: string; size: number }[]> {
  const copied: { path: string; size: number }[] = [];
  for (const output of outputs) {
    const target = join(outDir, ...output.relativePath.split('/'));
    await mkdir(dirname(target), { recursive: true });
    await copyFile(output.file, target);
    copied.push({ path: target, size: output.size });
  }
  return copied;
}

function collect(value: string, previous: string[]): string[] {
  return [...previous, value];
}

function parseValues(pairs: readonly string[]): Record<string, string> {
  const values: Record<string, string> = {};
  for (const pair of pairs) {
    const equals = pair.indexOf('=');
    if (equals <= 0) throw new ConfigurationError(`--env ${pair}: write NAME=VALUE`);
    values[pair.slice(0, equals)] = pair.slice(equals + 1);
  }
  return values;
}

import { chmod, copyFile, mkdir, mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { basename, dirname, join, resolve } from 'node:path';

import {
  ConfigurationError,
  InfrastructureError,
  PortAlgorithm,
  SecretMask,
  TaskLog,
  TaskWorkspace,
  algorithmCommand,
  algorithmEnvironment,
  classifyAttempt,
  executeTask,
  parseManifest,
  toError,
  withManifestDefaults,
  type AttemptVerdict,
  type CollectedOutput,
  type Manifest,
  type Logger,
  type TaskAttempt,
} from '@sluice/core';
import {
  AlgorithmServerContainer,
  algorithmContainerOptions,
  algorithmMountDirectories,
  checkImagePlatform,
  detectContainerEngine,
  hostPlatform,
  imageCommand,
  localAlgorithmImage,
  runAlgorithmContainer,
  type ContainerEngine,
} from '@sluice/core/compute';
import type { Command } from 'commander';

import type { CommandContext } from '../context.js';
import { ExitCode } from '../exit-codes.js';
import { maskingLogger } from './step-options.js';

const EXAMPLES = `
Examples:
  $ sluice try algorithm.json photo.jpg
  $ sluice try algorithm.json photo.jpg --env SIZE=256 --out /tmp/thumbs
  $ sluice try algorithm.json photo.jpg --host

By default the algorithm runs in its image, with the local container engine (docker, or podman),
as the runner inside the wrapped image runs it: the image's entrypoint and the manifest's
"command" (else the image's CMD), the image's working directory, its non-root USER (else uid
65532 with HOME /tmp/sluice-home), no capabilities, no new privileges, the runner's network and
process limit, the manifest's memory, read-only root and time limit; the manifest's input and
output locations are directories of this machine mounted into the container. A "build" manifest
is built first; an "image" must be in the local image store (sluice try never pulls).

Why the algorithm image itself and not the wrapped one: the wrapped image's runner needs a queue
and a bucket (or a broker) to take tasks from, and adds nothing to how the algorithm runs but
these settings, which sluice try gives the container directly; so one file is tried in seconds,
without building the runner in.

A port algorithm's server gets this machine's network (the port must be free here) and is sent
the runner's request on 127.0.0.1:<port>.

With --host the algorithm runs as a process on this machine instead, with the manifest's input and
output paths placed under a temporary directory; {input} and {output} in its command stand for
them, and the manifest must have a "command".

Exit status: 0 the algorithm succeeded, 1 it failed (the record says why) or sluice failed,
2 a file or the command line is wrong (a missing image or container engine too).
`;

interface TryOptions {
  readonly env: string[];
  readonly out?: string;
  readonly timeout?: string;
  readonly host?: boolean;
}

/** What one attempt left, the same for both ways of running it. */
interface TryAttempt {
  readonly verdict: AttemptVerdict;
  readonly runMs: number;
  readonly outputs: readonly CollectedOutput[];
  /** Where the input was placed, as the algorithm saw it. */
  readonly placedAt: string;
}

/** What both ways of running get. */
interface TryRun {
  readonly manifest: Manifest;
  readonly manifestPath: string;
  readonly file: string;
  readonly values: Record<string, string>;
  readonly timeoutSeconds: number;
  /** Values the log and any message printed must mask. */
  readonly secrets: readonly string[];
  /** The temporary directory of this try (removed afterwards). */
  readonly root: string;
  readonly log: TaskLog;
}

/** What `try` takes from the machine: the container engine (a fake in unit tests). */
export interface TryDependencies {
  readonly engine: (logger: Logger) => Promise<ContainerEngine>;
}

const MACHINE: TryDependencies = { engine: (logger) => detectContainerEngine({ logger }) };

/** `sluice try MANIFEST FILE`: one local file through the algorithm, the way the runner would. */
export function registerTry(
  program: Command,
  context: CommandContext,
  dependencies: TryDependencies = MACHINE,
): void {
  program
    .command('try')
    .summary('run one local file through an algorithm, as a runner would')
    .description(
      'Run the algorithm of MANIFEST on FILE the way a runner does (in its image, with the same paths, ' +
        'user, environment, time limit, log masking and failure classes) without a queue or a bucket, ' +
        'then show the results, the log and the record.',
    )
    .argument('<manifest>', 'the algorithm.json')
    .argument('<file>', 'the input file')
    .option('--env <NAME=VALUE>', 'a value for one of the algorithm variables (repeatable)', collect, [])
    .option('--out <dir>', 'where to copy the results (default ./sluice-try-out)')
    .option('--timeout <seconds>', "time limit (default the manifest's timeoutSeconds)")
    .option('--host', 'run the algorithm as a process on this machine instead of in its image')
    .addHelpText('after', EXAMPLES)
    .action((manifestPath: string, file: string, options: TryOptions) =>
      tryFile(context, dependencies, manifestPath, file, options),
    );
}

/** Runs FILE through the algorithm of MANIFEST in a temporary workspace and prints what came of it. */
async function tryFile(
  context: CommandContext,
  dependencies: TryDependencies,
  manifestPath: string,
  file: string,
  options: TryOptions,
): Promise<void> {
  const manifest = parseManifest(await context.io.readFile(manifestPath), manifestPath);
  const { values, timeoutSeconds, secrets } = tryInputs(manifest, options);
  const outDir = resolve(options.out ?? 'sluice-try-out');
  const root = await mkdtemp(join(tmpdir(), 'sluice-try-'));
  try {
    const logFile = join(root, 'task.log');
    const log = new TaskLog(logFile, { secrets });
    const run: TryRun = { manifest, manifestPath, file, values, timeoutSeconds, secrets, root, log };
    const startedAt = new Date().toISOString();
    const result =
      options.host === true ? await tryOnHost(run) : await tryInImage(context, dependencies, run);
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
      input: { file: resolve(file), placedAt: result.placedAt },
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
    await rm(root, { recursive: true, force: true }).catch((thrown: unknown) => {
      context.io.err(`warning: could not remove ${root}: ${toError(thrown).message}\n`);
    });
  }
}

/** Copies FILE to where the algorithm expects its input, in the workspace under the try's root. */
async function placeInput(workspace: TaskWorkspace, file: string): Promise<string> {
  await workspace.prepare();
  const key = basename(file);
  try {
    await copyFile(file, workspace.inputFileFor(key));
  } catch (thrown) {
    throw new ConfigurationError(`cannot read ${file}: ${toError(thrown).message}`, { cause: thrown });
  }
  return key;
}

/** The algorithm as a process on this machine (`--host`): core's executeTask, as the runner calls it. */
async function tryOnHost(run: TryRun): Promise<TryAttempt> {
  const { manifest, root, log } = run;
  let server: PortAlgorithm | undefined;
  try {
    const workspace = new TaskWorkspace(manifest, root);
    const key = await placeInput(workspace, run.file);
    const env = algorithmEnvironment(process.env, run.values);
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
      timeoutMs: run.timeoutSeconds * 1000,
      log,
      ...(server !== undefined && { server }),
    });
    return { ...result, placedAt: workspace.inputFileFor(key).slice(root.length) };
  } finally {
    await server?.stop();
  }
}

/**
 * The algorithm in its image, with the container engine: the settings the runner gives the
 * algorithm (core/compute's algorithmContainerOptions), the workspace's host directories mounted at
 * the manifest's locations, and the end classified by core's classifyAttempt.
 */
async function tryInImage(
  context: CommandContext,
  dependencies: TryDependencies,
  run: TryRun,
): Promise<TryAttempt> {
  const { manifest, root, log } = run;
  const logger = maskingLogger((line) => {
    context.io.err(`${line}\n`);
  });
  const engine = await dependencies.engine(logger);
  const image = await localAlgorithmImage(engine, manifest, run.manifestPath, logger);
  const details = await engine.inspectImage(image);
  const emulated = checkImagePlatform(details, manifest, hostPlatform(), image);
  if (emulated !== undefined) logger.warning(emulated);
  const workspace = new TaskWorkspace(manifest, root);
  const key = await placeInput(workspace, run.file);
  await openToAlgorithm(manifest, root, workspace.inputFileFor(key));
  // The paths {input} and {output} stand for, and a port request carries, inside the container.
  const inside = new TaskWorkspace(manifest, '/');
  const port = manifest.port;
  const paths =
    port === undefined ? inside.pathsFor(key) : { input: inside.inputPath, output: inside.outputPath };
  // The runner's rule: the image's entrypoint, then the manifest's command, else the image's CMD.
  const command = algorithmCommand(
    { name: manifest.name, command: imageCommand(details, manifest.command).command },
    paths,
  );
  const options = algorithmContainerOptions({
    manifest,
    image,
    details,
    engine: engine.kind,
    hostRoot: root,
    command,
    env: run.values,
  });
  context.io.err(
    `running ${image} with ${engine.kind}${options.user !== undefined ? ` as ${options.user}` : ''}\n`,
  );
  const timeoutMs = run.timeoutSeconds * 1000;
  const started = Date.now();
  let verdict: AttemptVerdict;
  if (port === undefined) {
    const notes: string[] = [];
    const outcome = await runAlgorithmContainer(engine, options, timeoutMs, (note) => notes.push(note));
    writeOutput(log, outcome);
    for (const note of notes) log.note(note);
    verdict = classifyAttempt({ kind: 'process', ...outcome }, manifest);
  } else {
    const server = await AlgorithmServerContainer.start(engine, options, port).catch((thrown: unknown) => {
      // Its message ends with what the server printed, which may hold a secret value.
      if (thrown instanceof ConfigurationError) throw thrown;
      throw new InfrastructureError(new SecretMask(run.secrets).text(toError(thrown).message), {
        cause: thrown,
      });
    });
    let outcome;
    try {
      outcome = await server.runTask({ taskId: 'try', ...inside.pathsFor(key) }, timeoutMs);
    } finally {
      writeOutput(log, await server.stop());
    }
    if (outcome.timedOut)
      log.note(`time limit of ${run.timeoutSeconds} s reached: stopping the algorithm server`);
    if (outcome.serverDied) log.note('the algorithm server died during this task');
    if (outcome.message !== undefined) {
      log.note(`algorithm answered ${outcome.status ?? 'nothing'}: ${outcome.message}`);
    }
    verdict = classifyAttempt({ kind: 'port', ...outcome }, manifest);
  }
  const runMs = Date.now() - started;
  const placedAt = workspace.inputFileFor(key).slice(root.length);
  if (!verdict.ok) return { verdict, runMs, outputs: [], placedAt };
  return { ...(await collectChecked(workspace, manifest, log, verdict)), runMs, placedAt };
}

/** The container's output into the task log: stdout, then stderr (the engine keeps them apart). */
function writeOutput(log: TaskLog, printed: { readonly stdout: string; readonly stderr: string }): void {
  if (printed.stdout !== '')
    log.write('stdout', printed.stdout.endsWith('\n') ? printed.stdout : `${printed.stdout}\n`);
  if (printed.stderr !== '')
    log.write('stderr', printed.stderr.endsWith('\n') ? printed.stderr : `${printed.stderr}\n`);
}

/**
 * Lets the algorithm's user (another uid inside the container) write where the runner hands the
 * workspace to it: the mounted directories and the locations' directories become 0777, the input
 * file 0666. The runner chowns them instead; a mode works under rootless engines too, where the
 * container's uids are not this machine's.
 */
async function openToAlgorithm(manifest: Manifest, root: string, inputFile: string): Promise<void> {
  const mounts = algorithmMountDirectories(manifest);
  for (const location of [manifest.input, manifest.output]) {
    let dir = location.kind === 'directory' ? location.path : dirname(location.path);
    for (;;) {
      await mkdir(join(root, dir), { recursive: true });
      await chmod(join(root, dir), 0o777);
      if (mounts.includes(dir) || dir === '/' || dir === '') break;
      dir = dirname(dir);
    }
  }
  await chmod(inputFile, 0o666);
}

/** The results, checked as core's executeTask checks them (safe paths, something there unless allowed). */
async function collectChecked(
  workspace: TaskWorkspace,
  manifest: Manifest,
  log: TaskLog,
  verdict: AttemptVerdict,
): Promise<{ verdict: AttemptVerdict; outputs: readonly CollectedOutput[] }> {
  let outputs: CollectedOutput[];
  try {
    outputs = await workspace.collectOutputs();
  } catch (thrown) {
    const message = toError(thrown).message;
    log.note(`results refused: ${message}`);
    return {
      verdict: classifyAttempt({ kind: 'outputs', count: 0, unsafe: message }, manifest),
      outputs: [],
    };
  }
  const checked = classifyAttempt({ kind: 'outputs', count: outputs.length }, manifest);
  if (!checked.ok) log.note(checked.message);
  return { verdict: checked.ok ? verdict : checked, outputs: checked.ok ? outputs : [] };
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
  outputs: readonly CollectedOutput[],
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

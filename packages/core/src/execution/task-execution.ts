// One task's local part, with no queue and no bucket: the workspace (where the input goes and where
// the results are found), running the algorithm (a process per task, or a port server fed one task),
// collecting the results safely, and classifying the end. The runner wraps it with download, upload,
// commit and records; `sluice try` wraps it with a local file and a local output folder.
import { lstat, mkdir, readdir, realpath, rm, stat } from 'node:fs/promises';
import { dirname, join, sep } from 'node:path';

import { ConfigurationError, toError } from '../errors.js';
import { relativeOutputPath } from '../ids/ledger-keys.js';
import type { Manifest } from '../schemas/manifest.js';
import { runAlgorithm } from './algorithm-process.js';
import { classifyAttempt, type AttemptVerdict } from './failure.js';
import type { PortAlgorithm } from './port-algorithm.js';
import { handOverPath, reclaimTree, runnerIsRoot, type RunAs } from './run-as.js';
import { relativePathSegments, safeFileName } from './safe-name.js';
import type { TaskLog } from './task-log.js';

/** Placeholders a manifest's `command` arguments may hold, replaced by the resolved paths. */
export const COMMAND_PLACEHOLDERS = { input: '{input}', output: '{output}' } as const;

/** One result file the algorithm left, ready to upload. */
export interface CollectedOutput {
  /** Its path below the output directory (or the output file's base name): a checked relative path. */
  readonly relativePath: string;
  /** The file to read (a symlink inside the output directory is followed to its target). */
  readonly file: string;
  readonly size: number;
}

/**
 * Maps a container path (absolute, from the manifest) under a root directory. With the root `/`
 * (inside a wrapped image) nothing changes; tests and `sluice try` use a private directory, so a
 * runner can run as a host process and several runners on one host never share a workspace.
 *
 * @example
 * hostPath('/tmp/runner-1', '/data/in'); // '/tmp/runner-1/data/in'
 * hostPath('/', '/data/in');             // '/data/in'
 * @throws {ConfigurationError} when the path is not absolute or has `.`/`..` segments.
 */
export function hostPath(pathRoot: string, containerPath: string): string {
  if (!containerPath.startsWith('/') || containerPath.split('/').some((s) => s === '.' || s === '..')) {
    throw new ConfigurationError(
      `container path ${JSON.stringify(containerPath)} must be absolute, without "." or ".." segments`,
    );
  }
  return pathRoot === '/' ? containerPath : join(pathRoot, containerPath);
}

/**
 * Replaces `{input}` and `{output}` in each argument by the resolved input file and output path.
 *
 * @example
 * substitutePlaceholders(['/bin/thumbs', '--in', '{input}', '--out={output}'], { input: '/data/in/a.png', output: '/data/out' });
 * // ['/bin/thumbs', '--in', '/data/in/a.png', '--out=/data/out']
 * @throws never.
 */
export function substitutePlaceholders(
  command: readonly string[],
  paths: { readonly input: string; readonly output: string },
): string[] {
  return command.map((argument) =>
    argument
      .split(COMMAND_PLACEHOLDERS.input)
      .join(paths.input)
      .split(COMMAND_PLACEHOLDERS.output)
      .join(paths.output),
  );
}

/**
 * The job's values with the manifest's defaults filled in for variables the job did not set.
 *
 * @example
 * withManifestDefaults(manifest, { SIZE: '256' }); // { SIZE: '256', FORMAT: 'png' } when FORMAT defaults to png
 * @throws never.
 */
export function withManifestDefaults(
  manifest: Pick<Manifest, 'env'>,
  values: Readonly<Record<string, string>>,
): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [name, spec] of Object.entries(manifest.env)) {
    if (spec.default !== undefined) out[name] = spec.default;
  }
  return { ...out, ...values };
}

/**
 * The algorithm's command, with the placeholders resolved.
 *
 * @example
 * algorithmCommand(manifest, workspace.pathsFor('photos/cat.jpg'));
 * @throws {ConfigurationError} when the manifest has no `command` (the wrapped image's manifest
 *   always has one: wrap-algorithm records the image's entrypoint there).
 */
export function algorithmCommand(
  manifest: Pick<Manifest, 'command' | 'name'>,
  paths: { readonly input: string; readonly output: string },
): string[] {
  if (manifest.command === undefined || manifest.command.length === 0) {
    throw new ConfigurationError(
      `the manifest of ${manifest.name} has no "command": give the program to run as an array, e.g. ["/app/run", "{input}", "{output}"]`,
    );
  }
  return substitutePlaceholders(manifest.command, paths);
}

/**
 * Where one runner's tasks happen on this machine: the manifest's `input` and `output` placed under
 * `pathRoot`. A file `input` receives the object exactly there; a directory `input` receives it
 * inside, under {@link safeFileName} of its key (so a key never becomes a path unchecked: `../`,
 * absolute keys, NUL, control characters and over-long names cannot escape or break it, and each
 * task starts in an emptied directory, so keys differing only by case never meet).
 *
 * @example
 * const workspace = new TaskWorkspace(manifest, '/tmp/runner-1');
 * await workspace.prepare();
 * const file = workspace.inputFileFor('photos/cat.jpg'); // '/tmp/runner-1/data/in/cat.jpg'
 */
export class TaskWorkspace {
  /** The input file (file input) or directory (directory input), on this machine. */
  readonly inputPath: string;
  /** The output file or directory, on this machine. */
  readonly outputPath: string;

  /** @throws {ConfigurationError} when a manifest path is not a clean absolute path. */
  constructor(
    private readonly manifest: Pick<Manifest, 'input' | 'output'>,
    readonly pathRoot = '/',
  ) {
    this.inputPath = hostPath(pathRoot, manifest.input.path);
    this.outputPath = hostPath(pathRoot, manifest.output.path);
  }

  /** Where the input object with this key is put. */
  inputFileFor(key: string): string {
    return this.manifest.input.kind === 'file' ? this.inputPath : join(this.inputPath, safeFileName(key));
  }

  /** The paths `{input}` and `{output}` stand for, and a port request carries, for this key. */
  pathsFor(key: string): { input: string; output: string } {
    return { input: this.inputFileFor(key), output: this.outputPath };
  }

  /**
   * Empties the input and output locations and creates the directories, before a task and after it.
   * Directories are emptied, not removed: they may be mount points. Nothing is followed: a link
   * the algorithm left where a location or an entry in it was is removed, never its target. A root
   * runner first takes back what {@link handOver} gave the algorithm's user ({@link reclaim}).
   */
  async prepare(): Promise<void> {
    await this.reclaim();
    await clearLocation(this.inputPath, this.manifest.input.kind);
    await clearLocation(this.outputPath, this.manifest.output.kind);
  }

  /**
   * Gives the input and output locations to the user the algorithm runs as: a directory location
   * and what is in it (the input file), or a file location and the directory it is in. A location
   * directly in `/` (or the path root) leaves that directory root's: such an output file cannot be
   * created by another user, so keep outputs in a directory.
   */
  async handOver(runAs: RunAs): Promise<void> {
    for (const path of this.ownedDirectories()) await handOverPath(path, runAs);
    if (this.manifest.input.kind === 'directory') {
      for (const entry of await readdir(this.inputPath))
        await handOverPath(join(this.inputPath, entry), runAs);
    } else if (await lstat(this.inputPath).catch(() => undefined)) {
      await handOverPath(this.inputPath, runAs);
    }
  }

  /**
   * Takes the locations back for root (a root runner only: elsewhere nothing was handed over), top
   * down, so that from here on the algorithm's processes can no longer add, rename or replace
   * anything in them while the runner reads the results or empties them. Modes of directories
   * become 0755; outputs the algorithm made 0600 stay readable for root (CAP_DAC_OVERRIDE).
   */
  async reclaim(): Promise<void> {
    if (!runnerIsRoot()) return;
    for (const path of this.ownedDirectories()) await reclaimTree(path);
    for (const [location, path] of [
      [this.manifest.input, this.inputPath],
      [this.manifest.output, this.outputPath],
    ] as const) {
      if (location.kind === 'file') await reclaimTree(path);
    }
  }

  /** The directories handed over: directory locations, and the directories of file locations below the root. */
  private ownedDirectories(): string[] {
    const rootDir = this.pathRoot === '/' ? '/' : join(this.pathRoot, '/');
    const dirs: string[] = [];
    for (const [location, path] of [
      [this.manifest.input, this.inputPath],
      [this.manifest.output, this.outputPath],
    ] as const) {
      const dir = location.kind === 'directory' ? path : dirname(path);
      if (join(dir, '/') !== rootDir && !dirs.includes(dir)) dirs.push(dir);
    }
    return dirs;
  }

  /**
   * The result files, with checked relative paths. The output location itself is never followed
   * (read with `lstat`); a symlink inside the output directory is followed only when its target is
   * a file inside the output directory. A missing output is no result.
   *
   * @throws {ConfigurationError} when the output is not what the manifest says (a directory output
   *   replaced by a link or a file, a file output that is a directory or a link), a result's path is
   *   unusable as a key (control characters, over-long names), a symlink points outside the output,
   *   or an entry is not a regular file.
   */
  async collectOutputs(): Promise<CollectedOutput[]> {
    const output = this.manifest.output;
    if (output.kind === 'file') {
      const info = await lstat(this.outputPath).catch(() => undefined);
      if (info === undefined) return [];
      if (!info.isFile()) {
        throw new ConfigurationError(
          `the output ${output.path} is not a regular file (a directory or a link)`,
        );
      }
      return [
        { relativePath: relativeOutputPath(output, output.path), file: this.outputPath, size: info.size },
      ];
    }
    const info = await lstat(this.outputPath).catch(() => undefined);
    if (info === undefined) return [];
    if (!info.isDirectory()) {
      throw new ConfigurationError(
        `the output ${output.path}/ is not a directory (the algorithm replaced it by a link or a file): nothing is collected through it`,
      );
    }
    const root = await realpath(this.outputPath);
    const found: CollectedOutput[] = [];
    await walk(root, this.outputPath, [], found);
    return found;
  }
}

async function clearLocation(path: string, kind: 'file' | 'directory'): Promise<void> {
  // rm and lstat do not follow a link at the end of a path: a link is removed, not its target.
  const info = await lstat(path).catch(() => undefined);
  if (kind === 'file' || (info !== undefined && !info.isDirectory())) {
    await rm(path, { force: true, recursive: true });
  }
  if (kind === 'file') {
    await mkdir(dirname(path), { recursive: true });
    return;
  }
  await mkdir(path, { recursive: true });
  for (const entry of await readdir(path)) await rm(join(path, entry), { force: true, recursive: true });
}

async function walk(
  root: string,
  directory: string,
  segments: string[],
  found: CollectedOutput[],
): Promise<void> {
  const entries = await readdir(directory, { withFileTypes: true });
  entries.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  for (const entry of entries) {
    const relative = [...segments, entry.name];
    const relativePath = relative.join('/');
    // Names come from the algorithm: check them before they become keys.
    relativePathSegments(relativePath);
    const full = join(directory, entry.name);
    if (entry.isDirectory()) {
      await walk(root, full, relative, found);
    } else if (entry.isFile()) {
      found.push({ relativePath, file: full, size: (await stat(full)).size });
    } else if (entry.isSymbolicLink()) {
      const target = await realpath(full).catch(() => undefined);
      if (target === undefined || !target.startsWith(root + sep)) {
        throw new ConfigurationError(
          `the output ${relativePath} is a link pointing outside the output directory`,
        );
      }
      const info = await stat(target);
      if (!info.isFile())
        throw new ConfigurationError(`the output ${relativePath} is a link to something other than a file`);
      found.push({ relativePath, file: target, size: info.size });
    } else {
      throw new ConfigurationError(`the output ${relativePath} is not a regular file`);
    }
  }
}

/** What one task needs to run, once its input file is in place. */
export interface TaskExecution {
  readonly manifest: Manifest;
  readonly workspace: TaskWorkspace;
  readonly taskId: string;
  /** The input object's key (names the input file inside a directory input). */
  readonly key: string;
  /** The algorithm's complete environment (see `algorithmEnvironment`). */
  readonly env: Readonly<Record<string, string>>;
  readonly timeoutMs: number;
  readonly log: TaskLog;
  /** Aborting stops the algorithm; the result then says `aborted` and has no verdict of its own. */
  readonly signal?: AbortSignal;
  /** The running server, when the manifest has a `port`. */
  readonly server?: PortAlgorithm;
  /** The algorithm's working directory (a wrapped image's WORKDIR); the runner's own otherwise. */
  readonly cwd?: string;
  /**
   * Run the algorithm as this user (a root runner inside a wrapped image): the workspace is handed
   * to it for the run and taken back before the results are read. A port algorithm's server has
   * its own (`PortAlgorithmOptions.runAs`), used when this is not given.
   */
  readonly runAs?: RunAs;
}

/** How a task's local part ended. */
export interface TaskExecutionResult {
  readonly verdict: AttemptVerdict;
  /** The runner was stopping: the attempt does not count, the task is to be released. */
  readonly aborted: boolean;
  readonly runMs: number;
  /** The results (empty unless the verdict is a success). */
  readonly outputs: readonly CollectedOutput[];
}

/**
 * Runs the algorithm on the input already placed at `workspace.inputFileFor(key)`, collects what it
 * left and classifies the end with the manifest's retry policy.
 *
 * @example
 * await workspace.prepare();
 * await copyFile('cat.jpg', workspace.inputFileFor('cat.jpg'));
 * const result = await executeTask({ manifest, workspace, taskId, key: 'cat.jpg', env, timeoutMs: 60_000, log });
 * if (result.verdict.ok) for (const o of result.outputs) console.log(o.relativePath, o.size);
 * @throws never for the algorithm's failures (they are the verdict); {@link ConfigurationError} when
 *   the manifest has no command, or has a port and no server is given.
 */
export async function executeTask(task: TaskExecution): Promise<TaskExecutionResult> {
  const paths = task.workspace.pathsFor(task.key);
  const started = Date.now();
  let verdict: AttemptVerdict;
  let aborted = false;
  const runAs = task.runAs ?? task.server?.runAs;
  if (runAs !== undefined) await task.workspace.handOver(runAs);
  if (task.manifest.port !== undefined) {
    if (task.server === undefined)
      throw new ConfigurationError('a port algorithm needs its server started first');
    const outcome = await task.server.runTask(
      { taskId: task.taskId, ...paths },
      task.timeoutMs,
      task.log,
      task.signal,
    );
    aborted = task.signal?.aborted === true && !(outcome.status !== undefined && outcome.status < 300);
    verdict = classifyAttempt({ kind: 'port', ...outcome }, task.manifest);
  } else {
    const outcome = await runAlgorithm({
      command: algorithmCommand(task.manifest, paths),
      ...(task.cwd !== undefined && { cwd: task.cwd }),
      env: task.env,
      timeoutMs: task.timeoutMs,
      log: task.log,
      ...(task.signal !== undefined && { signal: task.signal }),
      ...(runAs !== undefined && { runAs }),
    });
    aborted = outcome.aborted;
    verdict = classifyAttempt({ kind: 'process', ...outcome }, task.manifest);
  }
  const runMs = Date.now() - started;
  if (aborted || !verdict.ok) return { verdict, aborted, runMs, outputs: [] };
  let outputs: CollectedOutput[];
  try {
    if (runAs !== undefined) await task.workspace.reclaim();
    outputs = await task.workspace.collectOutputs();
  } catch (thrown) {
    const message = toError(thrown).message;
    task.log.note(`results refused: ${message}`);
    return {
      verdict: classifyAttempt({ kind: 'outputs', count: 0, unsafe: message }, task.manifest),
      aborted,
      runMs,
      outputs: [],
    };
  }
  const checked = classifyAttempt({ kind: 'outputs', count: outputs.length }, task.manifest);
  if (!checked.ok) task.log.note(checked.message);
  return { verdict: checked.ok ? verdict : checked, aborted, runMs, outputs: checked.ok ? outputs : [] };
}

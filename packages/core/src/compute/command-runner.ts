// Runs a program with an argument array — never through a shell, so an image name or a label value
// can never be read as shell syntax — and collects what it prints. The container engine adapters
// take a CommandRunner so unit tests can hand them a fake instead of a real docker or podman.
import { spawn } from 'node:child_process';

import { ConfigurationError } from '../errors.js';

/** What a finished command left behind. */
export interface CommandResult {
  /** The exit code; 128 + signal number when a signal ended it (as a shell reports it). */
  readonly exitCode: number;
  readonly stdout: string;
  readonly stderr: string;
}

/** How to run one command. */
export interface CommandOptions {
  /** Variables added to (or, when `undefined`, removed from) the caller's environment. */
  readonly env?: Readonly<Record<string, string | undefined>>;
  /** Written to the command's standard input, which is then closed (e.g. a registry password). */
  readonly input?: string;
  /** Kills the command (SIGKILL) after this long; the result then has exit code 137. */
  readonly timeoutMs?: number;
  readonly cwd?: string;
  /** Called with each chunk of output as it arrives, e.g. to stream a build log. */
  readonly onOutput?: (chunk: string, stream: 'stdout' | 'stderr') => void;
}

/** Runs programs; the real one is {@link ProcessCommandRunner}, tests use a fake. */
export interface CommandRunner {
  /**
   * Runs `file` with `args` and resolves when it exits, whatever the exit code.
   *
   * @throws {CommandNotFoundError} when `file` is not installed (not on PATH).
   */
  run(file: string, args: readonly string[], options?: CommandOptions): Promise<CommandResult>;
}

/** The program is not installed; `program` names it so the caller can say what to install. */
export class CommandNotFoundError extends ConfigurationError {
  readonly program: string;

  constructor(program: string, options?: { cause?: unknown }) {
    super(`${program} was not found on PATH`, options);
    this.name = 'CommandNotFoundError';
    this.program = program;
  }
}

/** Most a stream keeps in memory; a longer build log keeps its end, which is where errors are. */
const MAX_CAPTURE_BYTES = 16 * 1024 * 1024;

const SIGNAL_NUMBERS: Readonly<Record<string, number>> = { SIGHUP: 1, SIGINT: 2, SIGKILL: 9, SIGTERM: 15 };

/** Keeps the last `max` bytes written to it. */
class TailBuffer {
  private chunks: Buffer[] = [];
  private size = 0;

  constructor(private readonly max: number) {}

  push(chunk: Buffer): void {
    this.chunks.push(chunk);
    this.size += chunk.length;
    while (this.size > this.max && this.chunks.length > 1) {
      const first = this.chunks.shift();
      this.size -= first?.length ?? 0;
    }
  }

  text(): string {
    const all = Buffer.concat(this.chunks);
    return all.subarray(Math.max(0, all.length - this.max)).toString('utf8');
  }
}

/**
 * Runs commands as child processes with `spawn` and an argument array.
 *
 * @example
 * const { exitCode, stdout } = await new ProcessCommandRunner().run('podman', ['version', '--format', '{{json .}}']);
 */
export class ProcessCommandRunner implements CommandRunner {
  /**
   * @throws {CommandNotFoundError} when the program is not installed.
   */
  run(file: string, args: readonly string[], options: CommandOptions = {}): Promise<CommandResult> {
    return new Promise<CommandResult>((resolve, reject) => {
      const overrides = options.env ?? {};
      const env = Object.fromEntries(
        Object.entries({ ...process.env, ...overrides }).filter(
          (entry): entry is [string, string] => entry[1] !== undefined,
        ),
      );
      const child = spawn(file, [...args], {
        env,
        stdio: ['pipe', 'pipe', 'pipe'],
        ...(options.cwd !== undefined ? { cwd: options.cwd } : {}),
      });
      const stdout = new TailBuffer(MAX_CAPTURE_BYTES);
      const stderr = new TailBuffer(MAX_CAPTURE_BYTES);
      let timer: NodeJS.Timeout | undefined;
      child.stdout.on('data', (chunk: Buffer) => {
        stdout.push(chunk);
        options.onOutput?.(chunk.toString('utf8'), 'stdout');
      });
      child.stderr.on('data', (chunk: Buffer) => {
        stderr.push(chunk);
        options.onOutput?.(chunk.toString('utf8'), 'stderr');
      });
      child.on('error', (error: NodeJS.ErrnoException) => {
        if (timer !== undefined) clearTimeout(timer);
        reject(error.code === 'ENOENT' ? new CommandNotFoundError(file, { cause: error }) : error);
      });
      child.on('close', (code, signal) => {
        if (timer !== undefined) clearTimeout(timer);
        const exitCode = code ?? 128 + (signal !== null ? (SIGNAL_NUMBERS[signal] ?? 0) : 0);
        resolve({ exitCode, stdout: stdout.text(), stderr: stderr.text() });
      });
      if (options.timeoutMs !== undefined) {
        timer = setTimeout(() => child.kill('SIGKILL'), options.timeoutMs);
      }
      // A command that does not read its input must not fail the run with EPIPE.
      child.stdin.on('error', () => undefined);
      child.stdin.end(options.input ?? '');
    });
  }
}

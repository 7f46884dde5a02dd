import { spawn, type ChildProcess } from 'node:child_process';
import { connect } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { InfrastructureError, toError } from '../errors.js';
import { preferForOomKill, signalProcessGroup } from './process-group.js';
import { environmentFor, prepareHome, spawnIdentity, type RunAs } from './run-as.js';
import type { TaskLog } from './task-log.js';

/** The request the runner sends a port algorithm for each task (see docs/contracts.md). */
export interface PortTaskRequest {
  readonly taskId: string;
  /** Where the input file is, inside the container (the manifest's `input`, resolved). */
  readonly input: string;
  /** Where the algorithm must leave its results (the manifest's `output`). */
  readonly output: string;
}

/** How one task sent to a port algorithm ended. */
export interface PortTaskOutcome {
  /** HTTP status, or undefined when no answer came (server died, time-out, connection refused). */
  readonly status?: number;
  readonly timedOut: boolean;
  /** The server process ended while the task was in flight: the task is what killed it. */
  readonly serverDied: boolean;
  readonly outOfMemory: boolean;
  readonly message?: string;
  readonly durationMs: number;
}

/** Settings of a port algorithm's server process. */
export interface PortAlgorithmOptions {
  readonly command: readonly string[];
  readonly cwd?: string;
  readonly env: Readonly<Record<string, string>>;
  readonly port: number;
  /** How long the server may take to accept connections after it starts. */
  readonly startTimeoutMs?: number;
  /** Run the server as this user (a root runner inside a wrapped image); `HOME` is then its home. */
  readonly runAs?: RunAs;
}

const DEFAULT_START_TIMEOUT_MS = 60_000;

/**
 * A port algorithm: a server started once per container and fed one task after another over HTTP
 * on 127.0.0.1, so its start-up cost is paid once. Its stdout and stderr go to the log of the task
 * in flight (or the runner's own log between tasks). When it dies it is started again before the
 * next task; the task in flight when it died is that task's failure.
 *
 * Protocol: `POST http://127.0.0.1:<port>/` with a JSON {@link PortTaskRequest}; any 2xx answer is
 * success, anything else (or no answer) is failure; an optional JSON body `{"message": "..."}` is
 * written to the task's log.
 *
 * @example
 * const server = new PortAlgorithm({ command: ['/srv/app'], env: {}, port: 8080 });
 * await server.start(log);
 * const outcome = await server.runTask({ taskId, input: '/data/in/a.png', output: '/data/out' }, 60_000, log);
 * await server.stop();
 */
export class PortAlgorithm {
  private child: ChildProcess | undefined;
  private exited: Promise<void> | undefined;
  private currentLog: TaskLog | undefined;
  private lastOutputAt = 0;
  private restarts = 0;

  constructor(private readonly options: PortAlgorithmOptions) {}

  /** True while the server process is running. */
  get running(): boolean {
    return this.child !== undefined && this.child.exitCode === null && this.child.signalCode === null;
  }

  /** The user the server runs as, if not the runner's. */
  get runAs(): RunAs | undefined {
    return this.options.runAs;
  }

  /** How many times the server was started again after dying. */
  get restartCount(): number {
    return this.restarts;
  }

  /**
   * Starts the server and waits until its port accepts connections.
   *
   * @throws {InfrastructureError} when it exits or stays unreachable past the start time-out.
   */
  async start(log: TaskLog): Promise<void> {
    this.currentLog = log;
    const [program, ...args] = this.options.command;
    if (program === undefined) throw new InfrastructureError('the port algorithm has no command to start');
    await prepareHome(this.options.runAs);
    const child = spawn(program, args, {
      cwd: this.options.cwd,
      env: environmentFor(this.options.env, this.options.runAs),
      ...spawnIdentity(this.options.runAs),
      detached: true,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    this.child = child;
    this.exited = new Promise((resolve) => {
      child.once('close', () => {
        resolve();
      });
      child.once('error', (error) => {
        this.currentLog?.note(`could not start ${program}: ${toError(error).message}`);
        resolve();
      });
    });
    await preferForOomKill(child.pid);
    child.stdout.on('data', (chunk: Buffer) => {
      this.lastOutputAt = Date.now();
      this.currentLog?.write('stdout', chunk);
    });
    child.stderr.on('data', (chunk: Buffer) => {
      this.lastOutputAt = Date.now();
      this.currentLog?.write('stderr', chunk);
    });

    const deadline = Date.now() + (this.options.startTimeoutMs ?? DEFAULT_START_TIMEOUT_MS);
    let wait = 20;
    while (Date.now() < deadline) {
      if (!this.running) {
        throw new InfrastructureError(
          `the port algorithm exited before accepting connections on port ${this.options.port} (exit ${child.exitCode ?? child.signalCode ?? 'unknown'})`,
        );
      }
      if (await portAcceptsConnections(this.options.port)) return;
      await sleep(wait);
      wait = Math.min(wait * 2, 500);
    }
    await this.stop();
    throw new InfrastructureError(
      `the port algorithm did not accept connections on port ${this.options.port} within ${Math.round((this.options.startTimeoutMs ?? DEFAULT_START_TIMEOUT_MS) / 1000)} s`,
    );
  }

  /**
   * Sends one task and waits for the answer, starting the server again first if it died.
   *
   * @throws {InfrastructureError} when the server cannot be started again.
   */
  async runTask(
    request: PortTaskRequest,
    timeoutMs: number,
    log: TaskLog,
    signal?: AbortSignal,
  ): Promise<PortTaskOutcome> {
    if (!this.running) {
      log.note('the algorithm server is not running: starting it again');
      this.restarts += 1;
      await this.start(log);
    }
    this.currentLog = log;
    const started = Date.now();
    const died = this.exited?.then(() => 'died' as const) ?? new Promise<never>(() => undefined);
    const controller = new AbortController();
    const timer = setTimeout(() => {
      controller.abort();
    }, timeoutMs);
    const onAbort = (): void => {
      controller.abort();
    };
    signal?.addEventListener('abort', onAbort, { once: true });
    // An abort while the server was being started again fired no listener: act on it now.
    if (signal?.aborted === true) controller.abort();
    try {
      const answer = await Promise.race([
        fetch(`http://127.0.0.1:${this.options.port}/`, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify(request),
          signal: controller.signal,
        }).then(async (response) => ({ response, body: await response.text() })),
        died,
      ]);
      if (answer === 'died') {
        return this.deathOutcome(log, started);
      }
      await this.outputSettled();
      const message = messageFrom(answer.body);
      if (message !== undefined) log.note(`algorithm answered ${answer.response.status}: ${message}`);
      return {
        status: answer.response.status,
        timedOut: false,
        serverDied: false,
        outOfMemory: false,
        ...(message !== undefined ? { message } : {}),
        durationMs: Date.now() - started,
      };
    } catch (thrown) {
      // A dropped connection usually means the server is dying: give its exit a moment to land.
      await Promise.race([this.exited, sleep(1_000)]);
      if (!this.running) return this.deathOutcome(log, started);
      const timedOut = controller.signal.aborted && signal?.aborted !== true;
      if (timedOut) {
        // The server's state after an abandoned request is unknown: start afresh for the next task.
        log.note(`time limit of ${Math.round(timeoutMs / 1000)} s reached: restarting the algorithm server`);
        await this.stop();
      } else {
        log.note(`the request to the algorithm failed: ${toError(thrown).message}`);
      }
      return { timedOut, serverDied: false, outOfMemory: false, durationMs: Date.now() - started };
    } finally {
      clearTimeout(timer);
      signal?.removeEventListener('abort', onAbort);
      this.currentLog = undefined;
    }
  }

  /** Stops the server: SIGTERM to its process group, SIGKILL after a grace period. */
  async stop(graceMs = 5_000): Promise<void> {
    const child = this.child;
    if (child?.pid === undefined || !this.running) return;
    signalProcessGroup(child.pid, 'SIGTERM');
    const killTimer = setTimeout(() => {
      signalProcessGroup(child.pid, 'SIGKILL');
    }, graceMs);
    await this.exited;
    clearTimeout(killTimer);
  }

  /**
   * The server's output travels on a pipe, its answer on a socket: what it printed for this task can
   * arrive just after the answer. Wait until the output has been quiet briefly (bounded), so those
   * lines land in this task's log rather than the next one's.
   */
  private async outputSettled(quietMs = 15, maxMs = 250): Promise<void> {
    const deadline = Date.now() + maxMs;
    await sleep(quietMs);
    while (Date.now() - this.lastOutputAt < quietMs && Date.now() < deadline) await sleep(quietMs);
  }

  private deathOutcome(log: TaskLog, started: number): PortTaskOutcome {
    const outOfMemory = this.child?.signalCode === 'SIGKILL';
    const how = this.child?.signalCode ?? `exit ${this.child?.exitCode ?? 'unknown'}`;
    log.note(
      `the algorithm server died during this task (${how})${outOfMemory ? ', killed for memory' : ''}`,
    );
    return { timedOut: false, serverDied: true, outOfMemory, durationMs: Date.now() - started };
  }
}

async function portAcceptsConnections(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ host: '127.0.0.1', port });
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => {
      socket.destroy();
      resolve(false);
    });
  });
}

function messageFrom(body: string): string | undefined {
  if (body.trim() === '') return undefined;
  try {
    const parsed: unknown = JSON.parse(body);
    if (
      typeof parsed === 'object' &&
      parsed !== null &&
      'message' in parsed &&
      typeof parsed.message === 'string'
    ) {
      return parsed.message;
    }
  } catch {
    // not JSON: show the text itself
  }
  return body.slice(0, 500);
}

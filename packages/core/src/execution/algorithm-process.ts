import { spawn, type ChildProcess } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { toError } from '../errors.js';
import { preferForOomKill, signalProcessGroup } from './process-group.js';
import { environmentFor, killProcessesOf, prepareHome, spawnIdentity, type RunAs } from './run-as.js';
import type { TaskLog } from './task-log.js';

/** How long a timed-out algorithm gets between SIGTERM and SIGKILL. */
const KILL_GRACE_MS = 5_000;
/**
 * How long, once the algorithm and its process group are gone, its output pipes may stay open: only
 * a process that left the group (setsid) holds them then, and the task does not wait for it.
 */
const OUTPUT_DRAIN_MS = 2_000;

/** What to run for one task. */
export interface AlgorithmInvocation {
  /** argv: the program and its arguments. */
  readonly command: readonly string[];
  readonly cwd?: string;
  /** The complete environment of the algorithm: nothing of the runner's is inherited. */
  readonly env: Readonly<Record<string, string>>;
  /** Hard limit on the algorithm's run time. */
  readonly timeoutMs: number;
  readonly log: TaskLog;
  /** Aborting (e.g. on SIGTERM) stops the algorithm the same way a time-out does. */
  readonly signal?: AbortSignal;
  /**
   * Run it as this user (a root runner inside a wrapped image); `HOME` is then the user's home.
   * When it ends, every process left of that user is killed too, even one that left the process
   * group, so nothing of it outlives its task.
   */
  readonly runAs?: RunAs;
}

/** How the algorithm process ended. */
export interface AlgorithmOutcome {
  readonly exitCode: number | null;
  readonly signal: NodeJS.Signals | null;
  readonly timedOut: boolean;
  readonly aborted: boolean;
  /** True when the kernel's OOM killer ended it (cgroup counter), or it died of SIGKILL we did not send. */
  readonly outOfMemory: boolean;
  /** Set when the program could not be started at all (not found, not executable). */
  readonly startError?: string;
  readonly durationMs: number;
}

/**
 * Runs the algorithm as a child process in its own process group, streams its output into the task
 * log, and enforces the time limit (SIGTERM, then SIGKILL after a grace period, to the whole group
 * so helper processes die too). However it ends, the whole group is then SIGKILLed: a helper left
 * in the background (`cmd &`) would otherwise write into the next task's workspace. The child is
 * made the first candidate of the kernel's OOM killer, so when the container runs out of memory the
 * algorithm dies and the runner survives to record it.
 *
 * @example
 * const outcome = await runAlgorithm({ command: ['/bin/thumbs', '/data/in/a.png'], env: {}, timeoutMs: 60_000, log });
 * if (outcome.timedOut) console.log('too slow');
 */
export async function runAlgorithm(invocation: AlgorithmInvocation): Promise<AlgorithmOutcome> {
  const [program, ...args] = invocation.command;
  const started = Date.now();
  if (program === undefined) {
    return {
      exitCode: null,
      signal: null,
      timedOut: false,
      aborted: false,
      outOfMemory: false,
      startError: 'the command is empty',
      durationMs: 0,
    };
  }
  const oomKillsBefore = await cgroupOomKills();
  await prepareHome(invocation.runAs);
  const child = spawn(program, args, {
    cwd: invocation.cwd,
    env: environmentFor(invocation.env, invocation.runAs),
    ...spawnIdentity(invocation.runAs),
    detached: true,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  // Listen for the end at once: a fast program can be gone before the next await returns. 'exit'
  // and not 'close': a helper in the background holds the pipes open after the program is gone.
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null; error?: Error }>(
    (resolve) => {
      child.once('error', (error) => {
        resolve({ code: null, signal: null, error });
      });
      child.once('exit', (code, signal) => {
        resolve({ code, signal });
      });
    },
  );
  const closed = new Promise<void>((resolve) => {
    child.once('close', () => {
      resolve();
    });
  });
  child.stdout.on('data', (chunk: Buffer) => {
    invocation.log.write('stdout', chunk);
  });
  child.stderr.on('data', (chunk: Buffer) => {
    invocation.log.write('stderr', chunk);
  });
  await preferForOomKill(child.pid);

  // Set from timers and the abort listener; an object so the compiler does not narrow them to false.
  const state = { timedOut: false, aborted: false, sentKill: false };
  let graceTimer: NodeJS.Timeout | undefined;
  const stop = (why: string): void => {
    invocation.log.note(why);
    signalProcessGroup(child.pid, 'SIGTERM');
    graceTimer = setTimeout(() => {
      state.sentKill = true;
      signalProcessGroup(child.pid, 'SIGKILL');
    }, KILL_GRACE_MS);
  };
  const timeout = setTimeout(() => {
    state.timedOut = true;
    stop(`time limit of ${Math.round(invocation.timeoutMs / 1000)} s reached: stopping the algorithm`);
  }, invocation.timeoutMs);
  const onAbort = (): void => {
    state.aborted = true;
    stop('the runner is stopping: stopping the algorithm');
  };
  invocation.signal?.addEventListener('abort', onAbort, { once: true });
  // An abort during the awaits above fired no listener: act on it now.
  if (invocation.signal?.aborted === true) onAbort();

  const ended = await exited;
  clearTimeout(timeout);
  if (graceTimer !== undefined) clearTimeout(graceTimer);
  invocation.signal?.removeEventListener('abort', onAbort);
  await sweepAfterExit(child, closed, invocation);

  const durationMs = Date.now() - started;
  if (ended.error !== undefined) {
    const message = `could not start ${program}: ${toError(ended.error).message}`;
    invocation.log.note(message);
    return {
      exitCode: null,
      signal: null,
      timedOut: state.timedOut,
      aborted: state.aborted,
      outOfMemory: false,
      startError: message,
      durationMs,
    };
  }
  const oomKillsAfter = await cgroupOomKills();
  const killedByCgroup =
    oomKillsBefore !== undefined && oomKillsAfter !== undefined && oomKillsAfter > oomKillsBefore;
  // Outside a memory cgroup we cannot ask the kernel; a SIGKILL nobody here sent is the OOM killer's.
  const outOfMemory =
    killedByCgroup || (ended.signal === 'SIGKILL' && !state.sentKill && !state.timedOut && !state.aborted);
  if (outOfMemory) invocation.log.note('the algorithm was killed for using too much memory');
  return {
    exitCode: ended.code,
    signal: ended.signal,
    timedOut: state.timedOut,
    aborted: state.aborted,
    outOfMemory,
    durationMs,
  };
}

/**
 * Once the algorithm has exited, kills what it left running in its process group, or a helper in
 * the background would live on into the next task and write into its outputs; a process that left
 * the group (setsid) is reached only through its user, when the algorithm has its own. Then waits
 * until stdout and stderr are read to their end, so the last lines reach the log. A pipe still open
 * after {@link OUTPUT_DRAIN_MS} is held by a process that escaped the kill: it is closed on our
 * side, and the log says why its later output is missing.
 */
async function sweepAfterExit(
  child: ChildProcess,
  closed: Promise<void>,
  { runAs, log }: Pick<AlgorithmInvocation, 'runAs' | 'log'>,
): Promise<void> {
  signalProcessGroup(child.pid, 'SIGKILL');
  if (runAs !== undefined) await killProcessesOf(runAs.uid);
  let timer: NodeJS.Timeout | undefined;
  const drained = await Promise.race([
    closed.then(() => true),
    new Promise<boolean>((resolve) => {
      timer = setTimeout(() => {
        resolve(false);
      }, OUTPUT_DRAIN_MS);
    }),
  ]);
  clearTimeout(timer);
  if (drained) return;
  log.note(
    'a process the algorithm started left its process group and still holds its output open: it is no longer logged',
  );
  child.stdout?.destroy();
  child.stderr?.destroy();
}

/** The number of OOM kills in this container's memory cgroup (v2, then v1), when the kernel tells. */
async function cgroupOomKills(): Promise<number | undefined> {
  try {
    const events = await readFile('/sys/fs/cgroup/memory.events', 'utf8');
    const match = /^oom_kill (\d+)$/m.exec(events);
    if (match?.[1] !== undefined) return Number(match[1]);
  } catch {
    // not cgroup v2
  }
  try {
    const control = await readFile('/sys/fs/cgroup/memory/memory.oom_control', 'utf8');
    const match = /^oom_kill (\d+)$/m.exec(control);
    if (match?.[1] !== undefined) return Number(match[1]);
  } catch {
    // no memory cgroup visible
  }
  return undefined;
}

// `sluice serve JOB`: continuous intake on one machine. The run is provisioned (never torn down),
// what is already in the input prefix is enqueued, and then collect's watch keeps the local runner
// containers going while uploads arrive through the S3 notification and the task queue — until
// SIGINT or SIGTERM, when the runners are stopped and the run is left provisioned for the next serve.
import {
  ConfigurationError,
  InterruptedError,
  parseJob,
  toError,
  type CollectProgress,
  type Job,
} from '@sluice/core';
import { runStatus, type CollectStepOptions, type StepContext } from '@sluice/orchestrator';
import type { Command } from 'commander';

import type { CommandContext } from '../context.js';
import type { CliIo } from '../io.js';
import { ProgressDisplay, formatDuration } from '../progress.js';
import { describeDispatch } from './dispatch.js';
import { unlessInterrupted } from './interrupts.js';
import { defaultInspectDeps, findRun, type InspectCommandDeps } from './status.js';
import {
  BACKENDS,
  defaultStepDeps,
  displayLogger,
  parseChoice,
  parseWholeNumber,
  stepContext,
  type StepCommandDeps,
} from './step-options.js';

const EXAMPLES = `
Examples:
  $ sluice serve job.json                          # serve until Ctrl-C
  $ sluice serve job.json --status-every 300 > serve.log 2>&1 &
  $ aws s3 cp photo.jpg s3://acme-photos/incoming/ # processed as it arrives
  $ sluice teardown job.json                       # when the run is no longer wanted

Provisions the run (nothing is torn down, ever), enqueues the files already under the input prefix,
then serves: files uploaded there reach the task queue through the S3 notification, and the runner
containers are started while there is work (and compute.minWorkers always), restarted when they
crash, and left to exit when idle. A status line goes to stderr: live on a terminal, otherwise a
plain line at most every --status-every seconds (default 60).

Ctrl-C or SIGTERM stops serving: the runner containers get SIGTERM and hand their tasks back to the
queue without using an attempt; queues, notification and records stay, so uploads made meanwhile
wait in the queue for the next \`sluice serve\`. A second Ctrl-C exits at once (status 130).

Local backend only: on AWS a run provisioned with "keep": true keeps processing new uploads with the
watcher Lambda starting ECS workers; no serving machine is needed.

Exit status: 0 stopped by Ctrl-C or SIGTERM (the normal end), 1 sluice, AWS or the engine failed,
2 the job or the command line is wrong (also: the ECS backend), 130 a second Ctrl-C.
`;

/** What `sluice serve` calls: the run steps, and the local runner containers and queues to stop and count. */
export type ServeCommandDeps = StepCommandDeps & Pick<InspectCommandDeps, 'connect' | 'workers'>;

interface ServeOptions {
  readonly backend?: string;
  readonly statusEvery?: string;
  readonly verbose?: boolean;
}

/**
 * Collect that never ends by itself: input is complete only at a count no prefix reaches. Not
 * `until: 'marker'`: an end marker may be there already (an earlier `sluice run --upload --keep` of
 * the same job is the same run), and collect would then end whenever the queue drains. A year's
 * timeout, and serve starts collect again if it ever runs out.
 */
const SERVE_COLLECT: CollectStepOptions = {
  until: 'count',
  expectedCount: Number.MAX_SAFE_INTEGER,
  timeoutSeconds: 365 * 24 * 3600,
};

const DEFAULT_STATUS_EVERY_SECONDS = 60;

/** Why an ECS run is not served, and what does the same on AWS. */
function ecsRefused(where: string, jobPath: string): ConfigurationError {
  return new ConfigurationError(
    `${where}: sluice serve keeps a run going on this machine, with the local backend only. On AWS a run ` +
      'keeps processing new uploads with no machine of yours: provision it with "keep": true in the job ' +
      `(sluice provision ${jobPath}, or the provision-run action) and the watcher Lambda starts ECS workers ` +
      `as files arrive. To serve it here instead: sluice serve ${jobPath} --backend local`,
  );
}

/** `sluice serve JOB`: process uploads as they arrive, on this machine, until stopped. */
export function registerServe(
  program: Command,
  context: CommandContext,
  deps: Partial<ServeCommandDeps> = {},
): void {
  program
    .command('serve')
    .summary('keep a run going on this machine: process uploads as they arrive, until Ctrl-C')
    .description(
      'Provision the run of JOB (it is never torn down), enqueue the files already in its input prefix, ' +
        'then process every file uploaded there as it arrives, with local runner containers, until ' +
        'Ctrl-C or SIGTERM. Prints where to upload, then a status line; on stop, what is left in the queue.',
    )
    .argument('<job>', 'the job file (job.json)')
    .option('--backend <backend>', "override the job's compute.backend (only local can be served)")
    .option(
      '--status-every <seconds>',
      `without a terminal: print the status line at most this often (default ${DEFAULT_STATUS_EVERY_SECONDS})`,
    )
    .option('--verbose', 'print debug messages too')
    .addHelpText('after', EXAMPLES)
    .action(async (jobPath: string, options: ServeOptions) => {
      const { workers, connect } = defaultInspectDeps();
      const all: ServeCommandDeps = { ...defaultStepDeps(), workers, connect, ...deps };
      // Everything on the command line and the job's backend are checked before anything is created.
      const backend = parseChoice('--backend', options.backend, BACKENDS);
      if (backend === 'ecs') throw ecsRefused('--backend ecs', jobPath);
      const statusEvery =
        parseWholeNumber('--status-every', options.statusEvery, 1) ?? DEFAULT_STATUS_EVERY_SECONDS;
      if (backend === undefined && (await readJob(jobPath, context.io)).compute.backend === 'ecs') {
        throw ecsRefused(`${jobPath} $.compute.backend is "ecs"`, jobPath);
      }
      const display = new ProgressDisplay(all.progress, {
        now: all.now,
        plainIntervalMs: statusEvery * 1000,
        plainHeartbeatMs: statusEvery * 1000,
      });
      const stepsContext = stepContext(displayLogger(display, options.verbose === true), all.env, {
        backend: 'local',
      });
      context.io.out(await serve(jobPath, stepsContext, display, all));
    });
}

/** The job, read only for its backend (provisioning reads and checks it again). */
async function readJob(jobPath: string, io: CliIo): Promise<Job> {
  let text: string;
  try {
    text = await io.readFile(jobPath);
  } catch (thrown: unknown) {
    throw new ConfigurationError(`cannot read the job file ${jobPath}: ${toError(thrown).message}`, {
      cause: thrown,
    });
  }
  return parseJob(text, jobPath);
}

/** Stands for "the user stopped serving" where a step's value would be. */
const STOPPED = Symbol('stopped');

/**
 * The step's value, or {@link STOPPED} once the user has stopped serving and the step has ended (or
 * after the grace {@link unlessInterrupted} gives it). A step's own failure is thrown.
 */
async function untilStopped<T>(step: Promise<T>, signal: AbortSignal): Promise<T | typeof STOPPED> {
  try {
    return await unlessInterrupted(step, signal, 'serve');
  } catch (thrown: unknown) {
    if (signal.aborted && thrown instanceof InterruptedError) return STOPPED;
    throw thrown;
  }
}

/** The status line: where the run's inputs stand, and how long serve has been up. */
function showStatus(display: ProgressDisplay, progress: CollectProgress, upMs: number): void {
  const counts =
    `${progress.succeeded} done, ${progress.failed} failed, ${progress.running} running, ` +
    `${progress.pending} queued`;
  display.update(`serving: ${counts} — ${progress.inputs} input(s), up ${formatDuration(upMs)}`, {
    key: counts,
  });
}

/**
 * provision → dispatch → collect until stopped; then the runners are stopped (also when a step
 * failed) and the run is left provisioned. Resolves to the closing lines (stdout) after a stop.
 */
async function serve(
  jobPath: string,
  stepsContext: StepContext,
  display: ProgressDisplay,
  deps: ServeCommandDeps,
): Promise<string> {
  const stop = new AbortController();
  const stopListening = deps.onInterrupt((signal) => {
    display.done();
    display.log(
      `${signal}: stopping — the runners hand their tasks back, the run stays provisioned; ` +
        'press Ctrl-C again to exit at once',
    );
    stop.abort();
  });
  const context: StepContext = { ...stepsContext, signal: stop.signal };
  const started = deps.now();
  try {
    // Provisioning is let finish (it is short, and a half-made run is harder to pick up again).
    const run = await deps.provision(jobPath, context);
    for (const warning of run.warnings) display.log(`warning: ${warning}`);
    display.log(
      `run ${run.runId}: serving — upload files to ${run.uploadTo} and they are processed as they ` +
        'arrive; stop with Ctrl-C or SIGTERM (the run stays provisioned)',
    );
    try {
      const dispatched = stop.signal.aborted
        ? STOPPED
        : await untilStopped(deps.dispatch({ jobPath }, context), stop.signal);
      if (dispatched !== STOPPED) {
        display.log(`dispatched: ${describeDispatch(dispatched)}; ${dispatched.workers} worker(s) running`);
      }
      while (!stop.signal.aborted) {
        // Collect returns only if its year-long timeout runs out: then it simply starts again.
        await untilStopped(
          deps.collect({ jobPath }, SERVE_COLLECT, context, (progress) => {
            showStatus(display, progress, deps.now() - started);
          }),
          stop.signal,
        );
      }
    } catch (thrown: unknown) {
      // The failure itself is reported by the CLI after this; the runners must not be left unwatched.
      display.done();
      await stopRunners(run.runId, display, deps).catch((stopFailed: unknown) => {
        display.log(`error: stopping the runners failed too: ${toError(stopFailed).message}`);
      });
      display.log(
        `the run stays provisioned: serve it again, or tear it down with \`sluice teardown ${jobPath}\``,
      );
      throw thrown;
    }
    display.done();
    const stopped = await stopRunners(run.runId, display, deps);
    const standing = await standingOf(run.runId, deps);
    return describeStop(run.runId, jobPath, { stopped, standing, upMs: deps.now() - started });
  } finally {
    stopListening();
  }
}

/** Stops and removes the run's runner containers (SIGTERM: they hand their tasks back). */
async function stopRunners(runId: string, display: ProgressDisplay, deps: ServeCommandDeps): Promise<number> {
  const workers = await deps.workers(deps.env);
  if (workers === undefined) return 0;
  display.log(`run ${runId}: stopping its runner containers`);
  return workers.stop(runId);
}

/** Where the run stands after the stop, or why that is not known. */
interface Standing {
  readonly succeeded: number;
  readonly failed: number;
  /** Tasks in the queue: waiting, delayed, or still held by a runner that was stopped. */
  readonly left: number;
}

/** The run's records and queue after the stop; a failure to read them is reported, not thrown. */
async function standingOf(runId: string, deps: ServeCommandDeps): Promise<Standing | string> {
  const { deps: inspect, close } = deps.connect(deps.env);
  try {
    const status = await runStatus(await findRun(runId, inspect, undefined), inspect);
    const queue = status.queue ?? { visible: 0, inFlight: 0, delayed: 0 };
    return {
      succeeded: status.records.succeeded,
      failed: status.records.failed,
      left: queue.visible + queue.inFlight + queue.delayed,
    };
  } catch (thrown: unknown) {
    return toError(thrown).message;
  } finally {
    close();
  }
}

function describeStop(
  runId: string,
  jobPath: string,
  at: { readonly stopped: number; readonly standing: Standing | string; readonly upMs: number },
): string {
  const { standing } = at;
  const known = typeof standing !== 'string';
  return (
    [
      `run ${runId}: stopped serving after ${formatDuration(at.upMs)}; ${at.stopped} runner container(s) stopped` +
        (known ? `; ${standing.succeeded} succeeded, ${standing.failed} failed so far` : ''),
      `left in the queue: ${known ? `${standing.left} task(s)` : `unknown (${standing})`}; they, and files ` +
        `uploaded from now on, wait for the next \`sluice serve ${jobPath}\``,
      `kept: queues, notification and records; to tear the run down: sluice teardown ${jobPath}`,
    ].join('\n') + '\n'
  );
}

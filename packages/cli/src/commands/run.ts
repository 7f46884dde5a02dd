import { InterruptedError, toError } from '@sluice/core';
import type { CollectStepResult, StepContext } from '@sluice/orchestrator';
import type { Command } from 'commander';

import type { CommandContext } from '../context.js';
import { ExitCode } from '../exit-codes.js';
import { ProgressDisplay, formatBytes, renderUploadProgress } from '../progress.js';
import { describeReport, showCollectProgress } from './collect.js';
import { describeDispatch } from './dispatch.js';
import {
  BACKENDS,
  defaultStepDeps,
  displayLogger,
  parseChoice,
  parseCollectOptions,
  stepContext,
  type CollectCommandOptions,
  type StepCommandDeps,
} from './step-options.js';
import { unlessInterrupted } from './interrupts.js';
import { checkUploadDirectory } from './upload.js';

const EXAMPLES = `
Examples:
  $ sluice run job.json --upload ./photos                  # upload, process, collect, tear down
  $ sluice run job.json --backend local --upload ./photos --keep
  $ sluice run job.json --until marker --timeout 3600      # files are uploaded by something else

The steps in order: provision, upload (with --upload: every file under DIR, keys relative to DIR, then
the end marker), dispatch, collect, teardown (unless --keep; buckets and data are always kept).
Without --upload it waits until the run is idle (--until idle), with it until everything uploaded
is done (--until marker). Progress goes to stderr: a live line on a terminal, plain lines otherwise.

Ctrl-C (or SIGTERM) stops waiting, stops the runners and tears the run down (unless --keep); a
second Ctrl-C exits at once and leaves the run for \`sluice teardown JOB\`.

Exit status: 0 the run completed, also with failed tasks ("completed, N failed") and with runners
killed on the way while tasks kept ending, 1 it did not finish (also: its runners kept dying while no
task ended, a crash loop) or sluice, AWS or the engine failed, 2 the job or the command line is wrong,
130 interrupted.
`;

interface RunOptions extends CollectCommandOptions {
  readonly backend?: string;
  readonly upload?: string;
  readonly keep?: boolean;
  readonly verbose?: boolean;
}

/** `sluice run JOB`: the whole chain of a run, on this machine. */
export function registerRun(
  program: Command,
  context: CommandContext,
  deps: Partial<StepCommandDeps> = {},
): void {
  program
    .command('run')
    .summary('provision, upload, dispatch, collect and tear down a run, with live progress')
    .description(
      'Run JOB from start to end: provision its resources, upload the files under --upload DIR, enqueue ' +
        'every input and start the workers, wait for every input to finish and write results.json, then ' +
        'tear the run down (unless --keep). Prints where the results are and the counts.',
    )
    .argument('<job>', 'the job file (job.json)')
    .option('--backend <backend>', "override the job's compute.backend: local or ecs")
    .option('--upload <dir>', "upload every file under this directory to the run's input prefix first")
    .option('--keep', 'leave the queues, notification and runners in place (tear down later)')
    .option(
      '--until <rule>',
      'when the input is complete: idle, marker or count (default marker with --upload, else idle)',
    )
    .option('--expected <n>', 'with --until count: how many input files to wait for')
    .option(
      '--idle <seconds>',
      "with --until idle: how long a quiet run counts as complete (default the job's)",
    )
    .option('--timeout <seconds>', 'stop waiting after this long (default 3600)')
    .option('--retry-failed', 'move dead-lettered tasks back to the queue once, and wait again')
    .option('--verbose', 'print debug messages too')
    .addHelpText('after', EXAMPLES)
    .action(async (jobPath: string, options: RunOptions) => {
      const all = { ...defaultStepDeps(), ...deps };
      // Everything on the command line is checked before anything is created.
      const backend = parseChoice('--backend', options.backend, BACKENDS);
      const collectOptions = parseCollectOptions(options, options.upload === undefined ? 'idle' : 'marker');
      if (options.upload !== undefined) await checkUploadDirectory(options.upload);
      const display = new ProgressDisplay(all.progress, { now: all.now });
      const stepsContext = stepContext(displayLogger(display, options.verbose === true), all.env, {
        backend,
      });
      const result = await runChain(jobPath, { ...options, collectOptions }, stepsContext, display, all);
      context.io.out(describeReport(result.report));
      if (!result.report.complete) context.exitCode = ExitCode.fault;
    });
}

/**
 * provision → upload → dispatch → collect, then teardown unless `keep`, also when a step failed or
 * the user interrupted. Provisioning is let finish (it is short, and a half-made run is harder to
 * clean); every later step stops waiting at once on Ctrl-C.
 */
async function runChain(
  jobPath: string,
  options: RunOptions & { collectOptions: ReturnType<typeof parseCollectOptions> },
  stepsContext: StepContext,
  display: ProgressDisplay,
  deps: StepCommandDeps,
): Promise<CollectStepResult> {
  const target = { jobPath };
  const interrupt = new AbortController();
  const stopListening = deps.onInterrupt((signal) => {
    display.done();
    display.log(
      `${signal}: interrupted — stopping the run` +
        (options.keep === true ? ' (kept: --keep)' : ' and tearing it down') +
        '; press Ctrl-C again to exit at once',
    );
    interrupt.abort();
  });
  const context: StepContext = { ...stepsContext, signal: interrupt.signal };
  try {
    // With --upload the notification waits for dispatch, which installs it before listing: the
    // uploaded batch is enqueued once (by the listing), files uploaded later by their events.
    const run = await deps.provision(jobPath, context, { deferIntake: options.upload !== undefined });
    for (const warning of run.warnings) display.log(`warning: ${warning}`);
    display.log(`run ${run.runId}: provisioned; input goes to ${run.uploadTo}`);
    let outcome: CollectStepResult | undefined;
    let failure: unknown;
    try {
      if (interrupt.signal.aborted) throw new InterruptedError('provision');
      if (options.upload !== undefined) {
        const started = deps.now();
        const uploaded = await unlessInterrupted(
          deps.uploadDirectory(
            { dir: options.upload, to: run.uploadTo, jobPath, env: context.env },
            (counts) => {
              display.update(renderUploadProgress(counts, deps.now() - started), { key: `${counts.files}` });
            },
          ),
          interrupt.signal,
          'upload',
        );
        display.done(
          `uploaded ${uploaded.files} file(s), ${formatBytes(uploaded.bytes)}, to ${run.uploadTo}`,
        );
        if (options.collectOptions.until === 'marker') {
          await deps.putMarker({ at: run.endMarker, jobPath, env: context.env });
        }
      }
      const dispatched = await unlessInterrupted(
        deps.dispatch(target, context, (counts) => {
          display.update(`dispatching: ${describeDispatch(counts)}`);
        }),
        interrupt.signal,
        'dispatch',
      );
      display.done(`dispatched: ${describeDispatch(dispatched)}; ${dispatched.workers} worker(s) running`);
      outcome = await unlessInterrupted(
        deps.collect(target, options.collectOptions, context, (progress) => {
          showCollectProgress(display, progress);
        }),
        interrupt.signal,
        'collect',
      );
      display.done();
    } catch (thrown: unknown) {
      display.done();
      failure = thrown;
    }
    // The job's own `keep: true` (continuous intake) keeps the run as --keep does.
    await finishRun(
      run.runId,
      jobPath,
      options.keep === true || run.keep === true,
      failure,
      context,
      display,
      deps,
    );
    if (outcome === undefined) throw failure;
    return outcome;
  } finally {
    stopListening();
  }
}

/** Tears the run down unless kept; a teardown failure is reported beside the step's own. */
async function finishRun(
  runId: string,
  jobPath: string,
  keep: boolean,
  failure: unknown,
  context: StepContext,
  display: ProgressDisplay,
  deps: StepCommandDeps,
): Promise<void> {
  if (keep) {
    display.log(`kept run ${runId}: tear it down with \`sluice teardown ${jobPath}\``);
    return;
  }
  // Teardown runs to its end even after an interrupt: it is what the user asked for.
  const teardownContext: StepContext = { ...context, signal: new AbortController().signal };
  try {
    const report = await deps.teardown({ jobPath }, {}, teardownContext);
    display.log(`torn down: ${report.deleted.length} resource(s) deleted; buckets and data kept`);
  } catch (thrown: unknown) {
    // The step's own failure says more; the teardown's is reported beside it.
    if (failure === undefined) throw thrown;
    display.log(
      `error: teardown failed too (${toError(thrown).message}); run \`sluice teardown ${jobPath}\` again`,
    );
  }
}

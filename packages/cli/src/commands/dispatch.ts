import type { DispatchProgress } from '@sluice/core';
import type { Command } from 'commander';

import type { CommandContext } from '../context.js';
import { ProgressDisplay } from '../progress.js';
import {
  BACKENDS,
  defaultStepDeps,
  displayLogger,
  parseChoice,
  parseTarget,
  stepContext,
  type StepCommandDeps,
} from './step-options.js';

const EXAMPLES = `
Examples:
  $ sluice dispatch job.json
  $ sluice dispatch --run thumbnails-3f9a0c12 --output-bucket sluice-demo-out

Enqueues the files already in the run's input prefix (skipping those whose completion marker says they
are done) and, with the local backend, starts the runner containers. Prints the counts on stdout.

Exit status: 0 dispatched, 2 the run or the command line is wrong, 1 sluice, AWS or the engine failed.
`;

interface DispatchOptions {
  readonly run?: string;
  readonly backend?: string;
  readonly outputBucket?: string;
  readonly verbose?: boolean;
}

/** One line of dispatch counts. */
export function describeDispatch(counts: DispatchProgress): string {
  return (
    `${counts.listed} listed, ${counts.enqueued} enqueued, ${counts.skippedDone} already done, ` +
    `${counts.skippedFiltered} not inputs` +
    (counts.failed > 0 ? `, ${counts.failed} refused by SQS` : '')
  );
}

/** `sluice dispatch JOB|--run ID`: the dispatch-tasks action's work, on this machine. */
export function registerDispatch(
  program: Command,
  context: CommandContext,
  deps: Partial<StepCommandDeps> = {},
): void {
  program
    .command('dispatch')
    .summary("enqueue the files already in a run's input prefix and start its workers")
    .description(
      "Enqueue a task for every file already in the run's input prefix (streamed; inputs already done " +
        'are skipped) and, with the local backend, start the runner containers.',
    )
    .argument('[job]', 'the job file (or give --run)')
    .option('--run <run-id>', 'the run id printed by sluice provision (instead of the job file)')
    .option(
      '--output-bucket <bucket>',
      'with --run: the output bucket, where the run state is (default: found by tags)',
    )
    .option('--backend <backend>', "override the run's backend: local or ecs")
    .option('--verbose', 'print debug messages too')
    .addHelpText('after', EXAMPLES)
    .action(async (jobPath: string | undefined, options: DispatchOptions) => {
      const { dispatch, env, progress, now } = { ...defaultStepDeps(), ...deps };
      const target = parseTarget(jobPath, options.run);
      const backend = parseChoice('--backend', options.backend, BACKENDS);
      const display = new ProgressDisplay(progress, { now });
      const result = await dispatch(
        target,
        stepContext(displayLogger(display, options.verbose === true), env, {
          backend,
          outputBucket: options.outputBucket,
        }),
        (counts) => {
          display.update(`dispatching: ${describeDispatch(counts)}`);
        },
      );
      display.done();
      context.io.out(
        `run ${result.runId}: ${describeDispatch(result)}; ${result.workers} worker(s) running\n`,
      );
    });
}

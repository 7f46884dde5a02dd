import type { Command } from 'commander';

import type { CommandContext } from '../context.js';
import { ProgressDisplay } from '../progress.js';
import {
  defaultStepDeps,
  displayLogger,
  parseTarget,
  stepContext,
  type StepCommandDeps,
} from './step-options.js';

const EXAMPLES = `
Examples:
  $ sluice teardown job.json
  $ sluice teardown --run thumbnails-3f9a0c12 --delete-data

Removes what provision created for the run (found by its tags) and its local runner containers; the
buckets and their data stay unless --delete-data. Safe to repeat, and after a half-finished provision.

Exit status: 0 torn down, 2 the command line is wrong, 1 sluice, AWS or the engine failed.
`;

interface TeardownOptions {
  readonly run?: string;
  readonly outputBucket?: string;
  readonly deleteData?: boolean;
  readonly verbose?: boolean;
}

/** `sluice teardown JOB|--run ID`: the teardown action's work, on this machine. */
export function registerTeardown(
  program: Command,
  context: CommandContext,
  deps: Partial<StepCommandDeps> = {},
): void {
  program
    .command('teardown')
    .summary('remove what provision created for a run')
    .description(
      "Remove sluice's notification entry, the run's queues and its local runner containers, found by " +
        'the run id tags. Buckets and data are kept unless --delete-data (only buckets the run created).',
    )
    .argument('[job]', 'the job file (or give --run)')
    .option('--run <run-id>', 'the run id printed by sluice provision (instead of the job file)')
    .option(
      '--output-bucket <bucket>',
      'with --run: the output bucket, where the run state is (default: found by tags)',
    )
    .option('--delete-data', 'also delete the buckets this run created, with everything in them')
    .option('--verbose', 'print debug messages too')
    .addHelpText('after', EXAMPLES)
    .action(async (jobPath: string | undefined, options: TeardownOptions) => {
      const { teardown, env, progress, now } = { ...defaultStepDeps(), ...deps };
      const target = parseTarget(jobPath, options.run);
      const display = new ProgressDisplay(progress, { now });
      const report = await teardown(
        target,
        { deleteData: options.deleteData === true },
        stepContext(displayLogger(display, options.verbose === true), env, {
          outputBucket: options.outputBucket,
        }),
      );
      const lines = [
        `run ${report.runId}: torn down, ${report.deleted.length} deleted, ${report.kept.length} kept` +
          (report.found ? '' : ' (no run.json found; removed what carries its tags)'),
        ...report.deleted.map((item) => `  deleted: ${item}`),
        ...report.kept.map((item) => `  kept: ${item}`),
      ];
      context.io.out(`${lines.join('\n')}\n`);
    });
}

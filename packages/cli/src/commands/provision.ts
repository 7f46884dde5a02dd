import type { Command } from 'commander';

import type { CommandContext } from '../context.js';
import { ProgressDisplay } from '../progress.js';
import {
  BACKENDS,
  defaultStepDeps,
  displayLogger,
  parseChoice,
  stepContext,
  type StepCommandDeps,
} from './step-options.js';

const EXAMPLES = `
Examples:
  $ sluice provision job.json
  $ sluice provision job.json --backend local

Prints run-id, queue-url, upload-to and end-marker on stdout (one "name: value" a line); progress
and warnings go to stderr. Provisioning the same job again changes nothing and prints the same.

Exit status: 0 provisioned, 2 the job or the command line is wrong, 1 sluice or AWS failed.
`;

interface ProvisionOptions {
  readonly backend?: string;
  readonly verbose?: boolean;
}

/** `sluice provision JOB`: the provision-run action's work, on this machine. */
export function registerProvision(
  program: Command,
  context: CommandContext,
  deps: Partial<StepCommandDeps> = {},
): void {
  program
    .command('provision')
    .summary("create (or reuse) a job's buckets, queues and S3 notification")
    .description(
      'Validate JOB against its algorithm and create, or reuse, everything its run needs: the input and ' +
        'output buckets, the task queue and its dead-letter queue, the queue policy and the S3 event ' +
        'notification for the input prefix. Every resource is tagged with the run id. Idempotent.',
    )
    .argument('<job>', 'the job file (job.json)')
    .option('--backend <backend>', "override the job's compute.backend: local or ecs")
    .option('--verbose', 'print debug messages too')
    .addHelpText('after', EXAMPLES)
    .action(async (jobPath: string, options: ProvisionOptions) => {
      const { provision, env, progress, now } = { ...defaultStepDeps(), ...deps };
      const backend = parseChoice('--backend', options.backend, BACKENDS);
      const display = new ProgressDisplay(progress, { now });
      const run = await provision(
        jobPath,
        stepContext(displayLogger(display, options.verbose === true), env, { backend }),
      );
      for (const warning of run.warnings) display.log(`warning: ${warning}`);
      context.io.out(
        `run-id: ${run.runId}\nqueue-url: ${run.queueUrl}\nupload-to: ${run.uploadTo}\nend-marker: ${run.endMarker}\n`,
      );
    });
}

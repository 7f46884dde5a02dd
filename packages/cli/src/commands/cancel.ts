import { cancelRun, type CancelReport } from '@sluice/orchestrator';
import type { Command } from 'commander';

import type { CommandContext } from '../context.js';
import {
  OUTPUT_BUCKET_HELP,
  defaultInspectDeps,
  findRun,
  withConnection,
  type InspectCommandDeps,
} from './status.js';

const EXAMPLES = `
Examples:
  $ sluice cancel thumbnails-3f9a0c12
  $ sluice teardown --run thumbnails-3f9a0c12     # then remove its queues and notification

Purges the run's task queue (no queued task starts) and stops its local runner containers. Task
records, logs, outputs and the dead-letter queue are kept; the queues and the S3 notification stay
until teardown, so new uploads still enqueue tasks.

Exit status: 0 cancelled, 2 the run is not found or the command line is wrong, 1 sluice, AWS or the engine failed.
`;

/** `sluice cancel RUN`: stop a run's work, keep what it did. */
export function registerCancel(
  program: Command,
  context: CommandContext,
  deps: Partial<InspectCommandDeps> = {},
): void {
  program
    .command('cancel')
    .summary('stop a run: purge its task queue and stop its local workers')
    .description(
      "Purge the run's task queue and stop its local runner containers; task records, logs and " +
        'outputs are kept. Tear the run down afterwards to remove its queues and notification.',
    )
    .argument('<run>', 'the run id printed by sluice provision (sluice runs lists them)')
    .option('--output-bucket <bucket>', OUTPUT_BUCKET_HELP)
    .addHelpText('after', EXAMPLES)
    .action(async (runId: string, options: { readonly outputBucket?: string }) => {
      const all = { ...defaultInspectDeps(), ...deps };
      const lines = await withConnection(all, async (inspect) => {
        const state = await findRun(runId, inspect, options.outputBucket);
        const report = await cancelRun(state, inspect);
        const out = [describeCancel(runId, state.state, report)];
        const workers = await all.workers(all.env);
        if (workers === undefined) {
          if (state.backend === 'local')
            out.push('  no container engine on this machine: no local runner to stop');
        } else {
          const stopped = await workers.stop(runId);
          if (stopped > 0 || state.backend === 'local')
            out.push(`  stopped ${stopped} local runner container(s)`);
        }
        out.push(`  kept: task records, logs and outputs in s3://${state.output.bucket}/`);
        if (state.state !== 'torn-down') {
          out.push(
            `to remove the run's queues and notification: sluice teardown --run ${runId}` +
              (options.outputBucket === undefined ? '' : ` --output-bucket ${options.outputBucket}`) +
              ' (add --delete-data to delete the buckets it created)',
          );
        }
        return out;
      });
      context.io.out(`${lines.join('\n')}\n`);
    });
}

function describeCancel(runId: string, phase: string, report: CancelReport): string {
  if (!report.queueFound) return `run ${runId}: no task queue (${phase}); nothing queued to purge`;
  if (report.purgeInProgress) {
    return (
      `run ${runId}: a purge of its task queue began less than a minute ago and is still under way ` +
      '(SQS allows one purge a minute per queue): it removes what was queued when it began; ' +
      `for tasks queued since, run \`sluice cancel ${runId}\` again in a minute`
    );
  }
  return (
    `run ${runId}: cancelled — ${report.purged} queued task(s) purged` +
    (report.inFlight > 0
      ? `, ${report.inFlight} in flight were purged too (their attempts may still finish)`
      : '')
  );
}

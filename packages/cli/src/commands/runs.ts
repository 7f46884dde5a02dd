import { listRuns, type RunListing } from '@sluice/orchestrator';
import type { Command } from 'commander';

import type { CommandContext } from '../context.js';
import { defaultInspectDeps, withConnection, type InspectCommandDeps } from './status.js';

const EXAMPLES = `
Examples:
  $ sluice runs
  $ sluice runs --json

Lists the runs whose task queue exists (SQS queues named sluice-<run>-tasks, found with the AWS
settings of the environment: AWS_ENDPOINT_URL, AWS_REGION), newest first. A torn-down run has no
queue: sluice status RUN --output-bucket BUCKET still shows it.

Exit status: 0 listed (also when there are none), 2 the command line is wrong, 1 sluice or AWS failed.
`;

/** The table `sluice runs` prints. */
export function describeRuns(runs: readonly RunListing[]): string {
  if (runs.length === 0) {
    return 'no runs found (no SQS queue sluice-<run>-tasks with a run id tag here); start one with: sluice provision JOB\n';
  }
  const rows = runs.map((run) => [
    run.runId,
    run.outputBucket ?? '-',
    run.createdAt ?? '-',
    run.state ?? `? (${run.problem ?? 'unknown'})`,
  ]);
  const header = ['RUN', 'OUTPUT BUCKET', 'CREATED', 'STATE'];
  const widths = header.map((title, column) =>
    Math.max(title.length, ...rows.map((row) => (row[column] ?? '').length)),
  );
  const format = (row: readonly string[]): string =>
    row
      .map((cell, column) => (column === row.length - 1 ? cell : cell.padEnd(widths[column] ?? 0)))
      .join('  ');
  return `${[header, ...rows].map(format).join('\n')}\n`;
}

/** `sluice runs`: the runs that have a task queue. */
export function registerRuns(
  program: Command,
  context: CommandContext,
  deps: Partial<InspectCommandDeps> = {},
): void {
  program
    .command('runs')
    .summary('list the runs (found by their SQS queues)')
    .description(
      'List the runs found by their task queues (SQS queues named sluice-<run>-tasks and their tags): ' +
        'run id, output bucket, when it was created and its state.',
    )
    .option('--json', 'print the runs as JSON')
    .addHelpText('after', EXAMPLES)
    .action(async (options: { readonly json?: boolean }) => {
      const all = { ...defaultInspectDeps(), ...deps };
      const runs = await withConnection(all, (inspect) => listRuns(inspect));
      context.io.out(options.json === true ? `${JSON.stringify(runs, null, 2)}\n` : describeRuns(runs));
    });
}

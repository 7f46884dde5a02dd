import { writeFile } from 'node:fs/promises';

import type { CollectProgress, CollectReport } from '@sluice/core';
import type { Command } from 'commander';

import type { CommandContext } from '../context.js';
import { ExitCode } from '../exit-codes.js';
import { ProgressDisplay, formatDuration, renderRunProgress } from '../progress.js';
import {
  defaultStepDeps,
  displayLogger,
  parseCollectOptions,
  parseTarget,
  stepContext,
  type CollectCommandOptions,
  type StepCommandDeps,
} from './step-options.js';

const EXAMPLES = `
Examples:
  $ sluice collect job.json --until marker --timeout 1800
  $ sluice collect --run thumbnails-3f9a0c12 --until count --expected 60 --summary summary.md
  $ sluice collect job.json --retry-failed
  $ sluice collect job.json --report report.html && xdg-open report.html

Waits until the input is complete (--until: idle, the default; marker: an object at the end-marker
address provision printed; count: --expected inputs) and every input is finished, writes results.json
and report.html (the run in charts: tasks over time, time per phase, the slowest tasks, failures by
class with the ends of their logs; one self-contained page) to the output bucket and prints the counts
and where they are. --report FILE copies report.html here too. Failed tasks do not make it fail.

Exit status: 0 the run completed (also with failed tasks: "completed, N failed"), 1 it did not finish
in time or sluice/AWS failed, 2 the run or the command line is wrong.
`;

interface CollectOptions extends CollectCommandOptions {
  readonly run?: string;
  readonly outputBucket?: string;
  readonly summary?: string;
  readonly report?: string;
  readonly verbose?: boolean;
}

/** What the phases of collect are called on the progress line. */
const PHASES: Readonly<Record<CollectProgress['phase'], string>> = {
  'waiting-for-input': 'waiting for input',
  draining: 'running',
  reconciling: 'reconciling',
  retrying: 'retrying failed',
  'writing-results': 'writing results',
};

/** Shows collect's progress on `display`. */
export function showCollectProgress(display: ProgressDisplay, progress: CollectProgress): void {
  const counts = {
    done: progress.succeeded,
    failed: progress.failed,
    running: progress.running,
    queued: progress.pending,
    total: progress.inputs,
  };
  display.update(`${PHASES[progress.phase]}: ${renderRunProgress(counts, progress.elapsedMs)}`, {
    key: `${progress.phase} ${JSON.stringify(counts)}`,
  });
}

/** The lines that end a collect: counts, where results.json is, the first failures. */
export function describeReport(report: CollectReport): string {
  const { counts } = report;
  const status = report.complete
    ? `completed, ${counts.failed} failed`
    : `did not finish${report.timedOut ? ' in time' : ''} (${counts.running} running, ${counts.pending} not started)`;
  const lines = [
    `run ${report.runId}: ${status} — ${counts.succeeded} succeeded, ${counts.failed} failed of ${counts.inputs} inputs in ${formatDuration(report.elapsedMs)}`,
    `results: ${report.results}`,
    ...(report.report === undefined ? [] : [`report:  ${report.report}`]),
  ];
  if (report.retried > 0)
    lines.push(`retried: ${report.retried} dead-lettered task(s) moved back to the queue`);
  const shown = report.failures.slice(0, 10);
  for (const failure of shown) {
    lines.push(
      `  failed: ${failure.key} (${failure.failureClass ?? 'unknown'}${failure.message === undefined ? '' : `: ${failure.message}`})`,
    );
  }
  if (counts.failed > shown.length)
    lines.push(`  … and ${counts.failed - shown.length} more in results.json`);
  return `${lines.join('\n')}\n`;
}

/** `sluice collect JOB|--run ID`: the collect-results action's work, on this machine. */
export function registerCollect(
  program: Command,
  context: CommandContext,
  deps: Partial<StepCommandDeps> = {},
): void {
  program
    .command('collect')
    .summary('wait for a run to finish and write its results')
    .description(
      "Wait (bounded, with backoff) until the run's input is complete and every input has a final " +
        'record, then write results.json and report.html (the run in charts) to the output bucket and ' +
        'print the counts. With the local backend the runner containers are watched and restarted ' +
        'while work remains.',
    )
    .argument('[job]', 'the job file (or give --run)')
    .option('--run <run-id>', 'the run id printed by sluice provision (instead of the job file)')
    .option(
      '--output-bucket <bucket>',
      'with --run: the output bucket, where the run state is (default: found by tags)',
    )
    .option('--until <rule>', 'when the input is complete: idle, marker or count (default idle)')
    .option('--expected <n>', 'with --until count: how many input files to wait for')
    .option(
      '--idle <seconds>',
      "with --until idle: how long a quiet run counts as complete (default the job's)",
    )
    .option('--timeout <seconds>', 'stop waiting after this long (default 3600)')
    .option('--retry-failed', 'move dead-lettered tasks back to the queue once, and wait again')
    .option(
      '--summary <file>',
      'also write the Markdown summary (counts, failures with log tails) to this file',
    )
    .option(
      '--report <file>',
      'also copy report.html (charts of the run, one self-contained page) to this file',
    )
    .option('--verbose', 'print debug messages too')
    .addHelpText('after', EXAMPLES)
    .action(async (jobPath: string | undefined, options: CollectOptions) => {
      const { collect, env, progress, now } = { ...defaultStepDeps(), ...deps };
      const target = parseTarget(jobPath, options.run);
      const collectOptions = {
        ...parseCollectOptions(options, 'idle'),
        ...(options.report !== undefined && { reportFile: options.report }),
      };
      const display = new ProgressDisplay(progress, { now });
      const { report, summaryMarkdown } = await collect(
        target,
        collectOptions,
        stepContext(displayLogger(display, options.verbose === true), env, {
          outputBucket: options.outputBucket,
        }),
        (counts) => {
          showCollectProgress(display, counts);
        },
      );
      display.done();
      if (options.summary !== undefined) await writeFile(options.summary, summaryMarkdown);
      context.io.out(describeReport(report));
      if (options.report !== undefined) context.io.out(`report copied to ${options.report}\n`);
      if (!report.complete) context.exitCode = ExitCode.fault;
    });
}

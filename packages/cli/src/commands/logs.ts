import { ConfigurationError, type TaskAttempt } from '@sluice/core';
import { attemptLogs, failedTasks, findTaskRecord, logTail, type AttemptLog } from '@sluice/orchestrator';
import type { Command } from 'commander';

import type { CommandContext } from '../context.js';
import { parseWholeNumber } from './step-options.js';
import {
  OUTPUT_BUCKET_HELP,
  defaultInspectDeps,
  findRun,
  withConnection,
  type InspectCommandDeps,
} from './status.js';

const EXAMPLES = `
Examples:
  $ sluice logs thumbnails-3f9a0c12                  # failed tasks, with the tail of their last log
  $ sluice logs thumbnails-3f9a0c12 photos/cat.jpg   # every attempt of one task, with its log
  $ sluice logs thumbnails-3f9a0c12 0123456789abcdef01234567 --tail 50

A task is named by its task id (24 hex digits, in results.json) or its input key (with or without
the input prefix).

Exit status: 0 shown, 2 the run or task is not found or the command line is wrong, 1 sluice or AWS failed.
`;

interface LogsOptions {
  readonly outputBucket?: string;
  readonly tail?: string;
  readonly limit?: string;
}

/** One line about an attempt: when, where, how it ended. */
export function describeAttempt(attempt: TaskAttempt): string {
  const parts = [`worker ${attempt.workerId}`, `started ${attempt.startedAt}`];
  if (attempt.endedAt !== undefined) parts.push(`ended ${attempt.endedAt}`);
  if (attempt.exitCode !== undefined) parts.push(`exit ${attempt.exitCode}`);
  if (attempt.failureClass !== undefined)
    parts.push(attempt.failureClass + (attempt.message === undefined ? '' : `: ${attempt.message}`));
  else if (attempt.message !== undefined) parts.push(attempt.message);
  return `attempt ${attempt.attempt} (${parts.join(', ')})`;
}

function logText(entry: AttemptLog, tail: number | undefined): string {
  if (entry.log !== undefined) {
    const text = tail === undefined ? entry.log.replace(/\n$/, '') : logTail(entry.log, tail);
    return text === '' ? '(empty log)' : text;
  }
  if (entry.problem !== undefined) return `(log not readable: ${entry.problem})`;
  return '(no log recorded)';
}

/** `sluice logs RUN [TASK]`: a task's attempts and logs, or the failed tasks. */
export function registerLogs(
  program: Command,
  context: CommandContext,
  deps: Partial<InspectCommandDeps> = {},
): void {
  program
    .command('logs')
    .summary("show a task's attempts and logs, or a run's failed tasks")
    .description(
      "With a task (task id or input key): print each of its attempts and that attempt's log. " +
        'Without: list the failed tasks with the tail of their last log.',
    )
    .argument('<run>', 'the run id printed by sluice provision (sluice runs lists them)')
    .argument('[task]', 'a task id or an input key')
    .option('--output-bucket <bucket>', OUTPUT_BUCKET_HELP)
    .option('--tail <lines>', 'print only the last lines of each log (default: all with a task; 20 without)')
    .option('--limit <n>', 'without a task: list at most this many failed tasks (default 20)')
    .addHelpText('after', EXAMPLES)
    .action(async (runId: string, task: string | undefined, options: LogsOptions) => {
      const all = { ...defaultInspectDeps(), ...deps };
      const tail = parseWholeNumber('--tail', options.tail, 1);
      const limit = parseWholeNumber('--limit', options.limit, 1) ?? 20;
      const text = await withConnection(all, async (inspect) => {
        const state = await findRun(runId, inspect, options.outputBucket);
        if (task !== undefined) {
          const record = await findTaskRecord(state, task, inspect);
          if (record === undefined) {
            throw new ConfigurationError(
              `run ${runId} has no task ${JSON.stringify(task)}: give a task id (24 hex digits, in results.json) or an input key under s3://${state.input.bucket}/${state.input.prefix}. ` +
                `List the failed tasks with: sluice logs ${runId}`,
            );
          }
          const lines = [
            `task ${record.taskId}: s3://${record.input.bucket}/${record.input.key} — ${record.status}, ${record.attempts.length} attempt(s)`,
            ...record.outputs.map((output) => `  output: s3://${state.output.bucket}/${output.key}`),
          ];
          for (const entry of await attemptLogs(state, record, inspect)) {
            lines.push(
              '',
              `--- ${describeAttempt(entry.attempt)}` +
                (entry.attempt.logKey === undefined
                  ? ''
                  : `\n    log: s3://${state.output.bucket}/${entry.attempt.logKey}`),
              logText(entry, tail),
            );
          }
          return `${lines.join('\n')}\n`;
        }
        const { failed, tasks } = await failedTasks(state, inspect, { limit });
        if (failed === 0) return `run ${runId}: no failed tasks\n`;
        const lines = [`run ${runId}: ${failed} failed task(s)`];
        for (const { record, last } of tasks) {
          lines.push('', `--- ${record.taskId}: ${record.input.key}`);
          if (last === undefined) {
            lines.push('(no attempt recorded)');
            continue;
          }
          lines.push(`    ${describeAttempt(last.attempt)}`, logText(last, tail ?? 20));
        }
        if (failed > tasks.length)
          lines.push('', `… and ${failed - tasks.length} more (--limit N shows more)`);
        lines.push('', `one task's attempts and whole logs: sluice logs ${runId} TASK`);
        return `${lines.join('\n')}\n`;
      });
      context.io.out(text);
    });
}

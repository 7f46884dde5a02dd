// The job summary of a run: GitHub-flavoured Markdown, always under GitHub's 1 MiB step-summary
// limit, with counts, the failures (with the tail of each log) and the slowest tasks.
import { SecretMask, mapBounded, type CollectReport, type ObjectStore, type TaskResult } from '@sluice/core';
import { runLogGroupLink, s3ObjectConsoleUrl } from '@sluice/core/ecs';

/** GitHub refuses step summaries over 1 MiB; the summary stays well below. */
export const SUMMARY_MAX_BYTES = 1_000_000;
/** Bytes of each log's end shown in the summary. */
export const LOG_TAIL_BYTES = 2048;

/** Options of {@link renderSummary}. */
export interface SummaryOptions {
  /** Log tails by task id (from {@link fetchLogTails}). */
  readonly logTails?: ReadonlyMap<string, string>;
  /** Values to mask wherever they appear (secret variables' values). */
  readonly secrets?: readonly string[];
  /** Size limit in bytes (default {@link SUMMARY_MAX_BYTES}). */
  readonly maxBytes?: number;
  /** Failures listed at most (default 100). */
  readonly maxFailures?: number;
  /** Where the runners' own logs are (ECS: the run's CloudWatch Logs group). */
  readonly runnerLogs?: { readonly logGroup: string; readonly consoleUrl: string };
  /** A web page of results.json (ECS: the S3 console); without it the S3 URI is shown alone. */
  readonly resultsConsoleUrl?: string;
  /** A web page of report.html (ECS: the S3 console); without it the S3 URI is shown alone. */
  readonly reportConsoleUrl?: string;
}

/**
 * Renders a run's summary as GitHub-flavoured Markdown: the outcome ("completed, N failed"), the
 * counts, a table of failures with each log's tail, and the slowest tasks. Always under
 * `maxBytes`: tables are cut short with a note saying how many rows were left out (results.json
 * has every task).
 *
 * @example
 * const tails = await fetchLogTails(report, store, state.output.bucket);
 * await appendFile(process.env.GITHUB_STEP_SUMMARY, renderSummary(report, { logTails: tails }));
 * @throws never.
 */
export function renderSummary(report: CollectReport, options: SummaryOptions = {}): string {
  const maxBytes = options.maxBytes ?? SUMMARY_MAX_BYTES;
  const mask = masker(options.secrets ?? []);
  const { counts } = report;
  const unfinished = counts.running + counts.pending;
  const outcome = report.complete
    ? `completed, ${counts.failed} failed`
    : report.timedOut
      ? `timed out, ${unfinished} unfinished, ${counts.failed} failed`
      : `incomplete, ${unfinished} unfinished, ${counts.failed} failed`;
  const head = [
    `## sluice run \`${report.runId}\`: ${outcome}`,
    '',
    '| inputs | succeeded | failed | running | pending | retried | time |',
    '| ---: | ---: | ---: | ---: | ---: | ---: | ---: |',
    `| ${counts.inputs} | ${counts.succeeded} | ${counts.failed} | ${counts.running} | ${counts.pending} | ${report.retried} | ${duration(report.elapsedMs)} |`,
    '',
    options.resultsConsoleUrl === undefined
      ? `Results: \`${report.results}\``
      : `Results: [\`${report.results}\`](${options.resultsConsoleUrl})`,
    '',
    ...(report.report === undefined
      ? []
      : [
          `Report (charts of the run, to open in a browser): ${
            options.reportConsoleUrl === undefined
              ? `\`${report.report}\``
              : `[\`${report.report}\`](${options.reportConsoleUrl})`
          } — \`aws s3 cp ${report.report} report.html\`, or \`sluice collect … --report report.html\`.`,
          '',
        ]),
    ...(options.runnerLogs === undefined
      ? []
      : [
          `Runner logs: [\`${options.runnerLogs.logGroup}\`](${options.runnerLogs.consoleUrl}) in CloudWatch Logs ` +
            '(one stream per worker: `<run id>/algorithm/<task id>`; the task id is the worker in each record).',
          '',
        ]),
  ].join('\n');
  // Room is kept for the slowest tasks and the notes, whatever the failures take.
  const slowest = renderSlowest(report.slowest, mask);
  const reserve = byteLength(slowest) + 512;
  const budget = new Budget(maxBytes - reserve - byteLength(head));
  const failures = renderFailures(report, options, mask, budget);
  return truncateBytes(`${head}${failures}${slowest}`, maxBytes);
}

function renderFailures(
  report: CollectReport,
  options: SummaryOptions,
  mask: (text: string) => string,
  budget: Budget,
): string {
  const failed = report.counts.failed;
  if (failed === 0) return '';
  const limit = Math.min(options.maxFailures ?? 100, report.failures.length);
  const parts = ['### Failures', '', '| input | class | attempts | message |', '| --- | --- | ---: | --- |'];
  const details: string[] = [];
  let shown = 0;
  for (const result of report.failures.slice(0, limit)) {
    const row = `| ${code(mask(result.key))} | ${result.failureClass ?? ''} | ${result.attempts} | ${cell(mask(result.message ?? ''))} |`;
    if (!budget.take(row.length + 1)) break;
    parts.push(row);
    shown += 1;
    const tail = options.logTails?.get(result.taskId);
    if (tail !== undefined) {
      const block = logBlock(mask(result.key), mask(tail), result.logKey);
      if (budget.take(byteLength(block))) details.push(block);
    }
  }
  if (shown < failed) {
    parts.push('', `_${failed - shown} more failures not shown; see results.json._`);
  }
  return `${[...parts, '', ...details].join('\n')}\n`;
}

/** A failure's log tail, folded; `key` and `tail` come masked. */
function logBlock(key: string, tail: string, logKey: string | undefined): string {
  const fence = '`'.repeat(Math.max(3, longestRun(tail, '`') + 1));
  return [
    `<details><summary>${html(key)}: end of ${html(logKey ?? 'the log')}</summary>`,
    '',
    `${fence}text`,
    tail.replace(/\s+$/, ''),
    fence,
    '',
    '</details>',
    '',
  ].join('\n');
}

function renderSlowest(slowest: readonly TaskResult[], mask: (text: string) => string): string {
  if (slowest.length === 0) return '';
  const rows = slowest.map(
    (r) =>
      `| ${code(mask(r.key))} | ${duration(r.wallMs ?? 0)} | ${ms(r.phases.downloadMs)} | ${ms(r.phases.runMs)} | ${ms(r.phases.uploadMs)} | ${r.attempts} |`,
  );
  return [
    '### Slowest tasks',
    '',
    '| input | wall time | download | run | upload | attempts |',
    '| --- | ---: | ---: | ---: | ---: | ---: |',
    ...rows,
    '',
  ].join('\n');
}

/**
 * Reads the end of each listed failure's log (bounded: at most `maxTasks` logs, `tailBytes` each,
 * logs over 1 MiB skipped), keyed by task id, for {@link renderSummary}.
 *
 * @example
 * const tails = await fetchLogTails(report, store, 'my-output', { maxTasks: 20 });
 * @throws never: a log that cannot be read is left out.
 */
export async function fetchLogTails(
  report: Pick<CollectReport, 'failures'>,
  store: ObjectStore,
  bucket: string,
  options: { readonly maxTasks?: number; readonly tailBytes?: number } = {},
): Promise<Map<string, string>> {
  const tailBytes = options.tailBytes ?? LOG_TAIL_BYTES;
  const wanted = report.failures
    .filter((r) => r.logKey !== undefined || r.log !== undefined)
    .slice(0, options.maxTasks ?? 50);
  const tails = new Map<string, string>();
  await mapBounded(wanted, 8, async (result) => {
    if (result.log !== undefined) {
      tails.set(result.taskId, tailOf(result.log, tailBytes));
      return;
    }
    try {
      const found = await store.getText({ bucket, key: result.logKey ?? '' }, { maxBytes: 1024 * 1024 });
      if (found !== undefined) tails.set(result.taskId, tailOf(found.text, tailBytes));
    } catch {
      // A missing or oversized log is not worth failing the summary for.
    }
  });
  return tails;
}

/** The last `bytes` bytes of `text`, starting at a line when one begins close by. */
function tailOf(text: string, bytes: number): string {
  const buffer = Buffer.from(text, 'utf8');
  if (buffer.length <= bytes) return text;
  // Decoding from a byte offset may split a character: the replacement character is dropped.
  const cut = buffer
    .subarray(buffer.length - bytes)
    .toString('utf8')
    .replace(/^\uFFFD+/, '');
  const newline = cut.indexOf('\n');
  return `…\n${newline >= 0 && newline < 200 ? cut.slice(newline + 1) : cut}`;
}

class Budget {
  constructor(private remaining: number) {}

  take(bytes: number): boolean {
    if (bytes > this.remaining) return false;
    this.remaining -= bytes;
    return true;
  }
}

/**
 * Masks the secret values this machine knows (values under 3 characters would mask too much). On ECS
 * it knows none: the runner masked records and task logs at the source.
 */
function masker(secrets: readonly string[]): (text: string) => string {
  const mask = new SecretMask(secrets.filter((s) => s.length >= 3));
  return (text) => mask.text(text);
}

function byteLength(text: string): number {
  return Buffer.byteLength(text, 'utf8');
}

function truncateBytes(text: string, maxBytes: number): string {
  if (byteLength(text) <= maxBytes) return text;
  const note = '\n\n_Summary cut short to stay under the size limit; see results.json._\n';
  const cut = Buffer.from(text, 'utf8')
    .subarray(0, maxBytes - byteLength(note))
    .toString('utf8')
    .replace(/\uFFFD+$/, '');
  return cut + note;
}

function longestRun(text: string, char: string): number {
  let longest = 0;
  let current = 0;
  for (const c of text) {
    current = c === char ? current + 1 : 0;
    longest = Math.max(longest, current);
  }
  return longest;
}

/** Text for a table cell: one line, pipes escaped, at most 300 characters. */
function cell(text: string): string {
  const line = text.replace(/\s+/g, ' ').trim();
  const short = line.length > 300 ? `${line.slice(0, 299)}…` : line;
  return short.replace(/\\/g, '\\\\').replace(/\|/g, '\\|').replace(/</g, '&lt;');
}

/** A key as inline code in a table cell (backticks and pipes cannot break out). */
function code(text: string): string {
  const inner = cell(text).replace(/`/g, "'");
  return `\`${inner}\``;
}

function html(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

function ms(value: number | undefined): string {
  return value === undefined ? '' : duration(value);
}

function duration(ms: number): string {
  if (ms < 1000) return `${Math.round(ms)} ms`;
  if (ms < 60_000) return `${(ms / 1000).toFixed(1)} s`;
  const minutes = Math.floor(ms / 60_000);
  return `${minutes} min ${Math.round((ms % 60_000) / 1000)} s`;
}

/** Console links of an ECS run: its runners' log group, results.json and report.html in the S3 console. */
export function awsConsoleLinks(
  region: string,
  runId: string,
  results: { readonly bucket: string; readonly key: string },
  reportKey?: string,
): { runnerLogs: ReturnType<typeof runLogGroupLink>; resultsConsoleUrl: string; reportConsoleUrl?: string } {
  return {
    runnerLogs: runLogGroupLink({ region, runId }),
    resultsConsoleUrl: s3ObjectConsoleUrl({ region, ...results }),
    ...(reportKey !== undefined && {
      reportConsoleUrl: s3ObjectConsoleUrl({ region, bucket: results.bucket, key: reportKey }),
    }),
  };
}

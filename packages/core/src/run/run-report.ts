// What a run's report.html shows, gathered while results.json is streamed: bounded aggregates fed one
// task at a time (completions per time bucket, time per phase, the slowest tasks, failures by class
// with a few samples and their log tails), so a run of millions of tasks builds it in the memory a
// run of ten does.
import { ledgerPrefix } from '../ids/ledger-keys.js';
import type { ObjectStore } from '../storage/object-store.js';
import type { ResultCounts, TaskResult } from './collect-report.js';
import { mapBounded } from './concurrency.js';

/** Time buckets of the throughput chart, at most; their width grows with the run's span. */
export const REPORT_TIME_BUCKETS = 60;
/** The slowest tasks listed. */
export const REPORT_SLOWEST = 10;
/** Failures shown with their log tails, at most (plus the first of each class not among them). */
export const REPORT_FAILURES = 20;
/** Lines of each failure's log shown (its end). */
export const REPORT_LOG_LINES = 20;
/** Characters of a log line shown; the rest is cut. */
const LOG_LINE_CHARS = 400;
/** Logs larger than this are not read for a tail (as the job summary). */
const LOG_MAX_BYTES = 1024 * 1024;

/** Bucket widths, in seconds, each a multiple of the one before, so buckets merge exactly. */
const WIDTHS_S = [1, 2, 10, 30, 60, 120, 600, 1800, 3600, 7200, 21_600, 43_200, 86_400];

/**
 * The report's key beside results.json: `_sluice/<run-id>/report.html`.
 *
 * @example
 * reportKey('thumbnails-3f9a0c12'); // '_sluice/thumbnails-3f9a0c12/report.html'
 * @throws {SluiceError} when the run id is malformed.
 */
export function reportKey(runId: string): string {
  return `${ledgerPrefix(runId)}report.html`;
}

/** Time spent in one phase over every task that reached it (last attempts). */
export interface PhaseSummary {
  readonly tasks: number;
  readonly totalMs: number;
  readonly maxMs: number;
}

/** Tasks that ended (succeeded or failed) in one time bucket. */
export interface ThroughputBucket {
  /** Start of the bucket, ms since the epoch. */
  readonly start: number;
  readonly succeeded: number;
  readonly failed: number;
}

/** A task as the report shows it: results.json's entry without its outputs. */
export type ReportTask = Omit<TaskResult, 'outputs'>;

/** A failure shown with the end of its log. */
export interface ReportFailure extends ReportTask {
  /** The last {@link REPORT_LOG_LINES} lines of the last attempt's log, when it could be read. */
  readonly logTail?: readonly string[];
}

/** Everything report.html shows; every list is bounded whatever the number of tasks. */
export interface RunReportData {
  readonly runId: string;
  readonly generatedAt: number;
  readonly counts: ResultCounts;
  readonly complete: boolean;
  readonly timedOut: boolean;
  /** Where results.json is (`s3://…`). */
  readonly results: string;
  /** Width of a throughput bucket in ms. */
  readonly bucketMs: number;
  /** Contiguous buckets from the first task's end to the last one's (empty buckets included). */
  readonly throughput: readonly ThroughputBucket[];
  readonly phases: {
    readonly download: PhaseSummary;
    readonly run: PhaseSummary;
    readonly upload: PhaseSummary;
  };
  /** The slowest tasks by wall time, slowest first (at most {@link REPORT_SLOWEST}). */
  readonly slowest: readonly ReportTask[];
  /** Failed tasks by the class of their last attempt, most first (`unknown` when none). */
  readonly failureClasses: readonly { readonly failureClass: string; readonly count: number }[];
  /** Failures shown, with their log tails. */
  readonly failures: readonly ReportFailure[];
}

/** Adds up a run's tasks for report.html, one at a time, in bounded memory. */
export class RunReportBuilder {
  private widthIndex = 0;
  private bins = new Map<number, { succeeded: number; failed: number }>();
  private first = Number.POSITIVE_INFINITY;
  private last = Number.NEGATIVE_INFINITY;
  private readonly phaseTotals = {
    download: { tasks: 0, totalMs: 0, maxMs: 0 },
    run: { tasks: 0, totalMs: 0, maxMs: 0 },
    upload: { tasks: 0, totalMs: 0, maxMs: 0 },
  };
  private slowest: ReportTask[] = [];
  private readonly classes = new Map<string, number>();
  private readonly failures: ReportTask[] = [];

  /** Counts one task (an entry of results.json). */
  add(result: TaskResult): void {
    const task = withoutOutputs(result);
    this.addPhase('download', result.phases.downloadMs);
    this.addPhase('run', result.phases.runMs);
    this.addPhase('upload', result.phases.uploadMs);
    if (result.wallMs !== undefined) this.addSlow(task, result.wallMs);
    const ended = result.endedAt === undefined ? Number.NaN : Date.parse(result.endedAt);
    if ((result.status === 'succeeded' || result.status === 'failed') && Number.isFinite(ended)) {
      this.addEnd(ended, result.status);
    }
    if (result.status === 'failed') {
      const failureClass = result.failureClass ?? 'unknown';
      const seen = this.classes.get(failureClass) ?? 0;
      this.classes.set(failureClass, seen + 1);
      if (this.failures.length < REPORT_FAILURES || seen === 0) this.failures.push(task);
    }
  }

  /** The aggregates so far, and the failures to show (their log tails read by {@link readLogTails}). */
  data(
    meta: Pick<RunReportData, 'runId' | 'generatedAt' | 'counts' | 'complete' | 'timedOut' | 'results'>,
  ): RunReportData {
    const bucketMs = this.widthMs();
    const throughput: ThroughputBucket[] = [];
    if (this.bins.size > 0) {
      const from = Math.floor(this.first / bucketMs);
      const to = Math.floor(this.last / bucketMs);
      for (let bin = from; bin <= to; bin += 1) {
        const found = this.bins.get(bin);
        throughput.push({
          start: bin * bucketMs,
          succeeded: found?.succeeded ?? 0,
          failed: found?.failed ?? 0,
        });
      }
    }
    return {
      ...meta,
      bucketMs,
      throughput,
      phases: {
        download: { ...this.phaseTotals.download },
        run: { ...this.phaseTotals.run },
        upload: { ...this.phaseTotals.upload },
      },
      slowest: [...this.slowest],
      failureClasses: [...this.classes]
        .map(([failureClass, count]) => ({ failureClass, count }))
        .sort((a, b) => b.count - a.count || a.failureClass.localeCompare(b.failureClass)),
      failures: [...this.failures],
    };
  }

  private addPhase(phase: keyof RunReportBuilder['phaseTotals'], ms: number | undefined): void {
    if (ms === undefined) return;
    const totals = this.phaseTotals[phase];
    totals.tasks += 1;
    totals.totalMs += ms;
    totals.maxMs = Math.max(totals.maxMs, ms);
  }

  private addSlow(task: ReportTask, wallMs: number): void {
    const slowest = this.slowest;
    if (slowest.length >= REPORT_SLOWEST && wallMs <= (slowest.at(-1)?.wallMs ?? 0)) return;
    slowest.push(task);
    slowest.sort((a, b) => (b.wallMs ?? 0) - (a.wallMs ?? 0));
    if (slowest.length > REPORT_SLOWEST) slowest.length = REPORT_SLOWEST;
  }

  private addEnd(at: number, status: 'succeeded' | 'failed'): void {
    this.first = Math.min(this.first, at);
    this.last = Math.max(this.last, at);
    const bin = Math.floor(at / this.widthMs());
    const counts = this.bins.get(bin) ?? { succeeded: 0, failed: 0 };
    counts[status] += 1;
    this.bins.set(bin, counts);
    while (
      Math.floor(this.last / this.widthMs()) - Math.floor(this.first / this.widthMs()) >=
      REPORT_TIME_BUCKETS
    ) {
      this.coarsen();
    }
  }

  /** The next wider bucket: every bin merges into the one holding its start. */
  private coarsen(): void {
    const before = this.widthMs();
    this.widthIndex += 1;
    const after = this.widthMs();
    const merged = new Map<number, { succeeded: number; failed: number }>();
    for (const [bin, counts] of this.bins) {
      const into = Math.floor((bin * before) / after);
      const found = merged.get(into) ?? { succeeded: 0, failed: 0 };
      found.succeeded += counts.succeeded;
      found.failed += counts.failed;
      merged.set(into, found);
    }
    this.bins = merged;
  }

  private widthMs(): number {
    const last = WIDTHS_S.length - 1;
    const seconds =
      this.widthIndex <= last
        ? (WIDTHS_S[this.widthIndex] ?? 1)
        : (WIDTHS_S[last] ?? 1) * 2 ** (this.widthIndex - last);
    return seconds * 1000;
  }
}

function withoutOutputs(result: TaskResult): ReportTask {
  const { outputs: _outputs, ...task } = result;
  return task;
}

/**
 * Reads the end of each shown failure's log (the last {@link REPORT_LOG_LINES} lines, each cut to
 * a few hundred characters; logs over 1 MiB or unreadable are left without one).
 *
 * @example
 * const data = await readLogTails(builder.data(meta), store, run.output.bucket);
 * @throws never: a log that cannot be read is left out.
 */
export async function readLogTails(
  data: RunReportData,
  store: ObjectStore,
  bucket: string,
): Promise<RunReportData> {
  const failures = await mapBounded(data.failures, 8, async (failure): Promise<ReportFailure> => {
    if (failure.log !== undefined) return { ...failure, logTail: lastLines(failure.log, REPORT_LOG_LINES) };
    if (failure.logKey === undefined) return failure;
    try {
      const found = await store.getText({ bucket, key: failure.logKey }, { maxBytes: LOG_MAX_BYTES });
      if (found === undefined) return failure;
      return { ...failure, logTail: lastLines(found.text, REPORT_LOG_LINES) };
    } catch {
      // A missing or oversized log is not worth failing the report for.
      return failure;
    }
  });
  return { ...data, failures };
}

function lastLines(text: string, count: number): string[] {
  const lines = text.replace(/\r?\n$/, '').split(/\r?\n/);
  return lines
    .slice(-count)
    .map((line) => (line.length > LOG_LINE_CHARS ? `${line.slice(0, LOG_LINE_CHARS - 1)}…` : line));
}

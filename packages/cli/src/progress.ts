// Progress of a long step on stderr: one live line on a terminal, plain lines otherwise (CI logs,
// pipes), so a log file does not fill with carriage returns.

/** Where progress goes. */
export interface ProgressSink {
  readonly write: (text: string) => void;
  /** A terminal: the line is redrawn in place. */
  readonly isTTY: boolean;
  /** Terminal width; the live line is cut to fit so it never wraps. */
  readonly columns?: number;
}

/** Where a run's tasks stand. */
export interface RunCounts {
  readonly done: number;
  readonly failed: number;
  readonly running: number;
  readonly queued: number;
  /** Inputs known so far; undefined when not known. */
  readonly total?: number;
}

/** How far an upload got. */
export interface UploadCounts {
  readonly files: number;
  readonly totalFiles: number;
  readonly bytes: number;
  readonly totalBytes: number;
}

/** `850ms`, `12s`, `3m05s`, `1h02m`. */
export function formatDuration(ms: number): string {
  if (!Number.isFinite(ms) || ms < 0) return '?';
  if (ms < 1000) return `${Math.round(ms)}ms`;
  const seconds = Math.round(ms / 1000);
  if (seconds < 60) return `${seconds}s`;
  const minutes = Math.floor(seconds / 60);
  if (minutes < 60) return `${minutes}m${String(seconds % 60).padStart(2, '0')}s`;
  return `${Math.floor(minutes / 60)}h${String(minutes % 60).padStart(2, '0')}m`;
}

/** `512 B`, `3.4 KB`, `12.0 MB` (powers of 1,000, as file managers show). */
export function formatBytes(bytes: number): string {
  if (bytes < 1000) return `${bytes} B`;
  const units = ['KB', 'MB', 'GB', 'TB'];
  let value = bytes / 1000;
  let unit = 0;
  while (value >= 1000 && unit < units.length - 1) {
    value /= 1000;
    unit += 1;
  }
  return `${value.toFixed(1)} ${units[unit] ?? 'TB'}`;
}

/** `rate, ETA` once something finished; nothing before (a rate of 0 says nothing). */
function rateAndEta(
  finished: number,
  remaining: number | undefined,
  elapsedMs: number,
  unit: string,
): string {
  if (finished <= 0 || elapsedMs <= 0) return '';
  const perSecond = finished / (elapsedMs / 1000);
  const rate =
    unit === 'bytes'
      ? `${formatBytes(perSecond)}/s`
      : `${perSecond.toFixed(perSecond < 10 ? 1 : 0)} ${unit}/s`;
  if (remaining === undefined || remaining <= 0) return ` — ${rate}`;
  return ` — ${rate}, ETA ${formatDuration((remaining / perSecond) * 1000)}`;
}

/**
 * One line for a run: `12 done, 1 failed, 2 running, 45 queued of 60 — 0.8 tasks/s, ETA 56s`. The
 * rate counts finished tasks (done or failed) over `elapsedMs`; the ETA is what remains of `total`
 * (or, without a total, what is running and queued) at that rate.
 */
export function renderRunProgress(counts: RunCounts, elapsedMs: number): string {
  const finished = counts.done + counts.failed;
  const base =
    `${counts.done} done, ${counts.failed} failed, ${counts.running} running, ${counts.queued} queued` +
    (counts.total === undefined ? '' : ` of ${counts.total}`);
  const remaining = counts.total === undefined ? counts.running + counts.queued : counts.total - finished;
  return `${base}${rateAndEta(finished, remaining, elapsedMs, 'tasks')}`;
}

/** `uploading 12/60 files, 3.1 MB of 9.8 MB — 1.2 MB/s, ETA 6s`. */
export function renderUploadProgress(counts: UploadCounts, elapsedMs: number): string {
  const base =
    `uploading ${counts.files}/${counts.totalFiles} files, ` +
    `${formatBytes(counts.bytes)} of ${formatBytes(counts.totalBytes)}`;
  return `${base}${rateAndEta(counts.bytes, counts.totalBytes - counts.bytes, elapsedMs, 'bytes')}`;
}

/** Options of {@link ProgressDisplay}. */
export interface ProgressDisplayOptions {
  readonly now?: () => number;
  /** Plain output: a changed line is printed at most this often (default 2 s). */
  readonly plainIntervalMs?: number;
  /** Plain output: an unchanged line is repeated this often, to show life (default 30 s). */
  readonly plainHeartbeatMs?: number;
}

const CLEAR_LINE = '\r\x1b[2K';

/**
 * Shows a progress line that changes. On a terminal it is redrawn in place (cut to the width) and
 * log lines are printed above it; otherwise each update is a plain line, printed when what it says
 * changed (at most every `plainIntervalMs`) or, unchanged, every `plainHeartbeatMs`.
 *
 * @example
 * const display = new ProgressDisplay({ write: (t) => process.stderr.write(t), isTTY: process.stderr.isTTY });
 * display.update(renderRunProgress(counts, elapsed), { key: JSON.stringify(counts) });
 * display.done('collected');
 */
export class ProgressDisplay {
  private readonly now: () => number;
  private readonly plainIntervalMs: number;
  private readonly plainHeartbeatMs: number;
  /** The live line now on the terminal ('' when none). */
  private live = '';
  private lastKey: string | undefined;
  private lastAt = Number.NEGATIVE_INFINITY;

  constructor(
    private readonly sink: ProgressSink,
    options: ProgressDisplayOptions = {},
  ) {
    this.now = options.now ?? Date.now;
    this.plainIntervalMs = options.plainIntervalMs ?? 2000;
    this.plainHeartbeatMs = options.plainHeartbeatMs ?? 30_000;
  }

  /**
   * Shows `line` as the current progress. `key` says what the line means without its timing (rate,
   * ETA); plain output prints a line again only when the key changed. Default: the line itself.
   */
  update(line: string, options: { readonly key?: string } = {}): void {
    const key = options.key ?? line;
    if (this.sink.isTTY) {
      this.live = this.fit(line);
      this.sink.write(`${CLEAR_LINE}${this.live}`);
      return;
    }
    const now = this.now();
    const since = now - this.lastAt;
    if ((key !== this.lastKey && since >= this.plainIntervalMs) || since >= this.plainHeartbeatMs) {
      this.sink.write(`${line}\n`);
      this.lastKey = key;
      this.lastAt = now;
    }
  }

  /** Prints a whole line (a log message) without breaking the live line. */
  log(text: string): void {
    const line = text.endsWith('\n') ? text : `${text}\n`;
    if (this.sink.isTTY && this.live !== '') {
      this.sink.write(`${CLEAR_LINE}${line}${this.live}`);
      return;
    }
    this.sink.write(line);
  }

  /** Ends the live line: replaced by `line` when given, else left as it is, and a newline. */
  done(line?: string): void {
    if (this.sink.isTTY) {
      if (line !== undefined) this.sink.write(`${CLEAR_LINE}${line}\n`);
      else if (this.live !== '') this.sink.write('\n');
    } else if (line !== undefined) {
      this.sink.write(`${line}\n`);
    }
    this.live = '';
    this.lastKey = undefined;
    this.lastAt = Number.NEGATIVE_INFINITY;
  }

  private fit(line: string): string {
    const width = this.sink.columns;
    if (width === undefined || width < 10 || line.length < width) return line;
    return `${line.slice(0, width - 2)}…`;
  }
}

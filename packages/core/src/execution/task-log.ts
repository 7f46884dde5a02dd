import { createWriteStream, type WriteStream } from 'node:fs';
import { once } from 'node:events';

import { SecretMask } from '../logging/secret-mask.js';

/** Default cap on a task's log: enough for any useful diagnosis, small enough to upload per task. */
export const DEFAULT_LOG_LIMIT_BYTES = 1024 * 1024;

/** How many last lines are kept for summaries and after a truncation note. */
const TAIL_LINES = 50;

/**
 * Lines longer than this are cut so masking never has to hold an unbounded line in memory. The cut
 * never falls inside a secret value, and the last (longest secret − 1) characters wait for the rest
 * of the line, so a secret still arriving is masked whole.
 */
const MAX_LINE_BYTES = 64 * 1024;

/**
 * The algorithm's stdout and stderr for one task, written to a file as it runs: each line prefixed
 * with its stream, secret values replaced by `***`, and the size capped. Past the cap the head is
 * kept, later lines are counted, and the last lines are kept in memory and appended when the log
 * is closed — the end of a log is where a failure explains itself.
 *
 * @example
 * const log = new TaskLog('/tmp/task.log', { secrets: ['hunter2'] });
 * log.write('stdout', Buffer.from('password is hunter2\n'));
 * const summary = await log.close(); // file holds "[stdout] password is ***"
 */
export class TaskLog {
  private readonly file: WriteStream;
  private readonly mask: SecretMask;
  private readonly limit: number;
  private readonly tailLines: string[] = [];
  /** The last lines past the cap: written after the truncation note. */
  private readonly droppedTail: string[] = [];
  private readonly pending: Record<'stdout' | 'stderr', string> = { stdout: '', stderr: '' };
  private written = 0;
  private droppedBytes = 0;
  private droppedLines = 0;

  constructor(path: string, options: { secrets?: readonly string[]; limitBytes?: number } = {}) {
    this.file = createWriteStream(path);
    this.mask = new SecretMask(options.secrets ?? []);
    this.limit = options.limitBytes ?? DEFAULT_LOG_LIMIT_BYTES;
  }

  /** Adds output from the algorithm; complete lines are masked and written, a partial line waits. */
  write(stream: 'stdout' | 'stderr', chunk: Buffer | string): void {
    let text = this.pending[stream] + chunk.toString();
    let newline = text.indexOf('\n');
    while (newline !== -1) {
      this.emit(stream, text.slice(0, newline));
      text = text.slice(newline + 1);
      newline = text.indexOf('\n');
    }
    while (text.length > MAX_LINE_BYTES) {
      const cut = this.lineCut(text);
      if (cut <= 0) break;
      this.emit(stream, text.slice(0, cut));
      text = text.slice(cut);
    }
    this.pending[stream] = text;
  }

  /** Adds a line from the runner itself (e.g. "timed out after 60 s"). */
  note(message: string): void {
    this.emit('sluice', message);
  }

  /** The last lines written, masked: what a summary shows of a failed task. */
  tail(lines = 20): string[] {
    return this.tailLines.slice(-lines);
  }

  /** Flushes partial lines and the truncation note, closes the file, and returns the log's size. */
  async close(): Promise<{ bytes: number; truncated: boolean }> {
    for (const stream of ['stdout', 'stderr'] as const) {
      if (this.pending[stream].length > 0) this.emit(stream, this.pending[stream]);
      this.pending[stream] = '';
    }
    const truncated = this.droppedLines > 0;
    if (truncated) {
      const left = this.droppedLines - this.droppedTail.length;
      const note = `[sluice] log truncated at ${this.limit} bytes: ${left} lines left out (${this.droppedBytes} bytes dropped in all); the last ${this.droppedTail.length} lines follow\n`;
      this.file.write(note + this.droppedTail.map((line) => `${line}\n`).join(''));
    }
    this.file.end();
    await once(this.file, 'finish');
    return { bytes: this.file.bytesWritten, truncated };
  }

  private emit(stream: string, rawLine: string): void {
    const line = `[${stream}] ${this.mask.text(rawLine)}`;
    this.tailLines.push(line);
    if (this.tailLines.length > TAIL_LINES) this.tailLines.shift();
    const bytes = Buffer.byteLength(line) + 1;
    if (this.written + bytes <= this.limit) {
      this.file.write(`${line}\n`);
      this.written += bytes;
    } else {
      this.droppedLines += 1;
      this.droppedBytes += bytes;
      this.droppedTail.push(line);
      if (this.droppedTail.length > TAIL_LINES) this.droppedTail.shift();
    }
  }

  /**
   * Where an over-long partial line is cut: at the line limit, but before the last (longest secret
   * − 1) characters, which may be the start of a secret, and never inside a secret already whole.
   */
  private lineCut(text: string): number {
    return this.mask.safeCut(
      text,
      Math.min(MAX_LINE_BYTES, text.length - Math.max(0, this.mask.longest - 1)),
    );
  }
}

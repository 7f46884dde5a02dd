/**
 * The runner's structured log: one JSON object per line on stdout, with `time`, `level`, `event`
 * and the run (and task, attempt) it concerns, so CloudWatch Logs Insights can filter on fields and
 * a person can still read it. Secret values are replaced by `***` in every string, at any depth.
 */
import type { Logger } from '@sluice/core';

export type LogLevel = 'debug' | 'info' | 'warning' | 'error';

/** Fields of an event; values are JSON (undefined ones are left out). */
export type LogFields = Readonly<Record<string, unknown>>;

/** Writes the runner's events as JSON lines. */
export class JsonLog {
  constructor(
    private readonly context: LogFields,
    private readonly secrets: string[] = [],
    private readonly write: (line: string) => void = (line) => {
      process.stdout.write(line);
    },
  ) {}

  /** A log whose events also carry `fields` (e.g. `taskId`, `attempt`). */
  with(fields: LogFields): JsonLog {
    return new JsonLog({ ...this.context, ...fields }, this.secrets, this.write);
  }

  /** Masks `value` from now on, in this log and every log made from it. */
  setSecret(value: string): void {
    if (value.length > 0 && !this.secrets.includes(value)) {
      this.secrets.push(value);
      this.secrets.sort((a, b) => b.length - a.length);
    }
  }

  event(level: LogLevel, event: string, fields: LogFields = {}): void {
    const entry = { time: new Date().toISOString(), level, event, ...this.context, ...fields };
    this.write(`${JSON.stringify(this.mask(entry))}\n`);
  }

  info(event: string, fields?: LogFields): void {
    this.event('info', event, fields);
  }

  warning(event: string, fields?: LogFields): void {
    this.event('warning', event, fields);
  }

  error(event: string, fields?: LogFields): void {
    this.event('error', event, fields);
  }

  /** Core's Logger over this log: core's messages become `message` events. */
  asLogger(): Logger {
    return {
      debug: (message) => {
        this.event('debug', 'message', { message });
      },
      info: (message) => {
        this.event('info', 'message', { message });
      },
      warning: (message) => {
        this.event('warning', 'message', { message });
      },
      error: (message) => {
        this.event('error', 'message', { message });
      },
      setSecret: (value) => {
        this.setSecret(value);
      },
    };
  }

  private mask(value: unknown): unknown {
    if (typeof value === 'string') {
      let masked = value;
      for (const secret of this.secrets) masked = masked.split(secret).join('***');
      return masked;
    }
    if (Array.isArray(value)) return value.map((item) => this.mask(item));
    if (value !== null && typeof value === 'object') {
      const out: Record<string, unknown> = {};
      for (const [key, child] of Object.entries(value)) if (child !== undefined) out[key] = this.mask(child);
      return out;
    }
    return value;
  }
}

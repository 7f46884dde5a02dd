/**
 * The structured log of the runner and the broker: one JSON object per line on stdout, with `time`, `level`, `event`
 * and the run (and task, attempt) it concerns, so CloudWatch Logs Insights can filter on fields and
 * a person can still read it. Secret values are replaced by `***` in every string, at any depth.
 */
import type { Logger } from './logger.js';
import { SecretMask } from './secret-mask.js';

export type LogLevel = 'debug' | 'info' | 'warning' | 'error';

/** Fields of an event; values are JSON (undefined ones are left out). */
export type LogFields = Readonly<Record<string, unknown>>;

/**
 * Writes the runner's events as JSON lines. It holds the secret values the runner knows (one
 * {@link SecretMask}, shared by every log made from it), and everything else the runner writes —
 * task records, rejected messages, task logs — masks with the same values (`mask`, `secrets`).
 */
export class JsonLog {
  private readonly secretMask: SecretMask;

  constructor(
    private readonly context: LogFields,
    secrets: readonly string[] | SecretMask = [],
    private readonly write: (line: string) => void = (line) => {
      process.stdout.write(line);
    },
  ) {
    this.secretMask = secrets instanceof SecretMask ? secrets : new SecretMask(secrets);
  }

  /** A log whose events also carry `fields` (e.g. `taskId`, `attempt`). */
  with(fields: LogFields): JsonLog {
    return new JsonLog({ ...this.context, ...fields }, this.secretMask, this.write);
  }

  /** Masks `value` from now on, in this log and every log made from it. */
  setSecret(value: string): void {
    this.secretMask.add(value);
  }

  /** The secret values masked, longest first. */
  get secrets(): readonly string[] {
    return this.secretMask.values;
  }

  /** A copy of `value` with every secret value replaced by `***` in every string, at any depth. */
  mask<T>(value: T): T {
    return this.secretMask.deep(value);
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
}

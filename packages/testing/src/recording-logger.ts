// A Logger that keeps what it was told, for tests that check what a step logs and what it masks.
import type { Logger } from '@sluice/core';

/** A level a {@link Logger} writes at. */
export type LogLevel = 'debug' | 'info' | 'warning' | 'error';

/**
 * A {@link Logger} that records every message (in `lines`, and with its level in `entries`) and
 * every value it was asked to mask (in `secrets`).
 *
 * @example
 * const logger = new RecordingLogger();
 * await registry.login(engine, { logger });
 * expect(logger.secrets).toContain(token);
 * expect(logger.lines.join('\n')).not.toContain(token);
 */
export class RecordingLogger implements Logger {
  readonly lines: string[] = [];
  readonly entries: { readonly level: LogLevel; readonly message: string }[] = [];
  readonly secrets: string[] = [];

  debug(message: string): void {
    this.record('debug', message);
  }

  info(message: string): void {
    this.record('info', message);
  }

  warning(message: string): void {
    this.record('warning', message);
  }

  error(message: string): void {
    this.record('error', message);
  }

  setSecret(value: string): void {
    this.secrets.push(value);
  }

  /** The messages logged at `level`. */
  at(level: LogLevel): string[] {
    return this.entries.filter((entry) => entry.level === level).map((entry) => entry.message);
  }

  private record(level: LogLevel, message: string): void {
    this.lines.push(message);
    this.entries.push({ level, message });
  }
}

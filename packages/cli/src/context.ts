import type { ExitCode } from './exit-codes.js';
import type { CliIo } from './io.js';

/** What every command gets: the outside world, and where to leave its exit status. */
export interface CommandContext {
  readonly io: CliIo;
  exitCode: ExitCode;
}

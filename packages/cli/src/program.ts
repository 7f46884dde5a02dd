import { InterruptedError, SluiceError, isConfigurationError, toError } from '@sluice/core';
import { Command, CommanderError } from 'commander';
import { closeLocalBrokers } from '@sluice/orchestrator';

import { registerCancel } from './commands/cancel.js';
import { registerCollect } from './commands/collect.js';
import { registerDispatch } from './commands/dispatch.js';
import { registerIam } from './commands/iam.js';
import { registerInit } from './commands/init.js';
import { registerLogs } from './commands/logs.js';
import { registerProvision } from './commands/provision.js';
import { registerRun } from './commands/run.js';
import { registerRuns } from './commands/runs.js';
import { registerServe } from './commands/serve.js';
import { registerStatus } from './commands/status.js';
import { registerTeardown } from './commands/teardown.js';
import { registerTry } from './commands/try.js';
import { registerValidate } from './commands/validate.js';
import { registerWrap } from './commands/wrap.js';
import type { CommandContext } from './context.js';
import { ExitCode } from './exit-codes.js';
import type { CliIo } from './io.js';
import { VERSION } from './version.js';

const EXAMPLES = `
Examples:
  $ sluice validate algorithm.json job.json
  $ sluice validate --json examples/jobs/*.json
  $ sluice run job.json --upload ./photos
  $ sluice help validate

Exit status: 0 done and valid, 2 invalid input (a file or the command line), 1 sluice itself failed.
`;

/** Builds the command tree. Each command lives in its own module under commands/. */
export function createProgram(context: CommandContext): Command {
  const program = new Command('sluice')
    .description(
      'Run a containerized algorithm over every file in an S3 bucket, locally or on AWS ECS.\n' +
        'Validate, try, wrap, and run the whole chain on this machine (local backend) or on ECS.',
    )
    .version(VERSION, '-V, --version', 'print the version')
    .helpCommand('help [command]', 'show help for a command')
    // Before any subcommand is defined: subcommands inherit these two settings.
    .exitOverride()
    .configureOutput({ writeOut: context.io.out, writeErr: context.io.err })
    .showHelpAfterError('(run `sluice help` for usage)')
    .addHelpText('after', EXAMPLES);
  registerInit(program, context);
  registerValidate(program, context);
  registerTry(program, context);
  registerWrap(program, context);
  registerRun(program, context);
  registerServe(program, context);
  registerProvision(program, context);
  registerDispatch(program, context);
  registerCollect(program, context);
  registerTeardown(program, context);
  registerStatus(program, context);
  registerLogs(program, context);
  registerRuns(program, context);
  registerCancel(program, context);
  registerIam(program, context);
  return program;
}

/**
 * Runs the CLI on `args` (without `node` and the script) and resolves to the exit status.
 * Never rejects: a usage error is 2, a fault is reported on stderr and is 1.
 */
export async function runCli(args: readonly string[], io: CliIo): Promise<ExitCode> {
  const context: CommandContext = { io, exitCode: ExitCode.ok };
  try {
    await createProgram(context).parseAsync([...args], { from: 'user' });
    return context.exitCode;
  } catch (thrown) {
    // Commander has printed its message already (help, version or a usage error).
    if (thrown instanceof CommanderError) return thrown.exitCode === 0 ? ExitCode.ok : ExitCode.invalid;
    if (isConfigurationError(thrown)) {
      io.err(`sluice: ${thrown.message}\n`);
      return ExitCode.invalid;
    }
    if (thrown instanceof InterruptedError) {
      io.err(`sluice: ${thrown.message}\n`);
      return ExitCode.interrupted;
    }
    const error = toError(thrown);
    // sluice's own errors say what failed and what to check; a stack only helps with a bug.
    if (error instanceof SluiceError && !('SLUICE_DEBUG' in process.env)) {
      io.err(`sluice: error: ${error.message}\n(set SLUICE_DEBUG=1 for the stack trace)\n`);
    } else {
      io.err(`sluice: internal error: ${error.message}\n${error.stack ?? ''}\n`);
    }
    return ExitCode.fault;
  } finally {
    // A command that started a sealed run's broker stops serving it as it ends (else the runners'
    // long polls would keep this process alive).
    await closeLocalBrokers();
  }
}

// A CommandRunner that answers from a script instead of starting processes, and remembers every
// call: unit tests of the engine CLI adapter, engine detection and the Node runtime run on it.
import {
  CommandNotFoundError,
  type CommandOptions,
  type CommandResult,
  type CommandRunner,
} from '@sluice/core/compute';

/** One command the fake was asked to run. */
export interface CommandCall {
  readonly file: string;
  readonly args: readonly string[];
  readonly options: CommandOptions;
}

/** The answer to a call: fields of the result (exit code 0 and empty output by default), or `'missing'` for a program not on PATH. */
export type CommandScript = (call: CommandCall) => Partial<CommandResult> | 'missing';

/**
 * A {@link CommandRunner} that answers from a script and remembers what it was asked.
 *
 * @example
 * const runner = new FakeCommandRunner((call) => (call.args[0] === 'ps' ? { stdout: 'c1\n' } : {}));
 * await new CliContainerEngine({ kind: 'podman', runner }).listContainers('org.sluice.run=r1');
 * expect(runner.calls[0]?.args[0]).toBe('ps');
 */
export class FakeCommandRunner implements CommandRunner {
  readonly calls: CommandCall[] = [];

  constructor(private readonly script: CommandScript = () => ({})) {}

  /** @throws {CommandNotFoundError} when the script answers `'missing'`. */
  run(file: string, args: readonly string[], options: CommandOptions = {}): Promise<CommandResult> {
    const call = { file, args, options };
    this.calls.push(call);
    const answer = this.script(call);
    if (answer === 'missing') return Promise.reject(new CommandNotFoundError(file));
    return Promise.resolve({ exitCode: 0, stdout: '', stderr: '', ...answer });
  }

  /** Every call as one line, `file arg1 arg2 …`. */
  commandLines(): string[] {
    return this.calls.map((call) => [call.file, ...call.args].join(' '));
  }
}

/**
 * The host tools `prepareNodeRuntime` asks about a Node binary: `node --version` answers `version`,
 * anything else (`ldd node`) answers `ldd`.
 *
 * @example
 * const runner = fakeHostTools(`\tlibc.so.6 => ${dir}/libc.so.6 (0x1)\n\t${dir}/ld-linux-x86-64.so.2 (0x1)\n`);
 * await prepareNodeRuntime({ platform: hostPlatform(), cacheDir, hostNode: `${dir}/node`, runner });
 */
export function fakeHostTools(ldd: string, version = 'v24.99.1'): FakeCommandRunner {
  return new FakeCommandRunner((call) => ({ stdout: call.args[0] === '--version' ? `${version}\n` : ldd }));
}

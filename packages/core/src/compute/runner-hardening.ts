// How a runner container is locked down, locally (LocalWorkers) and on ECS (the task definition):
// every capability dropped but the few the runner needs, no new privileges, a pids limit, and
// writable mounts exactly where the runner and the algorithm write (the runner's work directory
// under /tmp, the manifest's input and output), so the root filesystem can be read-only when the
// manifest allows it.
//
// The runner is root and holds credentials; the algorithm runs under another uid/gid (its image's
// non-root USER, else 65532) and so has no capability at all: the kernel clears the permitted and
// effective sets when a process's uids all become non-zero (capabilities(7)), and no-new-privileges
// keeps a setuid program or file capability from giving any back. Without CAP_SYS_PTRACE and as
// another uid it cannot read the runner's /proc/<pid>/environ, nor signal or trace the runner.
//
// What the runner needs back, found by running the wrapped runner under podman with
// --cap-drop=ALL and each one removed in turn (RUNNER_CAPABILITIES below says why each): without
// SETUID, SETGID or CHOWN no task runs; KILL is needed only to stop another uid's processes (time-out,
// abort, leftovers) and DAC_OVERRIDE only for what an algorithm made private, so a plain task runs
// without either, but neither stop nor clean-up would then work.
import { ConfigurationError } from '../errors.js';
import type { Manifest } from '../schemas/manifest.js';
import type { RunContainerOptions } from './container-engine.js';

/**
 * The runner container's process limit (`--pids-limit`; threads count). High enough for a runner
 * (Node: about a dozen threads) beside a multi-threaded algorithm on a large host (thread pools of
 * one thread per core, several libraries each), low enough to stop a fork bomb before it takes the
 * host's process table. podman's own default, so docker users get what podman users get.
 */
export const RUNNER_PIDS_LIMIT = 2048;

/** Where the runner's work directory (task logs) lives: `os.tmpdir()` inside the image. */
export const RUNNER_TEMP_DIRECTORY = '/tmp';

type Locations = Pick<Manifest, 'input' | 'output' | 'readOnlyRootFilesystem'>;

/** The directory a location needs writable: itself for a directory, its parent for a file. */
function directoryOf(location: Manifest['input']): string {
  return location.kind === 'directory'
    ? location.path
    : location.path.slice(0, location.path.lastIndexOf('/'));
}

/**
 * The directories the runner and the algorithm write to, each mounted writable: /tmp and the
 * directories of the input and the output. A location directly in `/` gets no mount (the runner
 * creates it with DAC_OVERRIDE); a directory inside another one needs no mount of its own.
 *
 * @example
 * runnerWritableDirectories({ input: { kind: 'directory', path: '/data/in' }, output: { kind: 'file', path: '/out/r.json' }, readOnlyRootFilesystem: true });
 * // ['/tmp', '/data/in', '/out']
 * @throws {ConfigurationError} when the root is read-only and a location lies directly in `/`.
 */
export function runnerWritableDirectories(manifest: Locations): string[] {
  const dirs = new Set<string>([RUNNER_TEMP_DIRECTORY]);
  for (const location of [manifest.input, manifest.output]) {
    const dir = directoryOf(location);
    if (dir !== '' && dir !== '/') dirs.add(dir);
    else if (manifest.readOnlyRootFilesystem) {
      throw new ConfigurationError(
        `algorithm.json: "readOnlyRootFilesystem": true needs the input and output in a directory below /, but ${location.path} is directly in /. Move it into a directory such as /data/.`,
      );
    }
  }
  return [...dirs].filter((dir) => ![...dirs].some((other) => other !== dir && dir.startsWith(`${other}/`)));
}

/**
 * The capabilities the runner (root) keeps, each for one reason. The algorithm, started under
 * another uid, has none of them.
 */
export const RUNNER_CAPABILITIES = {
  /** spawn with `gid` (setgid, and setgroups to drop root's supplementary groups). */
  SETGID: 'start the algorithm under its own gid',
  /** spawn with `uid`. */
  SETUID: 'start the algorithm under its own uid',
  /** process.kill(-pgid) and the sweep after a task reach processes of another uid only with it. */
  KILL: "stop the algorithm's process group (time-out, abort) and whatever it left after its task",
  /**
   * lchown/fchown of the input and output locations, to the algorithm's user and back to root (its
   * HOME too). Once root owns a directory again, changing its mode needs no CAP_FOWNER: not kept.
   */
  CHOWN: 'hand the workspace to the algorithm and take it back',
  /**
   * Open directories the algorithm made private (0700, 0500: umask 077) to take them back, read and
   * remove what it left whatever the modes, write its /proc/<pid>/oom_score_adj (owned by its uid;
   * without it the kernel's OOM killer no longer prefers the algorithm, silently), and create a
   * location in a FROM-scratch image's `/` (mode 0555).
   */
  DAC_OVERRIDE:
    "read and remove what the algorithm left, whatever its modes, and create the runner's directories",
} as const;

/**
 * Capabilities the runner gets back after dropping all: {@link RUNNER_CAPABILITIES}, sorted.
 *
 * @example
 * runnerCapabilities(); // ['CHOWN', 'DAC_OVERRIDE', 'KILL', 'SETGID', 'SETUID']
 * @throws never.
 */
export function runnerCapabilities(): string[] {
  return Object.keys(RUNNER_CAPABILITIES).sort();
}

/**
 * Every capability name ECS's KernelCapabilities accepts. Fargate accepts no `add` but SYS_PTRACE,
 * so on ECS the runner's set is reached by dropping every other capability instead of dropping
 * ALL and adding some back: the result is the same set on Fargate and on EC2.
 */
const ECS_CAPABILITY_NAMES = [
  'AUDIT_CONTROL',
  'AUDIT_WRITE',
  'BLOCK_SUSPEND',
  'CHOWN',
  'DAC_OVERRIDE',
  'DAC_READ_SEARCH',
  'FOWNER',
  'FSETID',
  'IPC_LOCK',
  'IPC_OWNER',
  'KILL',
  'LEASE',
  'LINUX_IMMUTABLE',
  'MAC_ADMIN',
  'MAC_OVERRIDE',
  'MKNOD',
  'NET_ADMIN',
  'NET_BIND_SERVICE',
  'NET_BROADCAST',
  'NET_RAW',
  'SETFCAP',
  'SETGID',
  'SETPCAP',
  'SETUID',
  'SYS_ADMIN',
  'SYS_BOOT',
  'SYS_CHROOT',
  'SYS_MODULE',
  'SYS_NICE',
  'SYS_PACCT',
  'SYS_PTRACE',
  'SYS_RAWIO',
  'SYS_RESOURCE',
  'SYS_TIME',
  'SYS_TTY_CONFIG',
  'SYSLOG',
  'WAKE_ALARM',
] as const;

/**
 * The ECS task definition's `linuxParameters.capabilities`: every capability ECS names dropped
 * except {@link RUNNER_CAPABILITIES}, and none added (Fargate refuses adding any but SYS_PTRACE).
 *
 * @example
 * ecsRunnerCapabilities().drop?.includes('SYS_PTRACE'); // true
 * @throws never.
 */
export function ecsRunnerCapabilities(): { readonly drop: string[] } {
  const keep = new Set(runnerCapabilities());
  return { drop: ECS_CAPABILITY_NAMES.filter((name) => !keep.has(name)) };
}

/**
 * The hardening part of a local runner container's options: all capabilities dropped (and
 * {@link runnerCapabilities} added back), no new privileges, {@link RUNNER_PIDS_LIMIT}, the
 * manifest's read-only root, /tmp as tmpfs and the input/output directories as scratch volumes
 * (on disk, as on ECS: an input may be larger than the memory limit tmpfs counts against).
 *
 * @example
 * engine.runDetached({ image, ...hardenedRunOptions(manifest) });
 * @throws {ConfigurationError} when the root is read-only and a location lies directly in `/`.
 */
export function hardenedRunOptions(
  manifest: Locations,
): Pick<
  RunContainerOptions,
  | 'capDrop'
  | 'capAdd'
  | 'noNewPrivileges'
  | 'pidsLimit'
  | 'readOnlyRootFilesystem'
  | 'tmpfs'
  | 'scratchVolumes'
> {
  const capAdd = runnerCapabilities();
  const directories = runnerWritableDirectories(manifest);
  return {
    capDrop: ['ALL'],
    capAdd,
    noNewPrivileges: true,
    pidsLimit: RUNNER_PIDS_LIMIT,
    readOnlyRootFilesystem: manifest.readOnlyRootFilesystem,
    tmpfs: directories.filter((dir) => dir === RUNNER_TEMP_DIRECTORY),
    scratchVolumes: directories.filter((dir) => dir !== RUNNER_TEMP_DIRECTORY),
  };
}

// Running the algorithm as another user than the runner. Inside a wrapped image the runner is root
// and holds credentials in its environment; the algorithm runs under an unprivileged uid/gid, so it
// cannot read the runner's /proc/<pid>/environ (owned by root, mode 0400, and guarded by the
// kernel's ptrace access check), signal or trace the runner. A process that changes its uid away
// from 0 loses every capability (capabilities(7): permitted and effective sets are cleared when all
// of the real, effective and saved uids become non-zero), and no-new-privileges keeps a setuid
// program or file capability from giving any back.
//
// The workspace moves between the two: before a task the runner hands the input and output
// locations to the algorithm's user; before it reads results or empties the workspace it takes
// them back, top-down, so a process the algorithm left behind cannot swap an entry for a link
// while root works on it.
import { constants } from 'node:fs';
import { chown, lchown, lstat, mkdir, open, readFile, readdir } from 'node:fs/promises';
import { dirname, join } from 'node:path';

/**
 * Who the algorithm runs as. `home` becomes its `HOME` and is created (owned by the user) when
 * missing. Only a runner running as root can switch: elsewhere (host processes in tests, `sluice
 * try` on the host) no `runAs` is given and the algorithm runs as the caller, as it always did.
 */
export interface RunAs {
  readonly uid: number;
  readonly gid: number;
  readonly home: string;
}

/** The spawn options that switch the child to the user (none without one). */
export function spawnIdentity(runAs: RunAs | undefined): { uid?: number; gid?: number } {
  return runAs === undefined ? {} : { uid: runAs.uid, gid: runAs.gid };
}

/** The algorithm's environment with `HOME` set to the user's home (unchanged without a user). */
export function environmentFor(
  env: Readonly<Record<string, string>>,
  runAs: RunAs | undefined,
): Record<string, string> {
  return runAs === undefined ? { ...env } : { ...env, HOME: runAs.home };
}

/**
 * Creates the user's home when it is missing, owned by the user and private to it. Best effort: a
 * home the image names where nothing can be created (a read-only root) stays missing, as it would
 * when the image ran by itself; sluice's own default home is under /tmp, which is always writable.
 */
export async function prepareHome(runAs: RunAs | undefined): Promise<void> {
  if (runAs === undefined) return;
  if ((await lstat(runAs.home).catch(() => undefined)) !== undefined) return;
  try {
    // Only the home itself is private: the directories above it must stay traversable.
    await mkdir(dirname(runAs.home), { recursive: true });
    await mkdir(runAs.home, { mode: 0o700 });
    await chown(runAs.home, runAs.uid, runAs.gid);
  } catch {
    // See above: the algorithm then meets the same missing home it would meet without sluice.
  }
}

/** True when this process is root, the only case in which it switches users and owns the workspace. */
export function runnerIsRoot(): boolean {
  return process.getuid?.() === 0;
}

/**
 * Takes a directory tree back for root, top-down: each directory is opened without following a
 * link, made root's and mode 0755 before its entries are visited, so once a directory is locked
 * nothing but root can add, rename or replace what is in it. Files and links are `lchown`ed (never
 * followed). A missing path is fine.
 */
export async function reclaimTree(path: string): Promise<void> {
  const info = await lstat(path).catch(() => undefined);
  if (info === undefined) return;
  if (!info.isDirectory()) {
    await lchown(path, 0, 0);
    return;
  }
  const handle = await open(path, constants.O_RDONLY | constants.O_DIRECTORY | constants.O_NOFOLLOW);
  try {
    await handle.chown(0, 0);
    await handle.chmod(0o755);
  } finally {
    await handle.close();
  }
  for (const entry of await readdir(path)) await reclaimTree(join(path, entry));
}

/** Gives one path (not what is below it) to the user, without following a link. */
export async function handOverPath(path: string, runAs: RunAs): Promise<void> {
  await lchown(path, runAs.uid, runAs.gid);
}

/**
 * Kills every process of `uid` this process can see (a container's own pid namespace: the
 * algorithm's processes, including any that left its process group). Needs CAP_KILL for another
 * uid's processes, which the runner has.
 */
export async function killProcessesOf(uid: number): Promise<number> {
  let killed = 0;
  for (const name of await readdir('/proc').catch(() => [])) {
    if (!/^\d+$/.test(name)) continue;
    const pid = Number(name);
    if (pid === process.pid) continue;
    const status = await readFile(`/proc/${name}/status`, 'utf8').catch(() => '');
    const real = /^Uid:\s+(\d+)/m.exec(status)?.[1];
    // A zombie is dead already: only its parent's wait removes it.
    if (real === undefined || Number(real) !== uid || /^State:\s+Z/m.test(status)) continue;
    try {
      process.kill(pid, 'SIGKILL');
      killed += 1;
    } catch {
      // Gone meanwhile.
    }
  }
  return killed;
}

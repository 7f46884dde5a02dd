import { writeFile } from 'node:fs/promises';

/** Sends a signal to a whole process group, so an algorithm's helper processes go with it. */
export function signalProcessGroup(pid: number | undefined, signal: NodeJS.Signals): void {
  if (pid === undefined) return;
  try {
    process.kill(-pid, signal);
  } catch {
    // The group is already gone.
  }
}

/** Raises a child's OOM score so the kernel kills it before the runner. Best effort: not all kernels allow it. */
export async function preferForOomKill(pid: number | undefined): Promise<void> {
  if (pid === undefined) return;
  try {
    await writeFile(`/proc/${pid}/oom_score_adj`, '1000');
  } catch {
    // Not Linux, or not permitted: the runner then relies on the memory limit alone.
  }
}

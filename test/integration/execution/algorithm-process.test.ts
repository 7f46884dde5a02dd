// runAlgorithm with real commands (/bin/sh): the environment it is given, time limits, aborts, a
// program that cannot start, a SIGKILL it did not send, helpers it leaves behind.
import { describe, expect, it } from '@jest/globals';
import { access, mkdtemp, readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { TaskLog, runAlgorithm, type AlgorithmOutcome } from '@sluice/core';

async function newLog(): Promise<{ log: TaskLog; path: string }> {
  const path = join(await mkdtemp(join(tmpdir(), 'sluice-alg-')), 'task.log');
  return { log: new TaskLog(path), path };
}

describe('runAlgorithm', () => {
  it('runs the command with exactly the given environment and captures its output', async () => {
    const { log, path } = await newLog();
    const outcome = await runAlgorithm({
      command: ['/bin/sh', '-c', 'echo "size=$SIZE home=${HOME:-none}"; echo warn >&2; exit 3'],
      env: { SIZE: '128', PATH: '/usr/bin:/bin' },
      timeoutMs: 10_000,
      log,
    });
    await log.close();
    expect(outcome).toMatchObject({ exitCode: 3, signal: null, timedOut: false, outOfMemory: false });
    const text = await readFile(path, 'utf8');
    expect(text).toContain('[stdout] size=128 home=none');
    expect(text).toContain('[stderr] warn');
  });

  it('stops an algorithm that runs past its time limit, with its children', async () => {
    const { log, path } = await newLog();
    const outcome = await runAlgorithm({
      command: ['/bin/sh', '-c', 'sleep 30 & sleep 30; echo never'],
      env: { PATH: '/usr/bin:/bin' },
      timeoutMs: 300,
      log,
    });
    await log.close();
    expect(outcome.timedOut).toBe(true);
    expect(outcome.outOfMemory).toBe(false);
    expect(outcome.durationMs).toBeLessThan(10_000);
    expect(await readFile(path, 'utf8')).toContain('time limit of 0 s reached');
  });

  it('reports a program that cannot start', async () => {
    const { log } = await newLog();
    const outcome = await runAlgorithm({ command: ['/no/such/program'], env: {}, timeoutMs: 1000, log });
    await log.close();
    expect(outcome.startError).toContain('/no/such/program');
    expect(outcome.exitCode).toBeNull();
  });

  /** Runs `sleep 30` with a signal that `abort` aborts. */
  async function sleepAborted(abort: (controller: AbortController) => void): Promise<AlgorithmOutcome> {
    const { log } = await newLog();
    const controller = new AbortController();
    abort(controller);
    const outcome = await runAlgorithm({
      command: ['/bin/sh', '-c', 'sleep 30'],
      env: { PATH: '/usr/bin:/bin' },
      timeoutMs: 60_000,
      log,
      signal: controller.signal,
    });
    await log.close();
    return outcome;
  }

  it('stops the algorithm when aborted', async () => {
    const outcome = await sleepAborted((controller) => {
      setTimeout(() => {
        controller.abort();
      }, 200);
    });
    expect(outcome).toMatchObject({ aborted: true, timedOut: false, signal: 'SIGTERM' });
  });

  it('stops the algorithm at once when the abort came while it was being started', async () => {
    const outcome = await sleepAborted((controller) => {
      controller.abort();
    });
    expect(outcome).toMatchObject({ aborted: true, timedOut: false, signal: 'SIGTERM' });
    expect(outcome.durationMs).toBeLessThan(10_000);
  });

  it('calls a SIGKILL it did not send an out-of-memory kill', async () => {
    const { log } = await newLog();
    const outcome = await runAlgorithm({
      command: ['/bin/sh', '-c', 'kill -9 $$'],
      env: {},
      timeoutMs: 10_000,
      log,
    });
    await log.close();
    expect(outcome).toMatchObject({ signal: 'SIGKILL', outOfMemory: true });
  });

  describe('a helper the algorithm leaves in the background', () => {
    /** Runs `script` with $OUT set to a fresh directory, then waits `afterMs`; says whether late.txt appeared. */
    async function lateFileAfter(
      script: string,
      afterMs = 1_000,
    ): Promise<{ late: boolean; outcome: AlgorithmOutcome }> {
      const { log } = await newLog();
      const out = await mkdtemp(join(tmpdir(), 'sluice-alg-out-'));
      const outcome = await runAlgorithm({
        command: ['/bin/sh', '-c', script],
        env: { PATH: '/usr/bin:/bin', OUT: out },
        timeoutMs: 10_000,
        log,
      });
      await log.close();
      await sleep(afterMs);
      const late = await access(join(out, 'late.txt')).then(
        () => true,
        () => false,
      );
      return { late, outcome };
    }

    it('is killed when the algorithm exits normally, so it cannot write into the next task', async () => {
      const { late, outcome } = await lateFileAfter(`(sleep 0.5; echo late > "$OUT/late.txt") & exit 0`);
      expect(outcome).toMatchObject({ exitCode: 0, timedOut: false, outOfMemory: false });
      expect(late).toBe(false);
    });

    it('is killed even when it let go of the output pipes', async () => {
      const { late, outcome } = await lateFileAfter(
        `(sleep 0.5; echo late > "$OUT/late.txt") >/dev/null 2>&1 & exit 0`,
      );
      expect(outcome.exitCode).toBe(0);
      expect(late).toBe(false);
    });

    it('does not hold the task when it left the process group and keeps the output open', async () => {
      const { log, path } = await newLog();
      const dir = await mkdtemp(join(tmpdir(), 'sluice-alg-'));
      const started = Date.now();
      const outcome = await runAlgorithm({
        command: [
          '/bin/sh',
          '-c',
          `setsid sh -c 'echo $$ > "${dir}/pid"; exec sleep 30' & sleep 0.2; exit 0`,
        ],
        env: { PATH: '/usr/bin:/bin' },
        timeoutMs: 60_000,
        log,
      });
      await log.close();
      const escaped = Number(await readFile(join(dir, 'pid'), 'utf8'));
      try {
        process.kill(escaped, 'SIGKILL');
      } catch {
        // gone already
      }
      expect(outcome.exitCode).toBe(0);
      expect(Date.now() - started).toBeLessThan(10_000);
      expect(await readFile(path, 'utf8')).toContain('left its process group');
    });
  });
});

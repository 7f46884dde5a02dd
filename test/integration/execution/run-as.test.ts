// The algorithm under another uid than the runner (`runAs`), with real processes: this test process
// plays the root runner. The algorithm cannot read the runner's /proc/<pid>/environ; the workspace
// is its for the run (input readable, output writable, HOME made) and root's again afterwards
// (results it made 0600 or 0500 are collected, the workspace empties, nothing it left keeps running);
// a time limit still stops its whole process group. A uid of its own per test run, so the sweep of
// the algorithm's leftover processes can never meet anybody else's.
import { chmod, lstat, mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { afterEach, beforeAll, beforeEach, describe, expect, it } from '@jest/globals';
import { TaskLog, TaskWorkspace, executeTask, runAlgorithm } from '@sluice/core';
import { manifest } from '../../../packages/core/src/execution/manifest-fixture.test-support.js';

const UID = 61_000 + (process.pid % 1000);
const RUN_AS = { uid: UID, gid: UID, home: '' };

describe('an algorithm run as another user', () => {
  let root: string;
  let runAs: typeof RUN_AS;
  beforeAll(() => {
    // Switching users needs root: this tier runs as root on the test bed; say so rather than skip.
    expect(process.getuid?.()).toBe(0);
  });
  beforeEach(async () => {
    root = await mkdtemp(join(tmpdir(), 'sluice-runas-'));
    // The path root stands for the container's `/`, which every user may traverse.
    await chmod(root, 0o755);
    runAs = { ...RUN_AS, home: join(root, 'tmp', 'sluice-home') };
  });
  afterEach(async () => {
    await rm(root, { recursive: true, force: true });
  });

  it("cannot read the runner's environment, and gets its uid, gid and a HOME of its own", async () => {
    const log = new TaskLog(join(root, 'task.log'));
    const secret = `runner-secret-${process.pid}`;
    process.env.SLUICE_TEST_RUNNER_SECRET = secret;
    try {
      const outcome = await runAlgorithm({
        command: [
          '/bin/sh',
          '-c',
          'id -u; id -g; echo "home=$HOME"; touch "$HOME/x" && echo home-writable; cat /proc/$PPID/environ || echo environ-denied',
        ],
        env: { PATH: '/usr/bin:/bin', HOME: '/root' },
        timeoutMs: 10_000,
        log,
        runAs,
      });
      await log.close();
      expect(outcome.exitCode).toBe(0);
    } finally {
      delete process.env.SLUICE_TEST_RUNNER_SECRET;
    }
    const text = await readFile(join(root, 'task.log'), 'utf8');
    expect(text).toContain(`[stdout] ${UID}\n`);
    expect(text).toContain(`home=${runAs.home}`);
    expect(text).toContain('home-writable');
    expect(text).toContain('environ-denied');
    expect(text).not.toContain(secret);
    expect((await lstat(runAs.home)).uid).toBe(UID);
  });

  it('works in a workspace handed to it, and leaves results root can read, a workspace root can empty', async () => {
    const m = manifest({
      command: [
        '/bin/sh',
        '-c',
        [
          'cat "$1" > "$2/copy"',
          'chmod 0600 "$2/copy"',
          'mkdir "$2/sub" && echo deep > "$2/sub/file" && chmod 0400 "$2/sub/file" && chmod 0500 "$2/sub"',
          'chmod 0700 "$2"',
          // A process that leaves the group, to outlive the task if nothing stops it.
          'setsid sleep 60 >/dev/null 2>&1 &',
        ].join('; '),
        'sh',
        '{input}',
        '{output}',
      ],
    });
    const workspace = new TaskWorkspace(m, root);
    await workspace.prepare();
    await writeFile(workspace.inputFileFor('a.txt'), 'payload');
    const log = new TaskLog(join(root, 'task.log'));

    const result = await executeTask({
      manifest: m,
      workspace,
      taskId: 't',
      key: 'a.txt',
      env: { PATH: '/usr/bin:/bin' },
      timeoutMs: 10_000,
      log,
      runAs,
    });
    await log.close();

    expect(result.verdict.ok).toBe(true);
    expect(result.outputs.map((o) => o.relativePath)).toEqual(['copy', 'sub/file']);
    expect(await readFile(join(workspace.outputPath, 'copy'), 'utf8')).toBe('payload');
    // Taken back: root's, and directories no longer writable by the algorithm.
    const output = await lstat(workspace.outputPath);
    expect({ uid: output.uid, mode: output.mode & 0o777 }).toEqual({ uid: 0, mode: 0o755 });
    expect((await lstat(join(workspace.outputPath, 'copy'))).uid).toBe(0);
    expect(await processesOf(UID)).toEqual([]);

    await workspace.prepare();
    expect(await readdir(workspace.outputPath)).toEqual([]);
    expect(await readdir(workspace.inputPath)).toEqual([]);
  });

  it("stops the algorithm's process group at the time limit", async () => {
    const log = new TaskLog(join(root, 'task.log'));
    const outcome = await runAlgorithm({
      command: ['/bin/sh', '-c', 'sleep 30 & sleep 30'],
      env: { PATH: '/usr/bin:/bin' },
      timeoutMs: 300,
      log,
      runAs,
    });
    await log.close();
    expect(outcome.timedOut).toBe(true);
    expect(outcome.durationMs).toBeLessThan(10_000);
    expect(await processesOf(UID)).toEqual([]);
  });
});

/** Pids of the live (not zombie) processes of `uid`, after up to 2 s for signals sent to land. */
async function processesOf(uid: number): Promise<number[]> {
  const deadline = Date.now() + 2000;
  for (;;) {
    const found: number[] = [];
    for (const name of await readdir('/proc')) {
      if (!/^\d+$/.test(name)) continue;
      const status = await readFile(`/proc/${name}/status`, 'utf8').catch(() => '');
      if (new RegExp(`^Uid:\\s+${uid}\\s`, 'm').test(status) && !/^State:\s+Z/m.test(status))
        found.push(Number(name));
    }
    if (found.length === 0 || Date.now() > deadline) return found;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

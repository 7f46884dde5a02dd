// executeTask with a real process algorithm (/bin/sh): placeholders, the end classified, an abort.
// The workspace and placeholder logic without a process is unit-tested beside task-execution.ts.
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { afterEach, beforeEach, describe, expect, it } from '@jest/globals';
import { TaskLog, TaskWorkspace, executeTask } from '@sluice/core';
import { manifest } from '../../../packages/core/src/execution/manifest-fixture.test-support.js';

describe('task execution with a process algorithm', () => {
  let root: string;
  beforeEach(async () => {
    root = await mkdtemp(join(tmpdir(), 'sluice-exec-'));
  });
  afterEach(async () => {
    await rm(root, { recursive: true, force: true });
  });

  it('runs a process algorithm with placeholders and classifies its end', async () => {
    const m = manifest({
      command: ['/bin/sh', '-c', 'cp "$1" "$2/copy"; exit "$CODE"', 'sh', '{input}', '{output}'],
    });
    const workspace = new TaskWorkspace(m, root);
    await workspace.prepare();
    await writeFile(workspace.inputFileFor('in/a b.txt'), 'payload');
    const run = async (code: string) => {
      const log = new TaskLog(join(root, `log-${code}`));
      const result = await executeTask({
        manifest: m,
        workspace,
        taskId: 't',
        key: 'in/a b.txt',
        env: { CODE: code, PATH: '/usr/bin:/bin' },
        timeoutMs: 5000,
        log,
      });
      await log.close();
      return result;
    };
    const ok = await run('0');
    expect(ok.verdict).toEqual({ ok: true, exitCode: 0 });
    expect(ok.outputs.map((o) => o.relativePath)).toEqual(['copy']);
    expect(await readFile(join(workspace.outputPath, 'copy'), 'utf8')).toBe('payload');
    const failed = await run('5');
    expect(failed.verdict).toEqual(
      expect.objectContaining({ ok: false, failureClass: 'algorithm-exit', exitCode: 5 }),
    );
    expect(failed.outputs).toEqual([]);
  });

  it('reports an aborted run as aborted, not as a failure class', async () => {
    const m = manifest({ command: ['/bin/sh', '-c', 'sleep 20'] });
    const workspace = new TaskWorkspace(m, root);
    await workspace.prepare();
    const controller = new AbortController();
    const log = new TaskLog(join(root, 'log'));
    setTimeout(() => {
      controller.abort();
    }, 200);
    const result = await executeTask({
      manifest: m,
      workspace,
      taskId: 't',
      key: 'k',
      env: {},
      timeoutMs: 10_000,
      log,
      signal: controller.signal,
    });
    await log.close();
    expect(result.aborted).toBe(true);
  });
});

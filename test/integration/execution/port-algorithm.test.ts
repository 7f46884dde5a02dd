// PortAlgorithm against a real server process (test/fixtures/algorithms/echo-server.mjs) on a loopback
// port: started once, fed 50 tasks, started again after a task kills it, a hung task timed out.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { PortAlgorithm, TaskLog } from '@sluice/core';
import { freeListenPort } from '../../testbed/servers.js';

const serverScript = fileURLToPath(new URL('../../fixtures/algorithms/echo-server.mjs', import.meta.url));

describe('PortAlgorithm', () => {
  let dir: string;
  let server: PortAlgorithm;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'sluice-port-'));
    const port = await freeListenPort();
    server = new PortAlgorithm({
      command: [process.execPath, serverScript],
      env: { PORT: String(port), PATH: process.env.PATH ?? '' },
      port,
    });
  });

  afterAll(async () => {
    await server.stop();
  });

  async function task(name: string, text: string, timeoutMs = 10_000) {
    const input = join(dir, `${name}.txt`);
    await writeFile(input, text);
    const logPath = join(dir, `${name}.log`);
    const log = new TaskLog(logPath);
    const outcome = await server.runTask({ taskId: name, input, output: join(dir, name) }, timeoutMs, log);
    await log.close();
    return { outcome, log: await readFile(logPath, 'utf8') };
  }

  it('starts once, feeds 50 tasks, survives a task that kills it, and a hung one', async () => {
    const startLog = new TaskLog(join(dir, 'start.log'));
    await server.start(startLog);
    await startLog.close();

    for (let i = 0; i < 25; i += 1) {
      const { outcome, log } = await task(`t${i}`, `file ${i}`);
      expect(outcome.status).toBe(200);
      expect(log).toContain(`[stdout] task t${i}: `);
      expect(await readFile(join(dir, `t${i}`, 'result.txt'), 'utf8')).toBe(`FILE ${i}`);
    }
    expect(server.restartCount).toBe(0);

    const killer = await task('killer', 'die');
    expect(killer.outcome).toMatchObject({ serverDied: true, timedOut: false });
    expect(killer.log).toContain('died during this task');

    const failing = await task('failing', 'fail');
    expect(failing.outcome.status).toBe(500);
    expect(failing.log).toContain('cannot read this one');
    expect(server.restartCount).toBe(1);

    const hung = await task('hung', 'hang', 500);
    expect(hung.outcome.timedOut).toBe(true);

    for (let i = 25; i < 50; i += 1) {
      const { outcome } = await task(`t${i}`, `file ${i}`);
      expect(outcome.status).toBe(200);
    }
    expect(server.restartCount).toBe(2);
  }, 60_000);
});

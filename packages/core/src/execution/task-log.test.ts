import { describe, expect, it } from '@jest/globals';
import { mkdtemp, readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { TaskLog } from './task-log.js';

async function tempLogPath(): Promise<string> {
  return join(await mkdtemp(join(tmpdir(), 'sluice-log-')), 'task.log');
}

describe('TaskLog', () => {
  it('prefixes lines with their stream and joins lines split across chunks', async () => {
    const path = await tempLogPath();
    const log = new TaskLog(path);
    log.write('stdout', 'hel');
    log.write('stdout', 'lo\nwor');
    log.write('stderr', Buffer.from('oops\n'));
    log.write('stdout', 'ld');
    await log.close();
    expect(await readFile(path, 'utf8')).toBe('[stdout] hello\n[stderr] oops\n[stdout] world\n');
  });

  it('masks secret values, the longer one first', async () => {
    const path = await tempLogPath();
    const log = new TaskLog(path, { secrets: ['abc', 'abcdef'] });
    log.write('stdout', 'key=abcdef and abc\n');
    await log.close();
    const text = await readFile(path, 'utf8');
    expect(text).toBe('[stdout] key=*** and ***\n');
    expect(log.tail()).toEqual(['[stdout] key=*** and ***']);
  });

  it('masks a secret that straddles the cut of an over-long line', async () => {
    const path = await tempLogPath();
    const secret = 'hunter2-very-secret';
    const log = new TaskLog(path, { secrets: [secret] });
    // 64 KiB + 1 characters end with the secret's first 7: the partial line is cut right there.
    const head = 'x'.repeat(64 * 1024 + 1 - 7);
    log.write('stdout', `${head}${secret.slice(0, 7)}`);
    log.write('stdout', `${secret.slice(7)} and more\n`);
    await log.close();
    const text = await readFile(path, 'utf8');
    const lines = text.split('\n').filter((l) => l !== '');
    expect(lines.length).toBeGreaterThan(1);
    // Neither a line nor the lines read together give the secret away.
    expect(lines.map((l) => l.replace(/^\[stdout\] /, '')).join('')).not.toContain(secret);
    expect(lines.join('')).not.toContain(secret.slice(0, 7));
    expect(text).toContain('*** and more');
    expect(log.tail().join('\n')).not.toContain(secret.slice(7));
  });

  it('still cuts a line that never ends, holding back no more than a secret', async () => {
    const path = await tempLogPath();
    const log = new TaskLog(path, { secrets: ['abcdef'] });
    for (let i = 0; i < 3; i += 1) log.write('stdout', 'y'.repeat(64 * 1024));
    log.write('stdout', 'abc');
    log.write('stdout', 'def\n');
    await log.close();
    const lines = (await readFile(path, 'utf8')).split('\n').filter((l) => l !== '');
    expect(lines.length).toBeGreaterThanOrEqual(3);
    expect(lines.every((l) => l.length <= 64 * 1024 + 20)).toBe(true);
    expect(lines.at(-1)).toMatch(/\*\*\*$/);
  });

  it('caps the size, notes the truncation and keeps the last lines', async () => {
    const path = await tempLogPath();
    const log = new TaskLog(path, { limitBytes: 1000 });
    for (let i = 0; i < 500; i += 1) log.write('stdout', `line ${i}\n`);
    const { truncated } = await log.close();
    const text = await readFile(path, 'utf8');
    expect(truncated).toBe(true);
    expect(text).toContain('[stdout] line 0\n');
    expect(text).toContain('log truncated at 1000 bytes');
    expect(text.trimEnd().endsWith('[stdout] line 499')).toBe(true);
    expect(text.length).toBeLessThan(4000);
    // No line appears twice: the kept tail is only what was left out.
    const lines = text.split('\n').filter((l) => l.startsWith('[stdout]'));
    expect(new Set(lines).size).toBe(lines.length);
  });
});

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

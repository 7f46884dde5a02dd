import { describe, expect, it } from '@jest/globals';

import { JsonLog } from './json-log.js';

describe('JsonLog', () => {
  it('masks secret values in every field, at any depth, in logs made from it too', () => {
    const lines: string[] = [];
    const log = new JsonLog({ runId: 'r' }, ['tok-secret'], (line) => lines.push(line));
    const task = log.with({ taskId: 't1' });
    task.error('task-error', { message: 'bad tok-secret', nested: { list: ['tok-secret'] } });
    // A value made secret later is masked in the parent and in every log made from it.
    log.setSecret('later-value');
    task.asLogger().warning('saw later-value');
    expect(lines.join('')).not.toMatch(/tok-secret|later-value/);
    expect(JSON.parse(lines[0] ?? '{}')).toMatchObject({
      taskId: 't1',
      message: 'bad ***',
      nested: { list: ['***'] },
    });
    expect(task.secrets).toEqual(['later-value', 'tok-secret']);
    expect(task.mask({ reason: 'x later-value' })).toEqual({ reason: 'x ***' });
  });
});

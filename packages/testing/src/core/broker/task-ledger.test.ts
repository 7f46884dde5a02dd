// The task record when two workers write it at once (a message delivered again while its first
// worker still runs): neither overwrites the other's attempt.
import { describe, expect, it } from '@jest/globals';
import { JsonLog, taskId, taskRecordKey, validateTaskRecord, type TaskAttempt } from '@sluice/core';
import { TaskLedger, type TaskRef } from '@sluice/core/broker';

import { FakeObjectStore } from '../../fake-object-store.js';

const RUN = 'unit-0123abcd';
const DIGEST = `sha256:${'0'.repeat(64)}`;

describe('TaskLedger.recordAttempt', () => {
  it('keeps both workers’ attempts when they record the same task at the same time', async () => {
    const store = new FakeObjectStore();
    await store.ensureBucket('output');
    const log = new JsonLog({}, [], () => undefined);
    const task: TaskRef = { sluice: 1, runId: RUN, bucket: 'input', key: 'in/a.txt', etag: 'e1', size: 3 };
    const id = taskId(task);
    const attempt = (workerId: string, exitCode: number): TaskAttempt => ({
      attempt: 1,
      workerId,
      startedAt: '2026-11-24T10:00:00.000Z',
      endedAt: '2026-11-24T10:00:05.000Z',
      phases: {},
      exitCode,
    });
    const workers = ['worker-a', 'worker-b', 'worker-c'].map(
      (worker) => [worker, new TaskLedger(store, RUN, 'output', DIGEST, log)] as const,
    );

    await Promise.all(
      workers.map(([worker, ledger], i) =>
        ledger.recordAttempt(task, id, attempt(worker, i), i === 0 ? 'succeeded' : 'running', {
          holder: 'keep',
        }),
      ),
    );

    const stored = await store.getJson({ bucket: 'output', key: taskRecordKey(RUN, id) });
    const record = validateTaskRecord(stored?.value, 'the task record');
    expect(record.attempts.map((a) => a.workerId).sort()).toEqual(['worker-a', 'worker-b', 'worker-c']);
    // Whoever wrote last, the success stands.
    expect(record.status).toBe('succeeded');
  });
});

describe('TaskLedger masks what it writes', () => {
  const SECRET = 'tok-3f9a-very-secret';
  const task: TaskRef = { sluice: 1, runId: RUN, bucket: 'input', key: 'in/a.txt', etag: 'e1', size: 3 };

  it('masks the secret values the runner knows in an attempt’s message', async () => {
    const store = new FakeObjectStore();
    await store.ensureBucket('output');
    const log = new JsonLog({}, [SECRET], () => undefined);
    const ledger = new TaskLedger(store, RUN, 'output', DIGEST, log);
    const id = taskId(task);
    await ledger.recordAttempt(
      task,
      id,
      {
        attempt: 1,
        workerId: 'w',
        startedAt: '2026-11-24T10:00:00.000Z',
        phases: {},
        failureClass: 'algorithm-exit',
        message: `the algorithm server answered 500: bad token ${SECRET}`,
      },
      'failed',
      { holder: 'clear' },
    );
    const stored = await store.getText({ bucket: 'output', key: taskRecordKey(RUN, id) });
    expect(stored?.text).not.toContain(SECRET);
    expect(validateTaskRecord(JSON.parse(stored?.text ?? '{}'), 'record').attempts[0]?.message).toBe(
      'the algorithm server answered 500: bad token ***',
    );
  });

  it('masks them in a rejected message set aside', async () => {
    const store = new FakeObjectStore();
    await store.ensureBucket('output');
    const ledger = new TaskLedger(store, RUN, 'output', DIGEST, new JsonLog({}, [SECRET], () => undefined));
    const key = await ledger.reject(
      'm-1',
      `not JSON: {"token": "${SECRET}"`,
      `{"token": "${SECRET}"`,
      new Date(),
    );
    const stored = await store.getText({ bucket: 'output', key });
    expect(stored?.text).toContain('***');
    expect(stored?.text).not.toContain(SECRET);
  });
});

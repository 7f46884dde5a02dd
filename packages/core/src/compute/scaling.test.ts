import { describe, expect, it } from '@jest/globals';

import { taskBacklog, workersToStart } from './scaling.js';

describe('workersToStart', () => {
  it.each([
    // backlog, running, max, min → start
    [0, 0, 4, 0, 0],
    [1, 0, 4, 0, 1],
    [25, 3, 10, 0, 7],
    [25, 10, 10, 0, 0],
    [3, 5, 10, 0, 0],
    [0, 0, 10, 2, 2],
    [0, 1, 10, 2, 1],
    [5, 0, 3, 4, 3],
    [-1, Number.NaN, 4, 0, 0],
  ])('backlog %d, running %d, max %d, min %d → %d', (backlog, running, maxWorkers, minWorkers, expected) => {
    expect(workersToStart({ backlog, running, maxWorkers, minWorkers })).toBe(expected);
  });
});

describe('workersToStart with several tasks per worker', () => {
  it.each([
    // backlog, running, max, min, tasks per worker → start
    [25, 3, 10, 0, 4, 4], // ceil(25 / 4) = 7 workers hold the backlog, 3 run
    [8, 0, 10, 0, 4, 2],
    [9, 0, 10, 0, 4, 3],
    [1, 0, 10, 0, 4, 1],
    [100, 0, 10, 0, 4, 10], // capped at maxWorkers
    [0, 0, 10, 2, 4, 2], // minWorkers counts workers, not tasks
    [5, 0, 10, 0, 0, 5], // below 1 counts as 1
  ])(
    'backlog %d, running %d, max %d, min %d, %d per worker → %d',
    (backlog, running, maxWorkers, minWorkers, tasksPerWorker, expected) => {
      expect(workersToStart({ backlog, running, maxWorkers, minWorkers, tasksPerWorker })).toBe(expected);
    },
  );
});

describe('taskBacklog', () => {
  it('counts visible, in-flight and delayed messages: delayed ones are retries waiting out their backoff', () => {
    expect(taskBacklog({ visible: 3, inFlight: 2, delayed: 1 })).toBe(6);
    expect(taskBacklog({ visible: 0, inFlight: 0, delayed: 4 })).toBe(4);
    expect(taskBacklog({ visible: -1, inFlight: Number.NaN, delayed: 2.5 })).toBe(2);
  });
});

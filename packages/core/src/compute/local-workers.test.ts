import { describe, expect, it } from '@jest/globals';

import { localWorkerLimits } from './local-workers.js';

describe('localWorkerLimits', () => {
  it('keeps maxWorkers and minWorkers for a process algorithm', () => {
    expect(localWorkerLimits({ maxWorkers: 4, minWorkers: 2 }, { name: 'thumbs' })).toEqual({
      workers: 4,
      minWorkers: 2,
    });
  });

  it('runs one runner at a time for a port algorithm, and says why', () => {
    const limits = localWorkerLimits({ maxWorkers: 4, minWorkers: 2 }, { name: 'ocr', port: 8080 });
    expect(limits).toMatchObject({ workers: 1, minWorkers: 1 });
    expect(limits.note).toMatch(/ocr is a server on port 8080: .*share the host's network.*maxWorkers 4 → 1/);
  });

  it('says nothing when a port algorithm asks for one runner anyway', () => {
    expect(localWorkerLimits({ maxWorkers: 1, minWorkers: 0 }, { name: 'ocr', port: 8080 })).toEqual({
      workers: 1,
      minWorkers: 0,
    });
  });
});

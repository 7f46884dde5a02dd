import { describe, expect, it } from '@jest/globals';

import { ValidationError } from '../errors.js';
import { crossCheckJob } from './rules.js';
import { normalizeJob, type RawJob } from './job.js';
import { normalizeManifest } from './manifest.js';
import { explainWorkerSize, fargateMemoryWords, workerSize, type WorkerSizeCompute } from './worker-size.js';

// 896 MiB + the runner's 128 = 1024 MiB and 0.5 vCPU per task.
const manifest = { memoryMiB: 896, cpu: 0.5, gpu: 0 } as const;
const ecs = (compute: Partial<WorkerSizeCompute> = {}): WorkerSizeCompute => ({
  backend: 'ecs',
  launchType: 'FARGATE',
  ...compute,
});

function problemsOf(result: ReturnType<typeof explainWorkerSize>) {
  if (!('problems' in result)) throw new Error(`expected problems, got ${JSON.stringify(result)}`);
  return result.problems;
}

describe('the worker size and tasks per worker', () => {
  it('is one task in the algorithm’s own size when the job says nothing', () => {
    expect(workerSize(manifest, ecs())).toEqual({ tasksPerWorker: 1 });
  });

  it('defaults tasksPerWorker to how many manifest-sized tasks fit in the worker size', () => {
    // min(2 / 0.5, 4096 / 1024) = 4
    expect(workerSize(manifest, ecs({ workerCpu: 2, workerMemoryMiB: 4096 }))).toEqual({
      tasksPerWorker: 4,
      size: { cpuUnits: 2048, memoryMiB: 4096 },
    });
    // min(4 / 0.5, 8192 / 1024) = 8; then cpu is the bound: min(2 / 0.5, 5120 / 1024) = 4
    expect(workerSize(manifest, ecs({ workerCpu: 4, workerMemoryMiB: 8192 })).tasksPerWorker).toBe(8);
    expect(workerSize(manifest, ecs({ workerCpu: 2, workerMemoryMiB: 5120 })).tasksPerWorker).toBe(4);
    // and memory: min(4 / 0.5, 9216 / 1024) = 8 … min(4 / 0.5, 10240 / 1024) capped by cpu at 8
    expect(workerSize(manifest, ecs({ workerCpu: 1, workerMemoryMiB: 3072 })).tasksPerWorker).toBe(2);
    // A manifest without cpu counts 0.25 vCPU a task: min(1 / 0.25, 8192 / 640) = 4
    expect(
      workerSize({ memoryMiB: 512, gpu: 0 }, ecs({ workerCpu: 1, workerMemoryMiB: 8192 })).tasksPerWorker,
    ).toBe(4);
  });

  it('caps the default at the 10 containers ECS allows in a task', () => {
    expect(
      workerSize({ memoryMiB: 128, cpu: 0.25, gpu: 0 }, ecs({ workerCpu: 16, workerMemoryMiB: 32768 }))
        .tasksPerWorker,
    ).toBe(10);
  });

  it('sizes the worker for an explicit tasksPerWorker: the smallest Fargate size holding them', () => {
    // 3 × (0.5 vCPU, 1024 MiB) = 1.5 vCPU, 3072 MiB → 2 vCPU, 4096 MiB
    expect(workerSize(manifest, ecs({ tasksPerWorker: 3 }))).toEqual({
      tasksPerWorker: 3,
      size: { cpuUnits: 2048, memoryMiB: 4096 },
    });
  });

  it('adds up the tasks on EC2 and for GPU algorithms, which Fargate’s table does not bind', () => {
    expect(workerSize(manifest, ecs({ launchType: 'EC2', tasksPerWorker: 3 }))).toEqual({
      tasksPerWorker: 3,
      size: { cpuUnits: 1536, memoryMiB: 3072 },
    });
    expect(workerSize(manifest, ecs({ launchType: 'EC2', workerCpu: 3, workerMemoryMiB: 3000 }))).toEqual({
      tasksPerWorker: 2,
      size: { cpuUnits: 3072, memoryMiB: 3000 },
    });
  });

  it('refuses an explicit tasksPerWorker that does not fit, saying where, what fits and how to fix it', () => {
    const [problem, ...rest] = problemsOf(
      explainWorkerSize(manifest, ecs({ tasksPerWorker: 5, workerCpu: 2, workerMemoryMiB: 4096 })),
    );
    expect(rest).toEqual([]);
    expect(problem).toMatchObject({ path: '$.compute.tasksPerWorker', expected: 'at most 4', found: '5' });
    expect(problem?.message).toContain('0.5 vCPU and 1024 MiB');
    expect(problem?.hint).toContain('Lower "tasksPerWorker" to 4');
    expect(problem?.hint).toContain('2.5 vCPU and 5120 MiB');
  });

  it('refuses a worker off the Fargate table, naming the valid values', () => {
    expect(problemsOf(explainWorkerSize(manifest, ecs({ workerCpu: 1, workerMemoryMiB: 1024 })))).toEqual([
      expect.objectContaining({
        path: '$.compute.workerMemory',
        expected: '2048–8192 MiB in steps of 1024',
        found: '1024 MiB',
      }),
    ]);
    expect(problemsOf(explainWorkerSize(manifest, ecs({ workerCpu: 3, workerMemoryMiB: 8192 })))).toEqual([
      expect.objectContaining({
        path: '$.compute.workerCpu',
        expected: '0.25, 0.5, 1, 2, 4, 8 or 16 vCPU',
      }),
    ]);
    expect(fargateMemoryWords(0.25)).toBe('512, 1024 or 2048 MiB');
    expect(fargateMemoryWords(16)).toBe('32768–122880 MiB in steps of 8192');
  });

  it('refuses a worker that holds no task, and a size given by half', () => {
    expect(problemsOf(explainWorkerSize(manifest, ecs({ workerCpu: 0.25, workerMemoryMiB: 2048 })))).toEqual([
      expect.objectContaining({ path: '$.compute.workerCpu', expected: 'at least 0.5' }),
    ]);
    expect(problemsOf(explainWorkerSize(manifest, ecs({ workerCpu: 1 })))).toEqual([
      expect.objectContaining({
        path: '$.compute.workerCpu',
        hint: expect.stringContaining('2048–8192 MiB') as unknown as string,
      }),
    ]);
    expect(problemsOf(explainWorkerSize(manifest, ecs({ workerMemoryMiB: 4096 })))).toEqual([
      expect.objectContaining({ path: '$.compute.workerMemory' }),
    ]);
  });

  it('refuses more tasks than the largest Fargate size holds', () => {
    const big = { memoryMiB: 30_000, cpu: 4, gpu: 0 };
    expect(problemsOf(explainWorkerSize(big, ecs({ tasksPerWorker: 5 })))).toEqual([
      expect.objectContaining({ path: '$.compute.tasksPerWorker', expected: 'at most 4', found: '5' }),
    ]);
  });

  it('runs one task per worker of a port algorithm on ECS, and refuses more', () => {
    const server = { ...manifest, port: 8080 };
    expect(workerSize(server, ecs({ workerCpu: 2, workerMemoryMiB: 4096 })).tasksPerWorker).toBe(1);
    expect(problemsOf(explainWorkerSize(server, ecs({ tasksPerWorker: 2 })))).toEqual([
      expect.objectContaining({ path: '$.compute.tasksPerWorker', expected: '1', found: '2' }),
    ]);
  });

  it('is the job’s tasksPerWorker, or 1, on the local backend', () => {
    expect(workerSize(manifest, { backend: 'local', launchType: 'FARGATE' })).toEqual({ tasksPerWorker: 1 });
    expect(
      workerSize({ ...manifest, port: 8080 }, { backend: 'local', launchType: 'FARGATE', tasksPerWorker: 3 }),
    ).toEqual({
      tasksPerWorker: 3,
    });
  });

  it('throws a ValidationError naming job.json and the path', () => {
    expect(() =>
      workerSize(manifest, ecs({ tasksPerWorker: 9, workerCpu: 2, workerMemoryMiB: 4096 })),
    ).toThrow(ValidationError);
    expect(() =>
      workerSize(manifest, ecs({ tasksPerWorker: 9, workerCpu: 2, workerMemoryMiB: 4096 })),
    ).toThrow(/job\.json.*\$\.compute\.tasksPerWorker/);
  });

  it('is checked with the job against its manifest, in the job file', () => {
    const raw: RawJob = {
      name: 'thumbs',
      algorithm: 'thumbs@1.0',
      input: { bucket: 'in-bucket' },
      output: { bucket: 'out-bucket' },
      compute: { backend: 'ecs', tasksPerWorker: 6, workerCpu: 2, workerMemory: '4GiB' },
    };
    const job = normalizeJob(raw);
    expect(job.compute).toMatchObject({ tasksPerWorker: 6, workerCpu: 2, workerMemoryMiB: 4096 });
    const algorithm = normalizeManifest(
      { name: 'thumbs', version: '1.0', image: 'thumbs:1.0', memory: '896MiB', cpu: 0.5 },
      896,
    );
    expect(crossCheckJob(job, algorithm, { job: 'jobs/thumbs.json', manifest: 'algorithm.json' })).toEqual([
      expect.objectContaining({ file: 'jobs/thumbs.json', path: '$.compute.tasksPerWorker', found: '6' }),
    ]);
  });
});

// How many tasks one worker runs side by side, and how large the worker is: the job's
// `compute.tasksPerWorker`, `workerCpu` and `workerMemory` against the manifest's `cpu` and `memory`.
// The manifest's input and output are fixed container paths, so two tasks never share a container: a
// worker runs `tasksPerWorker` runner containers, each its own runner (workspace, lease, heartbeat,
// release on SIGTERM). One rule, used by the job checks (crossCheckJob), the ECS task definition
// (provision) and the local backend.
import { JOB_FILE, ValidationError, type Problem } from '../errors.js';
import type { Job } from './job.js';
import { jsonPath } from './json-path.js';
import type { Manifest } from './manifest.js';
import { fargateSizes, isFargateSize, RUNNER_OVERHEAD_MIB } from './memory.js';

/**
 * The most tasks one worker runs: ECS allows 10 containers in a task definition, and a worker on ECS
 * is one task with a runner container per task.
 */
export const MAX_TASKS_PER_WORKER = 10;

/** vCPUs a task counts for when the manifest gives no `cpu`: Fargate's smallest size. */
export const DEFAULT_TASK_CPU = 0.25;

/** What a worker is: its tasks side by side and, on ECS, the task-level size holding them. */
export interface WorkerSize {
  /** Runner containers per worker, each working on one task at a time. */
  readonly tasksPerWorker: number;
  /**
   * The ECS task's size: cpu units (1024 = 1 vCPU) and MiB. Absent when the algorithm's own task
   * definition already has the size (one task per worker, no size in the job) and locally.
   */
  readonly size?: { readonly cpuUnits: number; readonly memoryMiB: number };
}

/** The job's compute settings this rule reads. */
export type WorkerSizeCompute = Pick<
  Job['compute'],
  'backend' | 'launchType' | 'tasksPerWorker' | 'workerCpu' | 'workerMemoryMiB'
>;

/** A problem of the rule, at a path of the job (`$.compute.…`). */
export type WorkerSizeProblem = Omit<Problem, 'file'>;

/** What one task needs of a worker: the manifest's cpu (or 0.25) and memory plus the runner's overhead. */
function perTask(manifest: Pick<Manifest, 'cpu' | 'memoryMiB'>): { cpu: number; memoryMiB: number } {
  return { cpu: manifest.cpu ?? DEFAULT_TASK_CPU, memoryMiB: manifest.memoryMiB + RUNNER_OVERHEAD_MIB };
}

/** The Fargate vCPU counts, in words. */
function fargateCpuWords(): string {
  const cpus = [...new Set(fargateSizes().map((size) => size.cpu))];
  return `${cpus.slice(0, -1).join(', ')} or ${cpus[cpus.length - 1] ?? ''} vCPU`;
}

/** Fargate's memory sizes for a vCPU count, in words: "512, 1024 or 2048 MiB", "2048–8192 MiB in steps of 1024". */
export function fargateMemoryWords(cpu: number): string {
  const memory = fargateSizes()
    .filter((size) => size.cpu === cpu)
    .map((size) => size.memoryMiB);
  const first = memory[0];
  const last = memory[memory.length - 1];
  if (first === undefined || last === undefined) return 'none';
  const step = (memory[1] ?? first) - first;
  const even = memory.every((value, index) => value === first + index * step);
  if (!even || memory.length <= 3) return `${memory.slice(0, -1).join(', ')} or ${last} MiB`;
  return `${first}–${last} MiB in steps of ${step}`;
}

function words(n: number, one: string, many: string): string {
  return `${n} ${n === 1 ? one : many}`;
}

/**
 * The worker a job asks for, or why it cannot have it. Fargate's table applies when the job runs on
 * ECS with `launchType` FARGATE and the algorithm needs no GPU (else the task is for EC2, any size).
 *
 * - `workerCpu` and `workerMemory` come together. With them, `tasksPerWorker` defaults to as many
 *   tasks as fit: floor(min(workerCpu / cpu, workerMemory / (memory + 128 MiB))), at most 10; fewer
 *   than one is refused, and so is an explicit `tasksPerWorker` that does not fit.
 * - Without them, the worker is the smallest Fargate size that holds `tasksPerWorker` (default 1)
 *   tasks; with one task the algorithm's own task definition already has it (`size` absent).
 * - A port algorithm runs one task per worker on ECS: the containers of a task share its network.
 * - Locally only `tasksPerWorker` counts (default 1): `maxWorkers` runners already fill the machine
 *   as the user chose, and the worker size is ECS's.
 *
 * @example
 * explainWorkerSize({ memoryMiB: 896, cpu: 0.5 }, { backend: 'ecs', launchType: 'FARGATE', workerCpu: 2, workerMemoryMiB: 4096 });
 * // { worker: { tasksPerWorker: 4, size: { cpuUnits: 2048, memoryMiB: 4096 } } }
 * @throws never: problems are returned, each at its path in the job.
 */
export function explainWorkerSize(
  manifest: Pick<Manifest, 'cpu' | 'memoryMiB' | 'gpu' | 'port'>,
  compute: WorkerSizeCompute,
): Explained {
  const explicit = compute.tasksPerWorker;
  if (compute.backend === 'local') return { worker: { tasksPerWorker: explicit ?? 1 } };
  const need = perTask(manifest);
  const asked: Asked = {
    fargate: compute.launchType === 'FARGATE' && manifest.gpu === 0,
    need,
    what: `one task needs ${need.cpu} vCPU and ${need.memoryMiB} MiB (the manifest's ${manifest.cpu === undefined ? `memory, ${DEFAULT_TASK_CPU} vCPU as it gives no cpu,` : 'cpu and memory'} plus the runner's ${RUNNER_OVERHEAD_MIB} MiB)`,
    // A port algorithm: the runner containers of one ECS task share its network, and so its port.
    tasks: manifest.port !== undefined ? 1 : explicit,
  };
  if (manifest.port !== undefined && explicit !== undefined && explicit > 1) {
    return refuse({
      path: jsonPath(['compute', 'tasksPerWorker']),
      message: `the algorithm listens on port ${manifest.port}, and the runner containers of one ECS task share its network, so two of them would want the same port`,
      expected: '1',
      found: String(explicit),
      hint: 'Remove "tasksPerWorker" (or set 1) and raise "maxWorkers" instead',
    });
  }
  const { workerCpu, workerMemoryMiB } = compute;
  if (workerCpu !== undefined && workerMemoryMiB !== undefined) {
    return sizedByWorker(asked, workerCpu, workerMemoryMiB);
  }
  if (workerCpu === undefined && workerMemoryMiB === undefined) return sizedByTasks(asked);
  const [missing, given] =
    workerCpu === undefined ? ['workerCpu', 'workerMemory'] : ['workerMemory', 'workerCpu'];
  return refuse({
    path: jsonPath(['compute', given]),
    message: `is given without "${missing}": a worker's size is a pair of vCPUs and memory`,
    expected: `"workerCpu" and "workerMemory" together`,
    found: `only "${given}"`,
    hint:
      workerCpu !== undefined && asked.fargate && isFargateCpu(workerCpu)
        ? `Add "workerMemory": Fargate takes ${fargateMemoryWords(workerCpu)} with ${workerCpu} vCPU`
        : `Add "${missing}", or remove "${given}" to size the worker from the manifest`,
  });
}

type Explained = { readonly worker: WorkerSize } | { readonly problems: readonly WorkerSizeProblem[] };

/** What the job asks of a worker on ECS, as the sizing steps read it. */
interface Asked {
  /** Fargate's table binds the size. */
  readonly fargate: boolean;
  readonly need: { readonly cpu: number; readonly memoryMiB: number };
  /** One task's need, in words, for the problems. */
  readonly what: string;
  /** The tasks per worker asked for (1 for a port algorithm), or undefined for the default. */
  readonly tasks: number | undefined;
}

function refuse(problem: WorkerSizeProblem): Explained {
  return { problems: [problem] };
}

/** No worker size in the job: the smallest that holds the tasks (the algorithm's own for one). */
function sizedByTasks({ fargate, need, what, tasks = 1 }: Asked): Explained {
  if (tasks === 1) return { worker: { tasksPerWorker: 1 } };
  const cpu = tasks * need.cpu;
  const memoryMiB = tasks * need.memoryMiB;
  if (!fargate) {
    return { worker: { tasksPerWorker: tasks, size: { cpuUnits: Math.ceil(cpu * 1024), memoryMiB } } };
  }
  const size = fargateSizes().find((s) => s.cpu >= cpu && s.memoryMiB >= memoryMiB);
  if (size === undefined) {
    return refuse({
      path: jsonPath(['compute', 'tasksPerWorker']),
      message: `${tasks} tasks need ${cpu} vCPU and ${memoryMiB} MiB, more than the largest Fargate size (16 vCPU, 122880 MiB); ${what}`,
      expected: `at most ${maxFitting(need, 16, 122880)}`,
      found: String(tasks),
      hint: 'Lower "tasksPerWorker", or run with "launchType": "EC2"',
    });
  }
  return { worker: { tasksPerWorker: tasks, size: { cpuUnits: size.cpuUnits, memoryMiB: size.memoryMiB } } };
}

/** A worker size in the job: a Fargate size on Fargate, holding at least one task, and the tasks asked. */
function sizedByWorker(asked: Asked, workerCpu: number, workerMemoryMiB: number): Explained {
  const { fargate, need, what, tasks } = asked;
  if (fargate && !isFargateSize(workerCpu, workerMemoryMiB)) {
    return refuse(
      isFargateCpu(workerCpu)
        ? {
            path: jsonPath(['compute', 'workerMemory']),
            message: `is not a Fargate size with ${workerCpu} vCPU`,
            expected: fargateMemoryWords(workerCpu),
            found: `${workerMemoryMiB} MiB`,
            hint: 'Pick a memory size of the Fargate table for "workerCpu", or run with "launchType": "EC2"',
          }
        : {
            path: jsonPath(['compute', 'workerCpu']),
            message: 'is not a vCPU count Fargate offers',
            expected: fargateCpuWords(),
            found: String(workerCpu),
            hint: 'Pick one of the Fargate sizes, or run with "launchType": "EC2"',
          },
    );
  }
  const fit = maxFitting(need, workerCpu, workerMemoryMiB);
  const worker = `a worker of ${workerCpu} vCPU and ${workerMemoryMiB} MiB`;
  if (fit < 1) {
    const short = workerCpu < need.cpu ? 'workerCpu' : 'workerMemory';
    return refuse({
      path: jsonPath(['compute', short]),
      message: `${worker} cannot hold one task: ${what}`,
      expected: short === 'workerCpu' ? `at least ${need.cpu}` : `at least ${need.memoryMiB} MiB`,
      found: short === 'workerCpu' ? String(workerCpu) : `${workerMemoryMiB} MiB`,
      hint: 'Raise "workerCpu" and "workerMemory", or remove both to size the worker from the manifest',
    });
  }
  if (tasks !== undefined && tasks > fit) {
    return refuse({
      path: jsonPath(['compute', 'tasksPerWorker']),
      message: `${words(tasks, 'task does', 'tasks do')} not fit in ${worker}: ${what}`,
      expected: `at most ${fit}`,
      found: String(tasks),
      hint: `Lower "tasksPerWorker" to ${fit} (or remove it: the default is what fits), or raise "workerCpu" and "workerMemory" to at least ${tasks * need.cpu} vCPU and ${tasks * need.memoryMiB} MiB`,
    });
  }
  return {
    worker: {
      tasksPerWorker: tasks ?? Math.min(fit, MAX_TASKS_PER_WORKER),
      size: { cpuUnits: Math.round(workerCpu * 1024), memoryMiB: workerMemoryMiB },
    },
  };
}

/** How many tasks of `need` fit in a worker of `cpu` vCPUs and `memoryMiB`. */
function maxFitting(need: { cpu: number; memoryMiB: number }, cpu: number, memoryMiB: number): number {
  // A small epsilon: 3 × 0.1 vCPU is not above 0.3 vCPU.
  return Math.floor(Math.min(cpu / need.cpu + 1e-9, memoryMiB / need.memoryMiB));
}

function isFargateCpu(cpu: number): boolean {
  return fargateSizes().some((size) => size.cpu === cpu);
}

/**
 * The worker a job asks for ({@link explainWorkerSize}), or a ValidationError naming the job file
 * and the JSON path.
 *
 * @example
 * const { tasksPerWorker, size } = workerSize(manifest, { ...job.compute, backend: 'ecs' });
 * @throws {ValidationError} when the worker cannot be had: a worker size off the Fargate table, one
 *   that holds no task, a `tasksPerWorker` that does not fit, or several tasks of a port algorithm on ECS.
 */
export function workerSize(
  manifest: Pick<Manifest, 'cpu' | 'memoryMiB' | 'gpu' | 'port'>,
  compute: WorkerSizeCompute,
): WorkerSize {
  const result = explainWorkerSize(manifest, compute);
  if ('worker' in result) return result.worker;
  throw new ValidationError(result.problems.map((problem) => ({ file: JOB_FILE, ...problem })));
}

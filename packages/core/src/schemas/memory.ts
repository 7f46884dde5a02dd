// Memory sizes and the Fargate task-size table. Memory is MiB everywhere inside sluice because ECS
// task definitions and `docker run --memory` limits are set in MiB.
import { ConfigurationError } from '../errors.js';

/** Docker refuses memory limits below 6 MiB. */
export const MIN_MEMORY_MIB = 6;
/** 1 TiB: far above any ECS instance, so a larger value is a typo. */
export const MAX_MEMORY_MIB = 1024 * 1024;

/**
 * Memory the runner itself needs next to the algorithm (Node.js, transfer buffers). It is added to
 * the manifest's `memory` wherever a limit is set: the ECS task definition and the local engine.
 */
export const RUNNER_OVERHEAD_MIB = 128;

/** The pattern the schema publishes for memory strings: a whole number followed by `MiB` or `GiB`. */
export const MEMORY_STRING_PATTERN = '^[1-9][0-9]{0,7}(MiB|GiB)$';

/** Why a memory value was refused: the sentence, what was expected, and how to write it instead. */
export interface MemoryRefusal {
  readonly message: string;
  readonly expected: string;
  readonly hint?: string;
}

/** The phrase every memory problem uses for what is accepted. */
export const MEMORY_EXPECTED = 'MiB as a whole number (e.g. 2048), or a string "<n>MiB" or "<n>GiB"';

/**
 * Reads a memory size as MiB, or says why it cannot. Exactly these forms are accepted: a whole
 * number of MiB (`2048`), `"<n>MiB"` and `"<n>GiB"` (binary units, case as written). `MB`, `GB`, `M`,
 * `G` and lower-case units are refused because they are ambiguous (decimal or binary? Docker reads
 * `m` as MiB, most people read `MB` as 10^6 bytes); the refusal says what to write instead.
 */
export function explainMemory(value: unknown): { mib: number } | { refusal: MemoryRefusal } {
  const refuse = (message: string, hint?: string): { refusal: MemoryRefusal } => ({
    refusal:
      hint === undefined
        ? { message, expected: MEMORY_EXPECTED }
        : { message, expected: MEMORY_EXPECTED, hint },
  });
  if (typeof value === 'number') {
    if (!Number.isInteger(value)) {
      return refuse('memory must be a whole number of MiB', `Write ${Math.ceil(value)} (MiB)`);
    }
    return checkRange(value, refuse);
  }
  if (typeof value !== 'string') return refuse('memory must be a number of MiB or a string with units');
  const exact = /^([1-9][0-9]{0,7})(MiB|GiB)$/.exec(value);
  if (exact) {
    const amount = Number(exact[1]);
    return checkRange(exact[2] === 'GiB' ? amount * 1024 : amount, refuse);
  }
  const loose = /^\s*([0-9]+(?:\.[0-9]+)?)\s*([A-Za-z]*)\s*$/.exec(value);
  if (!loose)
    return refuse(`memory "${value}" is not a size`, 'Write a whole number of MiB such as 2048, or "2GiB"');
  const amount = Number(loose[1]);
  const unit = (loose[2] ?? '').toLowerCase();
  const mib = unit === '' || unit.startsWith('m') ? amount : unit.startsWith('g') ? amount * 1024 : undefined;
  if (mib === undefined) {
    return refuse(`memory unit "${loose[2] ?? ''}" is not known`, 'Use MiB or GiB, e.g. "512MiB" or "2GiB"');
  }
  const suggestion = suggestMemory(mib, unit.startsWith('g') ? amount : undefined);
  if (unit === '') {
    return refuse(`memory "${value}" is a number written as a string`, `Write ${suggestion}`);
  }
  if (!Number.isInteger(amount)) {
    return refuse(
      `memory "${value}" is not a whole number of ${unit.startsWith('g') ? 'GiB' : 'MiB'}`,
      `Write ${suggestion}`,
    );
  }
  return refuse(
    `memory unit "${loose[2] ?? ''}" is ambiguous (decimal or binary?), so it is not accepted`,
    `Write ${suggestion}`,
  );
}

function suggestMemory(mib: number, gib: number | undefined): string {
  const whole = Math.ceil(mib);
  if (gib !== undefined && Number.isInteger(gib)) return `${gib}GiB or ${whole}`;
  return `${whole}MiB or ${whole}`;
}

function checkRange<R>(mib: number, refuse: (message: string, hint?: string) => R): { mib: number } | R {
  if (mib < MIN_MEMORY_MIB)
    return refuse(`memory must be at least ${MIN_MEMORY_MIB} MiB`, 'Container engines refuse smaller limits');
  if (mib > MAX_MEMORY_MIB) return refuse(`memory must be at most ${MAX_MEMORY_MIB} MiB (1 TiB)`);
  return { mib };
}

/**
 * Reads a memory size as MiB: a whole number of MiB, `"<n>MiB"` or `"<n>GiB"`.
 *
 * @example
 * parseMemory(512); // 512
 * parseMemory('512MiB'); // 512
 * parseMemory('2GiB'); // 2048
 * parseMemory('2GB'); // throws: ambiguous unit. Write 2GiB or 2048
 * @throws {ConfigurationError} when the value is not one of the accepted forms; the message says what to write.
 */
export function parseMemory(value: number | string): number {
  const result = explainMemory(value);
  if ('mib' in result) return result.mib;
  const { message, hint } = result.refusal;
  throw new ConfigurationError(hint === undefined ? message : `${message}. ${hint}`);
}

/** One size Fargate can run: vCPU and memory in MiB. `cpuUnits` is what ECS task definitions take. */
export interface FargateSize {
  readonly cpu: number;
  readonly cpuUnits: number;
  readonly memoryMiB: number;
}

/** Fargate's memory choices for each vCPU count: [vCPU, first MiB, last MiB, step MiB]. */
const FARGATE_TABLE: readonly (readonly [number, number, number, number])[] = [
  [0.25, 512, 512, 512],
  [0.25, 1024, 2048, 1024],
  [0.5, 1024, 4096, 1024],
  [1, 2048, 8192, 1024],
  [2, 4096, 16384, 1024],
  [4, 8192, 30720, 1024],
  [8, 16384, 61440, 4096],
  [16, 32768, 122880, 8192],
];

/**
 * Every (vCPU, memory) pair Fargate accepts, smallest first.
 *
 * @example
 * fargateSizes().find((size) => size.cpu === 1)?.memoryMiB; // 2048
 */
export function fargateSizes(): FargateSize[] {
  const sizes: FargateSize[] = [];
  for (const [cpu, first, last, step] of FARGATE_TABLE) {
    for (let memoryMiB = first; memoryMiB <= last; memoryMiB += step) {
      sizes.push({ cpu, cpuUnits: cpu * 1024, memoryMiB });
    }
  }
  return sizes;
}

/**
 * True when Fargate can run exactly this vCPU/memory pair.
 *
 * @example
 * isFargateSize(0.25, 2048); // true
 * isFargateSize(0.25, 4096); // false
 */
export function isFargateSize(cpu: number, memoryMiB: number): boolean {
  return fargateSizes().some((size) => size.cpu === cpu && size.memoryMiB === memoryMiB);
}

/**
 * The smallest Fargate size that gives the algorithm what its manifest asks for plus the runner's
 * overhead: the fewest vCPUs at or above `cpu` (0.25 when not given), then the least memory at or
 * above `memoryMiB + runnerOverheadMiB`. Undefined when no Fargate size is large enough (use EC2).
 *
 * @example
 * taskSize({ memoryMiB: 512 }, 128); // { cpu: 0.25, cpuUnits: 256, memoryMiB: 1024 }
 * taskSize({ memoryMiB: 4096, cpu: 0.25 }, 128); // { cpu: 1, cpuUnits: 1024, memoryMiB: 5120 }
 */
export function taskSize(
  manifest: { readonly memoryMiB: number; readonly cpu?: number },
  runnerOverheadMiB: number = RUNNER_OVERHEAD_MIB,
): FargateSize | undefined {
  const need = manifest.memoryMiB + runnerOverheadMiB;
  const cpu = manifest.cpu ?? 0.25;
  return fargateSizes().find((size) => size.cpu >= cpu && size.memoryMiB >= need);
}

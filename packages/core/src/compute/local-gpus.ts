// GPUs for the local backend's runner containers. docker hands NVIDIA GPUs to a container with
// `--gpus` (through the NVIDIA Container Toolkit's runtime or hook); podman (4.1 and later) with CDI
// devices, `--device nvidia.com/gpu=<name>`, named by a CDI specification that `nvidia-ctk cdi
// generate` writes to /etc/cdi or /var/run/cdi. Each runner gets GPUs of its own: runner n (1, 2, …)
// takes the n-th `gpu` devices, so runners never share one, and a host with fewer GPUs than
// `gpu × workers` runs fewer runners (at least one runner's worth, or the run is refused).
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';

import { parse as parseYaml } from 'yaml';

import { ConfigurationError, toError } from '../errors.js';
import { silentLogger, type Logger } from '../logging/logger.js';
import { CommandNotFoundError, ProcessCommandRunner, type CommandRunner } from './command-runner.js';
import type { ContainerEngineKind, GpuRequest } from './container-engine.js';

/** Where CDI specifications are looked for, as podman and the NVIDIA Container Toolkit use them. */
const CDI_SPEC_DIRECTORIES: readonly string[] = ['/etc/cdi', '/var/run/cdi'];

/** The CDI kind of NVIDIA's GPUs: a device is `nvidia.com/gpu=<name>`. */
const NVIDIA_GPU_CDI_KIND = 'nvidia.com/gpu';

/** The GPUs the local engine can hand to containers. */
export interface LocalGpus {
  /**
   * Device names, in order (CDI names for podman, e.g. `0`, `1`; GPU indices for docker). Absent
   * when the engine has GPUs but sluice cannot count them (docker with only the `nvidia` runtime):
   * every runner then asks for `gpu` GPUs by count and may share them with the others.
   */
  readonly devices?: readonly string[];
}

/** How {@link detectLocalGpus} looks. */
export interface DetectLocalGpusOptions {
  readonly kind: ContainerEngineKind;
  /** GPUs one runner needs (the manifest's `gpu`, above 0). */
  readonly gpu: number;
  /** Default {@link CDI_SPEC_DIRECTORIES}. */
  readonly cdiDirectories?: readonly string[];
  /** Runs `docker info`; default a {@link ProcessCommandRunner}. */
  readonly runner?: CommandRunner;
  /** The docker CLI; default `docker`. */
  readonly program?: string;
  /** Added to the `docker info` environment (`DOCKER_HOST`, …). */
  readonly env?: Readonly<Record<string, string>>;
  readonly logger?: Logger;
}

const ECS_HINT =
  'Or run the job on ECS ("compute": {"backend": "ecs"}), whose EC2 GPU instances provide them.';
const CDI_FIX =
  'On a machine with an NVIDIA GPU and its driver, install the NVIDIA Container Toolkit and run `sudo nvidia-ctk cdi generate --output=/etc/cdi/nvidia.yaml`';

/**
 * The NVIDIA GPU device names that CDI specifications define: each spec of kind `nvidia.com/gpu`
 * contributes its devices' names. `all` is left out, and when whole GPUs are named by index
 * (`0`, `1`: nvidia-ctk's default) only those count, so a GPU also named by UUID or split into MIG
 * devices is not counted twice.
 *
 * @example
 * cdiGpuDevices([{ cdiVersion: '0.5.0', kind: 'nvidia.com/gpu', devices: [{ name: '0' }, { name: 'all' }] }]); // ['0']
 * @throws never: anything that is not a spec is skipped.
 */
export function cdiGpuDevices(specs: readonly unknown[]): string[] {
  const names: string[] = [];
  for (const spec of specs) {
    if (!isRecord(spec) || spec.kind !== NVIDIA_GPU_CDI_KIND || !Array.isArray(spec.devices)) continue;
    for (const device of spec.devices as unknown[]) {
      if (isRecord(device) && typeof device.name === 'string' && device.name !== 'all') {
        if (!names.includes(device.name)) names.push(device.name);
      }
    }
  }
  const indices = names.filter((name) => /^\d+$/.test(name));
  return indices.length > 0 ? indices.sort((a, b) => Number(a) - Number(b)) : names;
}

/**
 * The CDI specifications (`*.yaml`, `*.yml`, `*.json`) in `directories`, parsed. A missing
 * directory has none; an unreadable or malformed file is skipped with a debug line.
 *
 * @throws never.
 */
async function readCdiSpecs(
  directories: readonly string[] = CDI_SPEC_DIRECTORIES,
  logger: Logger = silentLogger,
): Promise<unknown[]> {
  const specs: unknown[] = [];
  for (const directory of directories) {
    let files: string[];
    try {
      files = (await readdir(directory)).filter((file) => /\.(ya?ml|json)$/.test(file)).sort();
    } catch {
      continue;
    }
    for (const file of files) {
      try {
        // YAML is a superset of JSON: one parser reads both.
        specs.push(parseYaml(await readFile(join(directory, file), 'utf8')));
      } catch (thrown: unknown) {
        logger.debug(`skipping CDI spec ${join(directory, file)}: ${toError(thrown).message}`);
      }
    }
  }
  return specs;
}

/** What `docker info --format '{{json .}}'` says about GPUs. */
export interface DockerGpuInfo {
  /** A runtime named `nvidia` is registered (`nvidia-ctk runtime configure --runtime=docker`). */
  readonly nvidiaRuntime: boolean;
  /** `nvidia.com/gpu` devices docker discovered through CDI (docker 28+, `DiscoveredDevices`). */
  readonly cdiDevices: readonly string[];
}

/**
 * Reads docker's GPU support from `docker info --format '{{json .}}'`: the `Runtimes` it has and the
 * CDI devices it discovered.
 *
 * @example
 * dockerGpuInfo('{"Runtimes":{"nvidia":{"path":"nvidia-container-runtime"},"runc":{}}}'); // { nvidiaRuntime: true, cdiDevices: [] }
 * @throws never: output it cannot read means no GPUs.
 */
export function dockerGpuInfo(output: string): DockerGpuInfo {
  let info: unknown;
  try {
    info = JSON.parse(output);
  } catch {
    return { nvidiaRuntime: false, cdiDevices: [] };
  }
  if (!isRecord(info)) return { nvidiaRuntime: false, cdiDevices: [] };
  const runtimes = isRecord(info.Runtimes) ? Object.keys(info.Runtimes) : [];
  const devices: string[] = [];
  for (const device of Array.isArray(info.DiscoveredDevices) ? (info.DiscoveredDevices as unknown[]) : []) {
    if (!isRecord(device) || typeof device.ID !== 'string') continue;
    const [kind, name] = device.ID.split('=');
    if (kind === NVIDIA_GPU_CDI_KIND && name !== undefined && name !== 'all') devices.push(name);
  }
  const indices = devices.filter((name) => /^\d+$/.test(name));
  return {
    nvidiaRuntime: runtimes.some((name) => name.includes('nvidia')),
    cdiDevices: indices.length > 0 ? indices : devices,
  };
}

/**
 * Finds the GPUs the local engine can give runner containers, before any runner starts: for podman,
 * the `nvidia.com/gpu` devices of the CDI specifications in `cdiDirectories`; for docker, the CDI
 * devices `docker info` lists, else its `nvidia` runtime (counted from the CDI specifications when
 * there are any).
 *
 * @example
 * const gpus = await detectLocalGpus({ kind: engine.kind, gpu: manifest.gpu });
 * @throws {ConfigurationError} when the engine has no GPUs, or fewer than `gpu`: the message says
 *   what is missing, how to fix it, and that the ECS backend provides GPUs.
 */
export async function detectLocalGpus(options: DetectLocalGpusOptions): Promise<LocalGpus> {
  const logger = options.logger ?? silentLogger;
  const directories = options.cdiDirectories ?? CDI_SPEC_DIRECTORIES;
  const specDevices = cdiGpuDevices(await readCdiSpecs(directories, logger));
  const needs = `the algorithm needs ${options.gpu} GPU(s) ("gpu" in algorithm.json)`;
  let devices: readonly string[] | undefined;
  if (options.kind === 'podman') {
    if (specDevices.length === 0) {
      throw new ConfigurationError(
        `${needs}, but podman has no NVIDIA GPU to give: no CDI specification in ${directories.join(' or ')} defines ${NVIDIA_GPU_CDI_KIND} devices. ${CDI_FIX} (podman 4.1 or later reads it). ${ECS_HINT}`,
      );
    }
    devices = specDevices;
  } else {
    const info = await dockerInfo(options);
    if (info.cdiDevices.length > 0) devices = info.cdiDevices;
    else if (info.nvidiaRuntime) devices = specDevices.length > 0 ? specDevices : undefined;
    else {
      throw new ConfigurationError(
        `${needs}, but docker has no NVIDIA GPU to give: \`docker info\` lists no nvidia runtime and no ${NVIDIA_GPU_CDI_KIND} CDI devices. On a machine with an NVIDIA GPU and its driver, install the NVIDIA Container Toolkit, run \`sudo nvidia-ctk runtime configure --runtime=docker\` and restart docker. ${ECS_HINT}`,
      );
    }
  }
  if (devices !== undefined && devices.length < options.gpu) {
    throw new ConfigurationError(
      `${needs}, but ${options.kind} has only ${devices.length} (${devices.join(', ')}): lower "gpu" or run on a machine with more. ${ECS_HINT}`,
    );
  }
  if (devices === undefined) {
    logger.warning(
      `docker has the nvidia runtime but sluice cannot count its GPUs: each runner asks for ${options.gpu} GPU(s) by count, so runners may share them. A CDI specification (\`sudo nvidia-ctk cdi generate --output=/etc/cdi/nvidia.yaml\`) lets sluice give each its own.`,
    );
    return {};
  }
  return { devices };
}

async function dockerInfo(options: DetectLocalGpusOptions): Promise<DockerGpuInfo> {
  const runner = options.runner ?? new ProcessCommandRunner();
  try {
    const result = await runner.run(options.program ?? 'docker', ['info', '--format', '{{json .}}'], {
      ...(options.env !== undefined && { env: options.env }),
    });
    return result.exitCode === 0 ? dockerGpuInfo(result.stdout) : { nvidiaRuntime: false, cdiDevices: [] };
  } catch (thrown: unknown) {
    if (thrown instanceof CommandNotFoundError) return { nvidiaRuntime: false, cdiDevices: [] };
    throw thrown;
  }
}

/**
 * How many runners the GPUs allow: `workers`, or fewer when `gpu × workers` exceeds the devices
 * (each runner has GPUs of its own). Uncounted GPUs allow `workers`.
 *
 * @example
 * gpuWorkerLimit(4, 2, { devices: ['0', '1', '2'] }); // 1
 * @throws {ConfigurationError} when not even one runner's GPUs are there.
 */
export function gpuWorkerLimit(workers: number, gpu: number, gpus: LocalGpus): number {
  if (gpus.devices === undefined) return workers;
  const limit = Math.floor(gpus.devices.length / gpu);
  if (limit === 0) {
    throw new ConfigurationError(
      `the algorithm needs ${gpu} GPU(s) ("gpu" in algorithm.json), but the local engine has ${gpus.devices.length}. ${ECS_HINT}`,
    );
  }
  return Math.min(workers, limit);
}

/**
 * The GPUs of runner `index` (1, 2, …): the `index`-th run of `gpu` devices, or `gpu` by count when
 * the devices are uncounted.
 *
 * @example
 * gpuRequestFor(2, 1, { devices: ['0', '1'] }); // { devices: ['1'] }
 * @throws never.
 */
export function gpuRequestFor(index: number, gpu: number, gpus: LocalGpus): GpuRequest {
  if (gpus.devices === undefined) return { count: gpu };
  return { devices: gpus.devices.slice((index - 1) * gpu, index * gpu) };
}

/**
 * The engine flags for a GPU request: docker `--gpus "device=0,1"` (the quotes belong to the value:
 * docker's parser would otherwise split the list on its comma) or `--gpus <count>`; podman one
 * `--device nvidia.com/gpu=<name>` per device (by count: `0` … `count-1`).
 *
 * @example
 * gpuRunArguments('podman', { devices: ['0', '1'] }); // ['--device', 'nvidia.com/gpu=0', '--device', 'nvidia.com/gpu=1']
 * gpuRunArguments('docker', { devices: ['0', '1'] }); // ['--gpus', '"device=0,1"']
 * @throws never.
 */
export function gpuRunArguments(kind: ContainerEngineKind, request: GpuRequest): string[] {
  if (kind === 'docker') {
    return 'count' in request
      ? ['--gpus', String(request.count)]
      : ['--gpus', `"device=${request.devices.join(',')}"`];
  }
  const devices =
    'count' in request ? Array.from({ length: request.count }, (_, i) => String(i)) : request.devices;
  return devices.flatMap((device) => ['--device', `${NVIDIA_GPU_CDI_KIND}=${device}`]);
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

// How a runner container is locked down, locally (LocalWorkers) and on ECS (the task definition):
// every capability dropped, no new privileges, a pids limit, and writable mounts exactly where the
// runner and the algorithm write (the runner's work directory under /tmp, the manifest's input and
// output), so the root filesystem can be read-only when the manifest allows it.
//
// Found by running the wrapped runner under podman with --cap-drop=ALL: the runner needs no
// capability to download, run the algorithm (same user), signal its process group or raise its
// oom_score_adj. It needs CAP_DAC_OVERRIDE only to create files in `/` itself: a FROM-scratch
// image's `/` is mode 0555, which root passes only with that capability. Mounting /tmp and the
// input/output directories removes that need, except for a location directly in `/`.
import { ConfigurationError } from '../errors.js';
import type { Manifest } from '../schemas/manifest.js';
import type { RunContainerOptions } from './container-engine.js';

/**
 * The runner container's process limit (`--pids-limit`; threads count). High enough for a runner
 * (Node: about a dozen threads) beside a multi-threaded algorithm on a large host (thread pools of
 * one thread per core, several libraries each), low enough to stop a fork bomb before it takes the
 * host's process table. podman's own default, so docker users get what podman users get.
 */
export const RUNNER_PIDS_LIMIT = 2048;

/** Where the runner's work directory (task logs) lives: `os.tmpdir()` inside the image. */
export const RUNNER_TEMP_DIRECTORY = '/tmp';

type Locations = Pick<Manifest, 'input' | 'output' | 'readOnlyRootFilesystem'>;

/** The directory a location needs writable: itself for a directory, its parent for a file. */
function directoryOf(location: Manifest['input']): string {
  return location.kind === 'directory'
    ? location.path
    : location.path.slice(0, location.path.lastIndexOf('/'));
}

/**
 * The directories the runner and the algorithm write to, each mounted writable: /tmp and the
 * directories of the input and the output. A location directly in `/` gets no mount (and the
 * runner then needs {@link runnerCapabilities}' DAC_OVERRIDE); a directory inside another one needs
 * no mount of its own.
 *
 * @example
 * runnerWritableDirectories({ input: { kind: 'directory', path: '/data/in' }, output: { kind: 'file', path: '/out/r.json' }, readOnlyRootFilesystem: true });
 * // ['/tmp', '/data/in', '/out']
 * @throws {ConfigurationError} when the root is read-only and a location lies directly in `/`.
 */
export function runnerWritableDirectories(manifest: Locations): string[] {
  const dirs = new Set<string>([RUNNER_TEMP_DIRECTORY]);
  for (const location of [manifest.input, manifest.output]) {
    const dir = directoryOf(location);
    if (dir !== '' && dir !== '/') dirs.add(dir);
    else if (manifest.readOnlyRootFilesystem) {
      throw new ConfigurationError(
        `algorithm.json: "readOnlyRootFilesystem": true needs the input and output in a directory below /, but ${location.path} is directly in /. Move it into a directory such as /data/.`,
      );
    }
  }
  return [...dirs].filter((dir) => ![...dirs].some((other) => other !== dir && dir.startsWith(`${other}/`)));
}

/**
 * Capabilities the runner gets back after dropping all: none, unless a location lies directly in
 * `/` (then DAC_OVERRIDE, to create it in a FROM-scratch image's read-only-mode `/`).
 *
 * @example
 * runnerCapabilities(manifest); // [] for the default /data/in/ and /data/out/
 * @throws never.
 */
export function runnerCapabilities(manifest: Locations): string[] {
  const inRoot = [manifest.input, manifest.output].some((location) =>
    ['', '/'].includes(directoryOf(location)),
  );
  return inRoot && !manifest.readOnlyRootFilesystem ? ['DAC_OVERRIDE'] : [];
}

/**
 * The hardening part of a local runner container's options: all capabilities dropped (and
 * {@link runnerCapabilities} added back), no new privileges, {@link RUNNER_PIDS_LIMIT}, the
 * manifest's read-only root, /tmp as tmpfs and the input/output directories as scratch volumes
 * (on disk, as on ECS: an input may be larger than the memory limit tmpfs counts against).
 *
 * @example
 * engine.runDetached({ image, ...hardenedRunOptions(manifest) });
 * @throws {ConfigurationError} when the root is read-only and a location lies directly in `/`.
 */
export function hardenedRunOptions(
  manifest: Locations,
): Pick<
  RunContainerOptions,
  | 'capDrop'
  | 'capAdd'
  | 'noNewPrivileges'
  | 'pidsLimit'
  | 'readOnlyRootFilesystem'
  | 'tmpfs'
  | 'scratchVolumes'
> {
  const capAdd = runnerCapabilities(manifest);
  const directories = runnerWritableDirectories(manifest);
  return {
    capDrop: ['ALL'],
    ...(capAdd.length > 0 ? { capAdd } : {}),
    noNewPrivileges: true,
    pidsLimit: RUNNER_PIDS_LIMIT,
    readOnlyRootFilesystem: manifest.readOnlyRootFilesystem,
    tmpfs: directories.filter((dir) => dir === RUNNER_TEMP_DIRECTORY),
    scratchVolumes: directories.filter((dir) => dir !== RUNNER_TEMP_DIRECTORY),
  };
}

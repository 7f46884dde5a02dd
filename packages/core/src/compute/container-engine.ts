// One interface over the two container engines sluice meets: docker (GitHub-hosted runners, most
// users' machines; with buildx when it is there) and podman (machines without a Docker daemon, such
// as the test bed). Both are driven through their CLIs with argument arrays and `{{json .}}` output:
// the CLIs are what users already have configured (contexts, credential helpers, registries.conf),
// and they are far more stable across versions than either engine's HTTP API.
import type { CommandResult } from './command-runner.js';

/** The engines sluice can drive. */
export type ContainerEngineKind = 'docker' | 'podman';

/** The variable that picks the engine, overriding detection. */
export const CONTAINER_ENGINE_ENV = 'SLUICE_CONTAINER_ENGINE';

/** How to build an image. Paths are host paths. */
export interface BuildImageOptions {
  /** The build context directory. */
  readonly context: string;
  /** The Containerfile/Dockerfile; default `Dockerfile` in the context. Absolute or relative to the working directory. */
  readonly containerfile?: string;
  readonly buildArgs?: Readonly<Record<string, string>>;
  /** Multi-stage target. */
  readonly target?: string;
  /** OCI platform such as `linux/amd64`. */
  readonly platform?: string;
  /** At least one tag, e.g. `localhost/sluice/thumbnails:1.2.0`. */
  readonly tags: readonly string[];
  readonly labels?: Readonly<Record<string, string>>;
  /** Ignore cached layers. */
  readonly noCache?: boolean;
  /** Receives the build log as it is written. */
  readonly onLog?: (chunk: string) => void;
}

/** What `inspect` tells about a local image, the same for docker and podman. */
export interface ImageDetails {
  /** Image id (`sha256:…`, the config digest). */
  readonly id: string;
  /** `repo@sha256:…` for each registry the image was pushed to or pulled from. */
  readonly repoDigests: readonly string[];
  readonly repoTags: readonly string[];
  /** `null` when the image sets none (not the same as an empty list: see OCI image config). */
  readonly entrypoint: readonly string[] | null;
  readonly cmd: readonly string[] | null;
  /** `''` when unset (the runtime then uses `/`). */
  readonly workingDir: string;
  /** `''` when unset (root). */
  readonly user: string;
  /** `NAME=value` entries. */
  readonly env: readonly string[];
  /**
   * The image's `EXPOSE`d ports as the engine writes them (`8080/tcp`, `53/udp`), sorted; absent when
   * the adapter does not report them (fakes written before the field existed).
   */
  readonly exposedPorts?: readonly string[];
  readonly labels: Readonly<Record<string, string>>;
  readonly os: string;
  readonly architecture: string;
  readonly variant?: string;
  /** `os/architecture[/variant]`, as the manifest's `platform` is written. */
  readonly platform: string;
  /** Bytes of the image's layers uncompressed, as the engine reports them. */
  readonly sizeBytes?: number;
}

/** A resource limit (`--ulimit name=soft:hard`). */
export interface Ulimit {
  readonly name: string;
  readonly soft: number;
  readonly hard: number;
}

/** A host directory seen inside a container. */
export interface BindMount {
  /** Absolute host path. */
  readonly source: string;
  /** Absolute path inside the container. */
  readonly target: string;
}

/**
 * NVIDIA GPUs for a container: devices by name (podman's CDI names, e.g. `0`; docker's GPU indices)
 * or a count (docker's `--gpus <n>`: the first n).
 */
export type GpuRequest = { readonly devices: readonly string[] } | { readonly count: number };

/** How to run a container. */
export interface RunContainerOptions {
  readonly image: string;
  readonly name?: string;
  /**
   * Variables for the container. Values are handed to the engine CLI through its own environment
   * (`--env NAME`), never on its command line, where any user of the machine could read them.
   */
  readonly env?: Readonly<Record<string, string>>;
  /** Hard memory limit in MiB; swap is disabled so the limit is a real one. */
  readonly memoryMiB?: number;
  readonly pidsLimit?: number;
  /** `none`, `host`, `bridge`, podman's `slirp4netns:<options>`, or a network name. */
  readonly network?: string;
  /** Extra `/etc/hosts` entries (`--add-host name:address`; docker's `host-gateway` is an address). */
  readonly addHosts?: readonly string[];
  readonly ulimits?: readonly Ulimit[];
  readonly labels?: Readonly<Record<string, string>>;
  /** Remove the container when it exits. */
  readonly remove?: boolean;
  readonly readOnlyRootFilesystem?: boolean;
  /** Capabilities to drop (`--cap-drop`; `ALL` for every one), then to add back (`--cap-add`), e.g. `DAC_OVERRIDE`. */
  readonly capDrop?: readonly string[];
  readonly capAdd?: readonly string[];
  /** `--security-opt no-new-privileges`: no setuid program or file capability grants more than the process has. */
  readonly noNewPrivileges?: boolean;
  /**
   * Writable in-memory directories (`--tmpfs`), mode 1777 like /tmp, exec allowed, no setuid, no
   * devices. What is written there counts against the memory limit.
   */
  readonly tmpfs?: readonly string[];
  /**
   * Writable directories on disk (anonymous volumes, `--volume <path>`): seeded from the image's
   * directory there, and removed with the container by {@link ContainerEngine.remove} (or `remove`).
   */
  readonly scratchVolumes?: readonly string[];
  /**
   * Host directories bind-mounted read-only (`--volume <source>:<target>:ro,z`; `z` relabels the
   * source for containers where SELinux is on, and does nothing elsewhere). Owners and modes are the
   * host's: a file of the host's root is uid 0 inside under rootful engines (and under rootless podman,
   * whose user maps to root in the container). Neither path may hold `:` or `,`.
   */
  readonly readOnlyMounts?: readonly BindMount[];
  readonly user?: string;
  /** GPUs (docker `--gpus`, podman CDI `--device nvidia.com/gpu=<name>`). */
  readonly gpus?: GpuRequest;
  /** Replaces the image's entrypoint (exec form: the first item is the program). */
  readonly entrypoint?: readonly string[];
  /** Arguments after the image (the command). */
  readonly command?: readonly string[];
  /** Further engine flags, placed before the image, e.g. `['--volume', '/a:/b']`. */
  readonly extraArgs?: readonly string[];
  /** Kills an attached run after this long (exit code 137). */
  readonly timeoutMs?: number;
}

/** What `inspect` tells about a container, the same for docker and podman. */
export interface ContainerDetails {
  readonly id: string;
  readonly name: string;
  readonly image: string;
  /** `created`, `running`, `exited`, … */
  readonly status: string;
  readonly running: boolean;
  readonly exitCode: number;
  /**
   * The kernel killed it for exceeding its memory limit, as the engine saw it. docker reports it;
   * podman 4.3 with runc and cgroupfs reports `false` even then (exit code 137 is all it shows).
   */
  readonly oomKilled: boolean;
  readonly labels: Readonly<Record<string, string>>;
}

/** Registry credentials, e.g. from ECR's GetAuthorizationToken. */
export interface RegistryLogin {
  /** Host (and port) of the registry, e.g. `123456789012.dkr.ecr.eu-west-1.amazonaws.com`. */
  readonly registry: string;
  readonly username: string;
  /** Sent on standard input (`--password-stdin`), never on the command line. */
  readonly password: string;
}

/**
 * A container engine: builds, inspects, moves and runs images. {@link detectContainerEngine} picks
 * the one this machine has; {@link CliContainerEngine} is the implementation for both docker and podman.
 */
export interface ContainerEngine {
  readonly kind: ContainerEngineKind;
  /**
   * Builds an image and returns its id.
   * @throws {ImageBuildError} when the build fails (a user error: the message ends with the build log's tail).
   */
  build(options: BuildImageOptions): Promise<string>;
  /** @throws {ImageNotFoundError} when there is no such local image. */
  inspectImage(image: string): Promise<ImageDetails>;
  imageExists(image: string): Promise<boolean>;
  /** Pushes `image` (a local tag) to its registry and returns the pushed manifest's digest (`sha256:…`). */
  push(image: string): Promise<string>;
  /** @throws {ConfigurationError} when the image cannot be pulled (missing, denied, unreachable). */
  pull(image: string, options?: { readonly platform?: string }): Promise<void>;
  tag(source: string, target: string): Promise<void>;
  /** Removes local images; missing ones are ignored. */
  removeImages(images: readonly string[]): Promise<void>;
  /** Runs a container to the end and returns its exit code and output. */
  run(options: RunContainerOptions): Promise<CommandResult>;
  /** Starts a container in the background and returns its id. */
  runDetached(options: RunContainerOptions): Promise<string>;
  /** Sends SIGTERM, then SIGKILL after `timeoutSeconds` (default 10). */
  stop(container: string, options?: { readonly timeoutSeconds?: number }): Promise<void>;
  /** Removes containers (running ones too) with their scratch volumes; missing ones are ignored. */
  remove(containers: readonly string[]): Promise<void>;
  /** Everything the container wrote to stdout and stderr so far. */
  logs(container: string): Promise<{ readonly stdout: string; readonly stderr: string }>;
  /** Waits for the container to exit and returns its exit code. */
  wait(container: string): Promise<number>;
  inspectContainer(container: string): Promise<ContainerDetails>;
  /** Containers (running or not) carrying the label: `key` or `key=value`. */
  listContainers(label: string): Promise<readonly ContainerDetails[]>;
  login(credentials: RegistryLogin): Promise<void>;
}

/**
 * Lists local images by label. Kept apart from {@link ContainerEngine} so existing engines and fakes
 * need not change; {@link CliContainerEngine} has it, and the local catalogue needs it.
 */
export interface ImageLister {
  /** Local images carrying the label (`key` or `key=value`), each once however many tags it has. */
  listImages(label: string): Promise<readonly ImageDetails[]>;
}

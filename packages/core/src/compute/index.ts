// Every export of @sluice/core/compute: the container engine, wrapped images, local runner containers and the catalogue, named (no `export *`).

export type {
  BuildImageOptions,
  ContainerDetails,
  ContainerEngine,
  ContainerEngineKind,
  ImageDetails,
  ImageLister,
  RegistryLogin,
  RunContainerOptions,
} from './container-engine.js';
export { ContainerEngineError, ImageBuildError, ImageNotFoundError } from './container-engine-errors.js';
export { parseImageInspect, repositoryOf } from './engine-inspect.js';
export { CliContainerEngine } from './cli-container-engine.js';
export { manifestFromImage } from './manifest-from-image.js';
export type { ImageSource, ManifestDraft } from './manifest-from-image.js';
export { detectContainerEngine } from './detect-engine.js';
export { CommandNotFoundError, ProcessCommandRunner } from './command-runner.js';
export type { CommandOptions, CommandResult, CommandRunner } from './command-runner.js';
export { hostPlatform, parseLdd, prepareNodeRuntime, runtimeCommand } from './node-runtime.js';
export { RUNTIME_NODE_MAJOR } from './runtime-version.js';
export {
  WRAPPED_ENV,
  WRAPPED_LABELS,
  algorithmUser,
  imageCommand,
  localMemoryLimitMiB,
  withDigest,
  wrapAlgorithm,
} from './wrapped-image.js';
export type { AlgorithmUser, WrapAlgorithmOptions, WrappedImage } from './wrapped-image.js';
export { LocalCatalogue } from './catalogue.js';
export type { AlgorithmCatalogue } from './catalogue.js';
export {
  LOCAL_RUN_LABEL,
  LOCAL_WORKER_LABEL,
  LOCAL_WORKER_ULIMITS,
  LocalWorkers,
  RUNNER_CREDENTIAL_FILES,
  RUNNER_CREDENTIALS_DIRECTORY,
  containerReachableUrl,
  localWorkerName,
} from './local-workers.js';
export type { LocalWorkerCounts, LocalWorkerSpec } from './local-workers.js';
export { cdiGpuDevices, detectLocalGpus, dockerGpuInfo, gpuRunArguments } from './local-gpus.js';
export { RUNNER_CAPABILITIES, RUNNER_PIDS_LIMIT, hardenedRunOptions } from './runner-hardening.js';
export {
  AlgorithmServerContainer,
  TRY_CONTAINER_LABEL,
  algorithmContainerOptions,
  algorithmContainerUser,
  algorithmMountDirectories,
  checkImagePlatform,
  localAlgorithmImage,
  runAlgorithmContainer,
} from './algorithm-container.js';
export { taskBacklog, workersToStart } from './scaling.js';
export type { BacklogCounts } from './scaling.js';
// A worker's tasks side by side and its size: a rule of the job against the manifest (schemas/), named
// here beside the scaling rule that divides the backlog by it.
export { workerSize } from '../schemas/worker-size.js';
export type { WorkerSize } from '../schemas/worker-size.js';

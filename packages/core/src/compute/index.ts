// Every export of @sluice/core/compute: the container engine, wrapped images, local runner containers and the catalogue, named (no `export *`).

export { CONTAINER_ENGINE_ENV } from './container-engine.js';
export type {
  BuildImageOptions,
  ContainerDetails,
  ContainerEngine,
  ContainerEngineKind,
  ImageDetails,
  ImageLister,
  RegistryLogin,
  RunContainerOptions,
  Ulimit,
} from './container-engine.js';
export {
  ContainerEngineError,
  ImageBuildError,
  ImageNotFoundError,
  tailLines,
} from './container-engine-errors.js';
export {
  digestFromPushOutput,
  parseContainerInspect,
  parseImageInspect,
  repositoryOf,
} from './engine-inspect.js';
export { CliContainerEngine } from './cli-container-engine.js';
export type { CliContainerEngineOptions } from './cli-container-engine.js';
export { detectContainerEngine } from './detect-engine.js';
export type { DetectContainerEngineOptions } from './detect-engine.js';
export { CommandNotFoundError, ProcessCommandRunner } from './command-runner.js';
export type { CommandOptions, CommandResult, CommandRunner } from './command-runner.js';
export { readElfDependencies } from './elf.js';
export type { ElfDependencies } from './elf.js';
export {
  RUNTIME_DIR_IN_IMAGE,
  defaultCacheDir,
  hostPlatform,
  parseLdd,
  prepareNodeRuntime,
  runtimeCommand,
  runtimePlatform,
} from './node-runtime.js';
export type { NodeRuntime, PrepareNodeRuntimeOptions } from './node-runtime.js';
export {
  WRAPPED_ENV,
  WRAPPED_LABELS,
  WRAPPED_PATHS,
  algorithmImageTag,
  imageCommand,
  localMemoryLimitMiB,
  originalImageConfig,
  renderWrappedContainerfile,
  withDigest,
  wrapAlgorithm,
  wrappedImageLabels,
  wrappedImageTag,
} from './wrapped-image.js';
export type { OriginalImageConfig, WrapAlgorithmOptions, WrappedImage } from './wrapped-image.js';
export { LocalCatalogue, unknownAlgorithmError } from './catalogue.js';
export type {
  AlgorithmCatalogue,
  CatalogueEntry,
  CatalogueRegistration,
  RegisteredAlgorithm,
} from './catalogue.js';
export {
  LOCAL_RUN_LABEL,
  LOCAL_WORKER_LABEL,
  LOCAL_WORKER_ULIMITS,
  LocalWorkers,
  localWorkerLimits,
  localWorkerName,
} from './local-workers.js';
export type { EnsureReport, LocalWorkerCounts, LocalWorkerSpec } from './local-workers.js';
export { taskBacklog, workersToStart } from './scaling.js';
export type { BacklogCounts, WorkerDemand } from './scaling.js';

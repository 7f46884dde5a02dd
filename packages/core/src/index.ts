// Every public export of @sluice/core, named (no `export *`): see STYLE.md rule 4.

// errors
export {
  ConfigurationError,
  InfrastructureError,
  InterruptedError,
  SluiceError,
  ValidationError,
  formatProblem,
  isConfigurationError,
  toError,
} from './errors.js';
export type { Problem } from './errors.js';

// logging
export { silentLogger } from './logging/logger.js';
export type { Logger } from './logging/logger.js';

// schemas (the public contracts: algorithm.json, job.json)
export {
  checkDocuments,
  detectKind,
  parseJob,
  parseManifest,
  validateJob,
  validateManifest,
} from './schemas/documents.js';
export type {
  CheckReport,
  CheckedDocument,
  DocumentKind,
  DocumentSource,
  Validated,
} from './schemas/documents.js';
export { MANIFEST_DEFAULTS, MAX_TIMEOUT_SECONDS, manifestSchema } from './schemas/manifest.js';
export type {
  AlgorithmSource,
  ContainerPath,
  EnvVarSpec,
  Manifest,
  RawManifest,
} from './schemas/manifest.js';
export { JOB_DEFAULTS, RESERVED_PREFIX, jobSchema, parseAlgorithmRef } from './schemas/job.js';
export type { AlgorithmRef, CredentialsSource, EnvValue, Job, RawJob } from './schemas/job.js';
export {
  MAX_MEMORY_MIB,
  MIN_MEMORY_MIB,
  RUNNER_OVERHEAD_MIB,
  fargateSizes,
  isFargateSize,
  parseMemory,
  taskSize,
} from './schemas/memory.js';
export type { FargateSize } from './schemas/memory.js';
export { crossCheckJob } from './schemas/rules.js';
export type { CrossCheckFiles } from './schemas/rules.js';
export { CREDENTIALS_HINT, findLiteralSecrets } from './schemas/literal-secrets.js';
export { PUBLISHED_SCHEMAS } from './schemas/published.js';
export type { PublishedSchema } from './schemas/published.js';
export { renderReference } from './schemas/reference.js';

// ids and records (run id, task id, output keys, task record, completion marker)
export { canonicalJson } from './run/canonical-json.js';
export { MAX_RUN_ID_LENGTH, RUN_ID_PATTERN, isRunId, jobSlug, runId } from './run/run-id.js';
export type { RunIdentity } from './run/run-id.js';
export { TASK_ID_PATTERN, isTaskId, normalizeEtag, taskId } from './run/task-id.js';
export type { ObjectIdentity } from './run/task-id.js';
export { inputFilter } from './run/include.js';
export type { InputSelection, InputVerdict, SkipReason } from './run/include.js';
export {
  LEDGER_ROOT,
  MAX_KEY_BYTES,
  completionMarkerKey,
  isLedgerKey,
  ledgerPrefix,
  outputKey,
  outputPrefixFor,
  relativeInputKey,
  relativeOutputPath,
  resultsKey,
  stagingPrefix,
  taskLogKey,
  taskRecordKey,
} from './ledger/keys.js';
export type { KeyPrefixes } from './ledger/keys.js';
export {
  FAILURE_CLASSES,
  TASK_STATUSES,
  completionMarkerSchema,
  taskRecordSchema,
  validateCompletionMarker,
  validateTaskRecord,
} from './schemas/records.js';
export type {
  CompletionMarker,
  FailureClass,
  PhaseTimings,
  TaskAttempt,
  TaskInput,
  TaskOutput,
  TaskRecord,
  TaskStatus,
} from './schemas/records.js';

// execution: running one algorithm process for one task, the way the runner and `sluice try` do
export { runAlgorithm } from './execution/algorithm-process.js';
export type { AlgorithmInvocation, AlgorithmOutcome } from './execution/algorithm-process.js';
export { PortAlgorithm } from './execution/port-algorithm.js';
export type { PortAlgorithmOptions, PortTaskOutcome, PortTaskRequest } from './execution/port-algorithm.js';
export { RUNNER_VARIABLE_PREFIX, algorithmEnvironment, isWithheldVariable } from './execution/environment.js';
export { relativePathSegments, safeFileName } from './execution/safe-name.js';
export { DEFAULT_LOG_LIMIT_BYTES, TaskLog } from './execution/task-log.js';
export { classifyAttempt } from './execution/failure.js';
export type { AttemptEvidence, AttemptVerdict } from './execution/failure.js';
export {
  COMMAND_PLACEHOLDERS,
  TaskWorkspace,
  algorithmCommand,
  executeTask,
  hostPath,
  substitutePlaceholders,
  withManifestDefaults,
} from './execution/task-execution.js';
export type { CollectedOutput, TaskExecution, TaskExecutionResult } from './execution/task-execution.js';

// storage (S3) and queue (SQS) adapters
export { LIST_PAGE_SIZE, SMALL_OBJECT_MAX_BYTES } from './storage/object-store.js';
export type {
  BucketNotifications,
  DeleteManyResult,
  DownloadOptions,
  DownloadResult,
  EnsureBucketOptions,
  GetOptions,
  ListOptions,
  ObjectInfo,
  ObjectRef,
  ObjectStore,
  ObjectSummary,
  PutOptions,
  PutResult,
  QueueNotification,
  TextObject,
} from './storage/object-store.js';
export { S3ObjectStore } from './storage/s3-object-store.js';
export type { S3ObjectStoreOptions } from './storage/s3-object-store.js';
export { UPDATE_JSON_TRIES, updateJson } from './storage/update-json.js';
export type { JsonSnapshot } from './storage/update-json.js';
export {
  AwsRequestError,
  ObjectNotFoundError,
  PreconditionFailedError,
  UnreadableObjectError,
  classifyAwsError,
  describeAwsError,
  isTransientAwsError,
} from './storage/errors.js';
export { SQS_LIMITS } from './queue/task-queue.js';
export type {
  FailedSend,
  QueueCounts,
  ReceiveOptions,
  ReceivedMessage,
  SendBatchResult,
  SendEntry,
  TaskQueue,
} from './queue/task-queue.js';
export { SqsQueues, SqsTaskQueue } from './queue/sqs-task-queue.js';
export type { EnsureQueueOptions, EnsuredQueue, SqsTaskQueueOptions } from './queue/sqs-task-queue.js';
export { MessageNotHeldError, PurgeInProgressError, classifySqsError } from './queue/errors.js';
export { decodeS3EventKey, encodeS3EventKey, isObjectCreated, parseQueueMessage } from './queue/s3-event.js';
export type { QueueMessage, S3EventRecord } from './queue/s3-event.js';
export { checkTaskMessage, formatTaskMessage, taskMessageSchema } from './schemas/task-message.js';
export type { TaskMessage, TaskMessageCheck } from './schemas/task-message.js';

// runner configuration (SLUICE_RUN)
export {
  DEFAULT_RUNNER_MANIFEST_PATH,
  RUNNER_CONFIG_DEFAULTS,
  RUNNER_CONFIG_VARIABLE,
  RUNNER_MANIFEST_VARIABLE,
  parseRunnerConfig,
  runnerConfigSchema,
} from './schemas/runner-config.js';
export type { RunnerConfig } from './schemas/runner-config.js';

// compute: container engine and wrapped images
export {
  CONTAINER_ENGINE_ENV,
  CliContainerEngine,
  ContainerEngineError,
  ImageBuildError,
  ImageNotFoundError,
  detectContainerEngine,
  digestFromPushOutput,
  parseContainerInspect,
  parseImageInspect,
  repositoryOf,
  tailLines,
} from './compute/container-engine.js';
export type {
  BuildImageOptions,
  CliContainerEngineOptions,
  ContainerDetails,
  ContainerEngine,
  ContainerEngineKind,
  DetectContainerEngineOptions,
  ImageDetails,
  ImageLister,
  RegistryLogin,
  RunContainerOptions,
  Ulimit,
} from './compute/container-engine.js';
export { CommandNotFoundError, ProcessCommandRunner } from './compute/command-runner.js';
export type { CommandOptions, CommandResult, CommandRunner } from './compute/command-runner.js';
export { readElfDependencies } from './compute/elf.js';
export type { ElfDependencies } from './compute/elf.js';
export {
  RUNTIME_DIR_IN_IMAGE,
  defaultCacheDir,
  hostPlatform,
  parseLdd,
  prepareNodeRuntime,
  runtimeCommand,
  runtimePlatform,
} from './compute/node-runtime.js';
export type { NodeRuntime, PrepareNodeRuntimeOptions } from './compute/node-runtime.js';
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
} from './compute/wrapped-image.js';
export type { OriginalImageConfig, WrapAlgorithmOptions, WrappedImage } from './compute/wrapped-image.js';
export {
  ALGORITHM_CONTAINER,
  ALGORITHM_TAGS,
  EcsTaskDefinitions,
  MAX_MANIFEST_LABEL_BYTES,
  STOP_TIMEOUT_SECONDS,
  algorithmLogGroup,
  findTaskDefinition,
  normalizedTaskDefinition,
  parseTaskDefinitionArn,
  registerTaskDefinition,
  sameTaskDefinition,
  taskDefinitionFamily,
  taskDefinitionInput,
} from './compute/task-definition.js';
export type {
  RegisteredTaskDefinition,
  TaskDefinitionOptions,
  TaskDefinitionRegistration,
  TaskDefinitionRegistry,
} from './compute/task-definition.js';
export { EcrRegistry, ecrRegistryHost, ecrRepositoryName } from './compute/ecr-registry.js';
export type { EcrAuthorization, EcrRepository, EnsureRepositoryOptions } from './compute/ecr-registry.js';
export { EcsCatalogue, LocalCatalogue, unknownAlgorithmError } from './compute/catalogue.js';
export type {
  AlgorithmCatalogue,
  CatalogueEntry,
  CatalogueRegistration,
  EcsCatalogueOptions,
  RegisteredAlgorithm,
} from './compute/catalogue.js';
export { wrap, wrapDestinations } from './compute/wrap.js';
export type { PushRequest, PushTarget, WrapOptions, WrapResult } from './compute/wrap.js';

// run lifecycle: provision, dispatch, collect, teardown (and what they need of S3 and SQS)
export type { BucketAdmin } from './storage/bucket-admin.js';
export { S3BucketAdmin } from './storage/s3-bucket-admin.js';
export type { RunQueues } from './queue/run-queues.js';
export { SqsRunQueues } from './queue/sqs-run-queues.js';
export { RUN_PHASES, runStateSchema, validateRunState } from './schemas/run-state.js';
export type { RunBucket, RunPhase, RunQueueState, RunState } from './schemas/run-state.js';
export {
  MANAGED_TAG,
  OUTPUT_BUCKET_TAG,
  RUN_ID_TAG,
  deadLetterQueueName,
  endMarkerKey,
  notificationId,
  runStateKey,
  runTags,
  taskQueueName,
} from './run/run-names.js';
export type { RunDeps } from './run/lifecycle-deps.js';
export {
  REDACTED,
  algorithmText,
  findRunState,
  openRun,
  readRunState,
  runJob,
  storedJob,
  writeRunState,
} from './run/run-state.js';
export {
  RUN_NOTIFICATION_EVENTS,
  mergeNotification,
  notificationSuffix,
  notificationsOverlap,
  withoutNotification,
} from './run/notifications.js';
export { bucketArn, s3SendPolicy } from './run/queue-policy.js';
export {
  TASK_RETENTION_SECONDS,
  TASK_VISIBILITY_TIMEOUT_SECONDS,
  checkNoLoop,
  provisionRun,
} from './run/provision.js';
export type { ProvisionOptions, ProvisionResult } from './run/provision.js';
export { DONE_SET_LIMIT, dispatchTasks } from './run/dispatch.js';
export type { DispatchOptions, DispatchProgress, DispatchReport } from './run/dispatch.js';
export {
  MAX_REPORTED_FAILURES,
  UNKNOWN_DIGEST,
  collectResults,
  moveDeadLetters,
  workerLost,
} from './run/collect.js';
export type {
  CollectOptions,
  CollectProgress,
  CollectReport,
  InputCompletion,
  ResultCounts,
  ResultStatus,
  TaskResult,
} from './run/collect.js';
export { teardownRun } from './run/teardown.js';
export type { TeardownOptions, TeardownReport } from './run/teardown.js';
export { LOG_TAIL_BYTES, SUMMARY_MAX_BYTES, fetchLogTails, renderSummary } from './run/summary.js';
export type { SummaryOptions } from './run/summary.js';

// run steps: what the actions and the CLI call (job file or run id in, one step of a run out)
export { collectStep, dispatchStep, provisionStep, teardownStep } from './run/steps.js';
export type {
  CollectStepOptions,
  CollectStepResult,
  DispatchStepResult,
  ProvisionStepResult,
  RunTarget,
  StepContext,
} from './run/steps.js';
export {
  LOCAL_RUN_LABEL,
  LOCAL_WORKER_LABEL,
  LOCAL_WORKER_ULIMITS,
  LocalWorkers,
  localWorkerLimits,
  localWorkerName,
} from './compute/local-workers.js';
export type { EnsureReport, LocalWorkerCounts, LocalWorkerSpec } from './compute/local-workers.js';
export {
  attemptLogs,
  cancelRun,
  failedTasks,
  findTaskRecord,
  forEachTaskRecord,
  inspectClients,
  listRuns,
  logTail,
  runStatus,
} from './run/inspect.js';
export type {
  AttemptLog,
  CancelReport,
  FailedTask,
  InspectDeps,
  RecordCounts,
  RecordRead,
  RunListing,
  RunStatus,
} from './run/inspect.js';

// the watcher Lambda: its event (the schedule's Input) and its deployment
export { WATCHER_EVENT_VERSION, parseWatcherEvent, watcherEventSchema } from './schemas/watcher-event.js';
export type { WatcherEvent, WatcherLaunch } from './schemas/watcher-event.js';
export {
  WATCHER_FUNCTION_SETTINGS,
  WATCHER_PACKAGE_JSON,
  WATCHER_PERMISSION_ID,
  WATCHER_SCHEDULE,
  WATCHER_TARGET_ID,
  codeSha256,
  ensureWatcher,
  loadWatcherZip,
  locateWatcherBundle,
  removeWatcher,
  watcherFunctionName,
  watcherRuleName,
  watcherZip,
} from './run/watcher-function.js';
export type {
  EnsureWatcherOptions,
  WatcherClients,
  WatcherDeployment,
  WatcherRemoval,
} from './run/watcher-function.js';

// iam: the run's least-privilege roles (task, execution, watcher), their documents and the adapter
export {
  IAM_ROLE_NAME_MAX,
  POLICY_VERSION,
  RUN_ROLE_KINDS,
  RUN_ROLE_POLICY_NAME,
  ecsTasksTrustPolicy,
  executionRolePolicy,
  lambdaTrustPolicy,
  runRoleArns,
  runRoleDocuments,
  runRoleName,
  runRolePath,
  secretArn,
  taskRolePolicy,
  watcherRolePolicy,
} from './iam/policies.js';
export type {
  PolicyCondition,
  PolicyDocument,
  PolicyStatement,
  RunAccess,
  RunRoleDocuments,
  RunRoleKind,
} from './iam/policies.js';
export {
  GITHUB_OIDC_AUDIENCE,
  GITHUB_OIDC_HOST,
  deployerPolicy,
  githubOidcTrustPolicy,
  partitionOfRegion,
} from './iam/deployer-policy.js';
export type { DeployerScope, GitHubTrustScope } from './iam/deployer-policy.js';
export { IamRunRoles } from './iam/iam-run-roles.js';
export type { EnsureRunRolesOptions, EnsuredRunRoles, FoundRunRole } from './iam/iam-run-roles.js';

// ECS workers: the run's task definition, RunTask launches, networking and log group
export {
  DEFAULT_ECS_CLUSTER,
  EcsWorkers,
  MAX_OVERRIDES_CHARS,
  RUN_TASK_BATCH_SIZE,
  arnContext,
  backoffDelayMs,
  ecsLaunchTemplate,
  ecsRunnerVariables,
  runStartedBy,
  runTaskDefinitionFamily,
  runTaskDefinitionInput,
  runTaskGroup,
  runTaskTags,
  secretValueFrom,
  workersToStart,
} from './compute/ecs-workers.js';
export type {
  ArnContext,
  EcsLaunchOptions,
  EcsLaunchTemplate,
  EcsRunnerVariables,
  EcsWorkersOptions,
  EnsuredCluster,
  RunTaskDefinitionOptions,
  WorkerDemand,
  WorkerStartFailure,
  WorkerStartReport,
} from './compute/ecs-workers.js';
export { EcsNetwork, runSecurityGroupName } from './compute/ecs-network.js';
export type { EcsNetworkOptions, RunNetwork } from './compute/ecs-network.js';
export {
  RUN_LOG_RETENTION_DAYS,
  RunLogGroups,
  runLogConfiguration,
  runLogGroupLink,
  s3ObjectConsoleUrl,
  runLogGroupName,
  taskLogLink,
  taskLogStreamName,
} from './compute/run-log-group.js';
export type { TaskLogLink } from './compute/run-log-group.js';

// Every public export of @sluice/core's main entry, named (no `export *`); adapters live on subpaths
// (@sluice/core/aws, /compute, /ecs, /iam), as powertools keeps its DynamoDB adapter on one.

// errors
export {
  ConfigurationError,
  InfrastructureError,
  InterruptedError,
  JOB_FILE,
  RunIncompleteError,
  SluiceError,
  TasksFailedError,
  ValidationError,
  formatProblem,
  isConfigurationError,
  jobProblem,
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
export { canonicalJson } from './ids/canonical-json.js';
export { MAX_RUN_ID_LENGTH, RUN_ID_PATTERN, isRunId, jobSlug, runId } from './ids/run-id.js';
export type { RunIdentity } from './ids/run-id.js';
export { TASK_ID_PATTERN, isTaskId, normalizeEtag, taskId } from './ids/task-id.js';
export type { ObjectIdentity } from './ids/task-id.js';
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
} from './ids/ledger-keys.js';
export type { KeyPrefixes } from './ids/ledger-keys.js';
export {
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
export { algorithmEnvironment } from './execution/environment.js';
export { RUNNER_VARIABLE_PREFIX, isWithheldVariable } from './schemas/withheld-variables.js';
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
export { ObjectNotFoundError, PreconditionFailedError, UnreadableObjectError } from './storage/errors.js';
export { UPDATE_JSON_TRIES, updateJson } from './storage/update-json.js';
export type { JsonSnapshot } from './storage/update-json.js';
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

// run lifecycle: provision, dispatch, collect, teardown (and what they need of S3 and SQS)
export type { BucketAdmin } from './storage/bucket-admin.js';
export { S3BucketAdmin } from './storage/s3-bucket-admin.js';
export type { RunQueues } from './queue/run-queues.js';
export { SqsRunQueues } from './queue/sqs-run-queues.js';
export { runStateSchema, validateRunState } from './schemas/run-state.js';
export type { RunBucket, RunEcsState, RunPhase, RunQueueState, RunState } from './schemas/run-state.js';
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
} from './ids/run-names.js';
export { defaultSleep } from './run/lifecycle-deps.js';
export type { RunDeps } from './run/lifecycle-deps.js';
export { mapBounded } from './run/concurrency.js';
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
export { collectResults } from './run/collect.js';
export { MAX_REPORTED_FAILURES, UNKNOWN_DIGEST } from './run/collect-report.js';
export type {
  CollectOptions,
  CollectProgress,
  CollectReport,
  InputCompletion,
  ResultCounts,
  ResultStatus,
  TaskResult,
} from './run/collect-report.js';
export { moveDeadLetters, workerLost } from './run/dead-letters.js';
export { teardownRun } from './run/teardown.js';
export type { TeardownOptions, TeardownReport } from './run/teardown.js';

// run steps: what the actions and the CLI call (job file or run id in, one step of a run out)

// the watcher Lambda: its event (the schedule's Input) and its deployment
export { WATCHER_EVENT_VERSION, parseWatcherEvent, watcherEventSchema } from './schemas/watcher-event.js';
export type { WatcherEvent, WatcherLaunch } from './schemas/watcher-event.js';

// iam: the run's least-privilege roles (task, execution, watcher), their documents and the adapter

// ECS workers: the run's task definition, RunTask launches, networking and log group

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
export { SecretMask } from './logging/secret-mask.js';
export { JsonLog } from './logging/json-log.js';

// schemas (the public contracts: algorithm.json, job.json)
export { checkDocuments, parseJob, parseManifest } from './schemas/documents.js';
export type { CheckReport, CheckedDocument, DocumentKind, DocumentSource } from './schemas/documents.js';
export type { Manifest } from './schemas/manifest.js';
export type { Job } from './schemas/job.js';
export { crossCheckJob } from './schemas/rules.js';
export { renderReference } from './schemas/reference.js';

// ids and records (run id, task id, output keys, task record, completion marker)
export { canonicalJson } from './ids/canonical-json.js';
export { isRunId, runId } from './ids/run-id.js';
export { isTaskId, taskId } from './ids/task-id.js';
export {
  completionMarkerKey,
  ledgerPrefix,
  outputKeyUnder,
  resultsKey,
  taskLogKey,
  taskRecordKey,
} from './ids/ledger-keys.js';
export {
  INLINE_LOG_MAX_BYTES,
  completedRecord,
  validateCompletionMarker,
  validateTaskRecord,
} from './schemas/records.js';
export type {
  CompletionMarker,
  FailureClass,
  TaskAttempt,
  TaskRecord,
  TaskStatus,
} from './schemas/records.js';

// execution: running one algorithm process for one task, the way the runner and `sluice try` do
export { runAlgorithm } from './execution/algorithm-process.js';
export type { AlgorithmOutcome } from './execution/algorithm-process.js';
export { PortAlgorithm } from './execution/port-algorithm.js';
export { algorithmEnvironment } from './execution/environment.js';
export { TaskLog } from './execution/task-log.js';
export { classifyAttempt } from './execution/failure.js';
export type { AttemptVerdict } from './execution/failure.js';
export {
  TaskWorkspace,
  algorithmCommand,
  executeTask,
  withManifestDefaults,
} from './execution/task-execution.js';
export type { CollectedOutput } from './execution/task-execution.js';

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
export { ObjectNotFoundError, PreconditionFailedError, UnreadableObjectError } from './storage/errors.js';
export { updateJson } from './storage/update-json.js';
export { S3Presigner } from './storage/presign.js';
export type { PresignedGet, PresignedPost, Presigner } from './storage/presign.js';
export {
  downloadPresigned,
  PresignedRequestRefusedError,
  PresignedScopeError,
  uploadPresignedPost,
} from './storage/presigned-transfer.js';
export type { PresignedUploadResult } from './storage/presigned-transfer.js';
export type { JsonSnapshot } from './storage/update-json.js';
export { SQS_LIMITS } from './queue/task-queue.js';
export type {
  DeleteBatchResult,
  FailedSend,
  QueueCounts,
  ReceiveOptions,
  ReceivedMessage,
  SendBatchResult,
  SendEntry,
  TaskQueue,
} from './queue/task-queue.js';
export { SqsQueues, SqsTaskQueue } from './queue/sqs-task-queue.js';
export type { EnsureQueueOptions, EnsuredQueue } from './queue/sqs-task-queue.js';
export { MessageNotHeldError, PurgeInProgressError } from './queue/errors.js';
export { encodeS3EventKey, isObjectCreated, parseQueueMessage } from './queue/s3-event.js';
export type { S3EventRecord } from './queue/s3-event.js';
export { checkTaskMessage, formatTaskMessage } from './schemas/task-message.js';

// runner configuration (SLUICE_RUN)
export {
  DEFAULT_RUNNER_MANIFEST_PATH,
  RUNNER_BROKER_TOKEN_FILE_VARIABLE,
  RUNNER_BROKER_TOKEN_VARIABLE,
  RUNNER_CONFIG_DEFAULTS,
  RUNNER_CONFIG_VARIABLE,
  RUNNER_CREDENTIALS_MARGIN_SECONDS,
  RUNNER_MANIFEST_VARIABLE,
  parseRunnerConfig,
  sessionOutlastsTask,
} from './schemas/runner-config.js';
export type { RunnerConfig } from './schemas/runner-config.js';

// compute: container engine and wrapped images

// run lifecycle: provision, dispatch, collect, teardown (and what they need of S3 and SQS)
export type { BucketAdmin } from './storage/bucket-admin.js';
export { S3BucketAdmin } from './storage/s3-bucket-admin.js';
export type { RunQueues } from './queue/run-queues.js';
export { SqsRunQueues } from './queue/sqs-run-queues.js';
export type { RunEcsState, RunPhase, RunState } from './schemas/run-state.js';
export { OUTPUT_BUCKET_TAG, RUN_ID_TAG, endMarkerKey, runTags, taskQueueName } from './ids/run-names.js';
export { defaultSleep } from './run/lifecycle-deps.js';
export type { RunDeps } from './run/lifecycle-deps.js';
export { mapBounded } from './run/concurrency.js';
export { REDACTED, findRunState, openRun, readRunState, runJob, writeRunState } from './run/run-state.js';
export { provisionRun } from './run/provision.js';
export { dispatchTasks } from './run/dispatch.js';
export type { DispatchProgress } from './run/dispatch.js';
export { collectResults } from './run/collect.js';
export { readCompletionMarker } from './run/completion-marker.js';
export type { CollectProgress, CollectReport, InputCompletion, TaskResult } from './run/collect-report.js';
export { teardownRun } from './run/teardown.js';
export type { TeardownReport } from './run/teardown.js';

// run steps: what the actions and the CLI call (job file or run id in, one step of a run out)

// the watcher Lambda: its event (the schedule's Input) and its deployment
export { WATCHER_EVENT_VERSION, parseWatcherEvent } from './schemas/watcher-event.js';
export type { WatcherEvent, WatcherLaunch } from './schemas/watcher-event.js';

// iam: the run's least-privilege roles (task, execution, watcher), their documents and the adapter

// ECS workers: the run's task definition, RunTask launches, networking and log group

// Every export of @sluice/core/ecs: the ECS backend's adapters (task definitions, RunTask workers, network, log group, ECR, run roles, the watcher's deployment), named (no `export *`).

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
} from './task-definition.js';
export type {
  RegisteredTaskDefinition,
  TaskDefinitionOptions,
  TaskDefinitionRegistration,
  TaskDefinitionRegistry,
} from './task-definition.js';
export { EcrRegistry, ecrRegistryHost, ecrRepositoryName } from './ecr-registry.js';
export type { EcrAuthorization, EcrRepository, EnsureRepositoryOptions } from './ecr-registry.js';
export {
  WATCHER_FUNCTION_SETTINGS,
  WATCHER_PACKAGE_JSON,
  WATCHER_PERMISSION_ID,
  WATCHER_SCHEDULE,
  WATCHER_TARGET_ID,
  codeSha256,
  ensureWatcher,
  removeWatcher,
  watcherFunctionName,
  watcherRuleName,
  watcherZip,
} from './watcher-deployer.js';
export type {
  EnsureWatcherOptions,
  WatcherClients,
  WatcherDeployment,
  WatcherRemoval,
} from './watcher-deployer.js';
export { IamRunRoles } from './iam-run-roles.js';
export type { EnsureRunRolesOptions, EnsuredRunRoles, FoundRunRole } from './iam-run-roles.js';
export {
  DEFAULT_ECS_CLUSTER,
  runStartedBy,
  runTaskDefinitionFamily,
  runTaskGroup,
} from './run-task-names.js';
export { arnContext, ecsRunnerVariables, secretValueFrom } from './run-secrets.js';
export type { ArnContext, EcsRunnerVariables } from './run-secrets.js';
export { runTaskDefinitionInput } from './run-task-definition.js';
export type { RunTaskDefinitionOptions } from './run-task-definition.js';
export { MAX_OVERRIDES_CHARS, ecsLaunchTemplate, runTaskTags } from './run-task-request.js';
export type { EcsLaunchOptions, EcsLaunchTemplate } from './run-task-request.js';
export { EcsWorkers, RUN_TASK_BATCH_SIZE } from './ecs-workers.js';
export type {
  EcsWorkersOptions,
  EnsuredCluster,
  WorkerStartFailure,
  WorkerStartReport,
} from './ecs-workers.js';
// The scaling rule lives in compute/scaling.ts; named here too, beside the pool it sizes.
export { EcsNetwork, runSecurityGroupName } from './ecs-network.js';
export type { EcsNetworkOptions, RunNetwork } from './ecs-network.js';
export {
  RUN_LOG_RETENTION_DAYS,
  RunLogGroups,
  runLogConfiguration,
  runLogGroupLink,
  s3ObjectConsoleUrl,
  runLogGroupName,
  taskLogLink,
  taskLogStreamName,
} from './run-log-group.js';
export type { TaskLogLink } from './run-log-group.js';
export { EcsCatalogue } from './ecs-catalogue.js';
export type { EcsCatalogueOptions } from './ecs-catalogue.js';

// Every export of @sluice/core/ecs: the ECS backend's adapters (task definitions, RunTask workers, network, log group, ECR, run roles, the watcher's and the broker's deployment), named (no `export *`).

export {
  ALGORITHM_CONTAINER,
  ALGORITHM_TAGS,
  EcsTaskDefinitions,
  normalizedTaskDefinition,
  registerTaskDefinition,
  sameTaskDefinition,
  taskDefinitionInput,
} from './task-definition.js';
export type { RegisteredTaskDefinition, TaskDefinitionRegistry } from './task-definition.js';
export { EcrRegistry, ecrRegistryHost, ecrRepositoryName } from './ecr-registry.js';
export { ensureWatcher, removeWatcher } from './watcher-deployer.js';
export {
  BROKER_FUNCTION_SETTINGS,
  BROKER_KEY_VARIABLE,
  BROKER_SETTINGS_VARIABLE,
  brokerFunctionName,
  ensureBroker,
  removeBroker,
} from './broker-function.js';
export type { BrokerFunctionSettings } from './broker-function.js';
export { WATCHER_PACKAGE_JSON, codeSha256, watcherZip } from './watcher-package.js';
export { WATCHER_PERMISSION_ID } from './watcher-function.js';
export { WATCHER_TARGET_ID } from './watcher-schedule.js';
export { IamRunRoles } from './iam-run-roles.js';
export { DEFAULT_ECS_CLUSTER, runnerContainerNames, runTaskDefinitionFamily } from './run-task-names.js';
export { arnContext, ecsRunnerVariables } from './run-secrets.js';
export { runTaskDefinitionInput } from './run-task-definition.js';
export type { RunTaskDefinitionOptions } from './run-task-definition.js';
export { ecsLaunchTemplate } from './run-task-request.js';
export type { EcsLaunchTemplate } from './run-task-request.js';
export { EcsWorkers, RUN_TASK_BATCH_SIZE } from './ecs-workers.js';
// The scaling rule lives in compute/scaling.ts; named here too, beside the pool it sizes.
export { EcsNetwork } from './ecs-network.js';
export type { RunNetwork } from './ecs-network.js';
export { RunLogGroups, runLogGroupLink, s3ObjectConsoleUrl, runLogGroupName } from './run-log-group.js';
export { EcsCatalogue } from './ecs-catalogue.js';

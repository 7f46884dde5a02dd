// Every public export of @sluice/testing, named (no `export *`).

// test bed: endpoints and isolated AWS "accounts" (owned by the test-bed work)
export { TestAwsAccount, TESTBED_CREDENTIALS, testbedAwsClientConfig } from './testbed-aws.js';
export type { TestAwsAccountOptions, TestQueue, TestbedAwsClientConfig } from './testbed-aws.js';
export {
  TESTBED_CONTAINERS_CONF,
  TESTBED_REGISTRIES_CONF,
  TESTBED_STORAGE_CONF,
  containerEngineEnv,
} from './testbed-containers.js';
export type { ContainerEngineEnv } from './testbed-containers.js';
export {
  REPOSITORY_ROOT,
  TESTBED_AWS_ENDPOINT_ENV,
  TESTBED_ENDPOINTS_FILE,
  TESTBED_REGION,
  TESTBED_REGISTRY_ENV,
  TESTBED_STATE_DIR,
  TestbedNotRunningError,
  readEndpointsFile,
  testbedEndpoints,
} from './testbed-endpoints.js';
export type { TestbedEndpoints, TestbedEndpointsFile } from './testbed-endpoints.js';

// fakes of core's own interfaces (owned by the adapters work)
export { ManualClock, systemClock } from './fake-clock.js';
export type { FakeClock } from './fake-clock.js';
export { FakeObjectStore } from './fake-object-store.js';
export type { FakeObjectStoreOptions } from './fake-object-store.js';
export { FakeTaskQueue } from './fake-task-queue.js';
export type { FakeTaskQueueOptions } from './fake-task-queue.js';
export { FakeRunQueues } from './fake-run-queues.js';
export type { FakeRunQueuesOptions } from './fake-run-queues.js';
export { describeObjectStoreContract } from './contract-object-store.js';
export type { ObjectStoreHarness } from './contract-object-store.js';
export { describeTaskQueueContract } from './contract-task-queue.js';
export type { TaskQueueHarness } from './contract-task-queue.js';
export { FakeCommandRunner, fakeHostTools } from './fake-command-runner.js';
export type { CommandCall, CommandScript } from './fake-command-runner.js';
export { FakeContainerEngine } from './fake-container-engine.js';
export type {
  FakeContainer,
  FakeContainerEngineOptions,
  FakeExit,
  FakeProgram,
} from './fake-container-engine.js';
export { FakeTaskDefinitionRegistry } from './fake-task-definition-registry.js';
export { RecordingLogger } from './recording-logger.js';
export type { LogLevel } from './recording-logger.js';
export {
  CONTAINER_CONTRACT_PROGRAM,
  describeContainerEngineContract,
  writeContractImageContext,
} from './contract-container-engine.js';
export type { ContainerEngineHarness } from './contract-container-engine.js';
export { describeTaskDefinitionRegistryContract } from './contract-task-definition-registry.js';
export type { TaskDefinitionRegistryHarness } from './contract-task-definition-registry.js';

// an in-memory @actions/core for action-kit and the actions (typed by shape: see memory-toolkit.ts)
export { createMemoryToolkit } from './memory-toolkit.js';
export type { MemoryAnnotationProperties, MemoryToolkit, RecordedMessage } from './memory-toolkit.js';

// action.yml against an action's constants.ts
export { describeActionYaml } from './action-yaml-contract.js';
export type { ActionConstants } from './action-yaml-contract.js';
export {
  ECS_PLAYER_TASK_LABEL,
  EcsPlayer,
  testbedTaskEnv,
  type EcsPlayerOptions,
  type PlayedTask,
} from './ecs-player.js';

// GitHub's REST API (commit comments), on a loopback port
export { FakeGitHubApi } from './fake-github-api.js';
export type { FakeCommitComment, ReceivedGitHubRequest } from './fake-github-api.js';

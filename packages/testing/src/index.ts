// Every public export of @sluice/testing, named (no `export *`).

// test bed: endpoints and isolated AWS "accounts" (owned by the test-bed work)
export {
  TestAwsAccount,
  TESTBED_CREDENTIALS,
  seaweedAccount,
  testbedAwsClientConfig,
} from './testbed-aws.js';
export type { TestQueue } from './testbed-aws.js';
export { containerEngineEnv } from './testbed-containers.js';
export { REPOSITORY_ROOT, TESTBED_STATE_DIR, testbedEndpoints } from './testbed-endpoints.js';

// fakes of core's own interfaces (owned by the adapters work)
export { FakeObjectStore } from './fake-object-store.js';
export { FakeTaskQueue } from './fake-task-queue.js';
export { FakeRunQueues } from './fake-run-queues.js';
export { describeObjectStoreContract } from './contract-object-store.js';
export { describeTaskQueueContract } from './contract-task-queue.js';
export { RecordingLogger } from './recording-logger.js';
export { attemptLogText, readTaskState } from './attempt-log.js';
export { FakeCommandRunner } from './fake-command-runner.js';
export { writeFakeCdiSpec } from './fake-cdi-spec.js';
export { describeContainerEngineContract, writeContractImageContext } from './contract-container-engine.js';
export { describeTaskDefinitionRegistryContract } from './contract-task-definition-registry.js';

// an in-memory @actions/core for action-kit and the actions (typed by shape: see memory-toolkit.ts)
export { createMemoryToolkit } from './memory-toolkit.js';

// action.yml against an action's constants.ts
export { describeActionYaml } from './action-yaml-contract.js';
export { EcsPlayer, testbedTaskEnv } from './ecs-player.js';

// GitHub's REST API (commit comments), on a loopback port
export { FakeGitHubApi } from './fake-github-api.js';

// The task definition registry contract against the fake; test/integration/ecs-registration.test.ts
// runs it against ECS on moto.
import { describeTaskDefinitionRegistryContract } from './contract-task-definition-registry.js';
import { FakeTaskDefinitionRegistry } from './fake-task-definition-registry.js';

describeTaskDefinitionRegistryContract('FakeTaskDefinitionRegistry', () => {
  const registry = new FakeTaskDefinitionRegistry();
  return Promise.resolve({
    registry,
    id: 'fake',
    deregister: (arn: string) => {
      registry.deregister(arn);
      return Promise.resolve();
    },
    cleanup: () => Promise.resolve(),
  });
});

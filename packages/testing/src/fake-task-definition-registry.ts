// A TaskDefinitionRegistry in memory that answers the way ECS does: revisions numbered per family,
// ECS's defaults filled into every container (cpu 0, empty lists, the awsvpc host port), newest first.
// The task definition registry contract runs against it and against ECS on moto.
import type { RegisterTaskDefinitionCommandInput, TaskDefinition } from '@aws-sdk/client-ecs';
import type { RegisteredTaskDefinition, TaskDefinitionRegistry } from '@sluice/core/ecs';

/**
 * A {@link TaskDefinitionRegistry} in memory. `revisions` holds every registration; an ARN in
 * `inactive` is deregistered (listActive skips it, describe still finds it, as in ECS).
 *
 * @example
 * const registry = new FakeTaskDefinitionRegistry();
 * const { revision } = await registerTaskDefinition(registry, taskDefinitionInput(options));
 */
export class FakeTaskDefinitionRegistry implements TaskDefinitionRegistry {
  readonly revisions: RegisteredTaskDefinition[] = [];
  readonly inactive = new Set<string>();

  /** Marks a revision INACTIVE, as DeregisterTaskDefinition does. */
  deregister(arn: string): void {
    this.inactive.add(arn);
  }

  async *listActive(family: string): AsyncIterable<string> {
    const arns = this.revisions
      .filter((r) => r.family === family && !this.inactive.has(r.arn))
      .sort((a, b) => b.revision - a.revision)
      .map((r) => r.arn);
    for (const arn of arns) yield await Promise.resolve(arn);
  }

  describe(taskDefinition: string): Promise<RegisteredTaskDefinition | undefined> {
    const found = this.revisions.find((r) => r.arn === taskDefinition);
    if (found === undefined || !this.inactive.has(found.arn)) return Promise.resolve(found);
    return Promise.resolve({ ...found, taskDefinition: { ...found.taskDefinition, status: 'INACTIVE' } });
  }

  register(input: RegisterTaskDefinitionCommandInput): Promise<RegisteredTaskDefinition> {
    const family = input.family ?? '';
    const revision = this.revisions.filter((r) => r.family === family).length + 1;
    const arn = `arn:aws:ecs:eu-west-1:123456789012:task-definition/${family}:${revision}`;
    const { tags, ...rest } = input;
    const taskDefinition: TaskDefinition = {
      ...rest,
      taskDefinitionArn: arn,
      revision,
      status: 'ACTIVE',
      compatibilities: ['EC2', 'FARGATE'],
      registeredAt: new Date(),
      containerDefinitions: (input.containerDefinitions ?? []).map((container) => ({
        cpu: 0,
        environment: [],
        mountPoints: [],
        volumesFrom: [],
        systemControls: [],
        ...container,
        portMappings: (container.portMappings ?? []).map((m) => ({
          hostPort: m.containerPort,
          protocol: 'tcp',
          ...m,
        })),
      })),
    };
    const made = { arn, family, revision, taskDefinition, tags: tags ?? [] };
    this.revisions.push(made);
    return Promise.resolve(made);
  }
}

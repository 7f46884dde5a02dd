// A TaskDefinitionRegistry in memory that answers the way ECS does: revisions numbered per family,
// ECS's defaults filled into every container (cpu 0, empty lists, the awsvpc host port), newest first.
import type { RegisterTaskDefinitionCommandInput, TaskDefinition } from '@aws-sdk/client-ecs';

import type { RegisteredTaskDefinition, TaskDefinitionRegistry } from './task-definition.js';

export class FakeTaskDefinitionRegistry implements TaskDefinitionRegistry {
  readonly revisions: RegisteredTaskDefinition[] = [];
  readonly inactive = new Set<string>();

  async *listActive(family: string): AsyncIterable<string> {
    const arns = this.revisions
      .filter((r) => r.family === family && !this.inactive.has(r.arn))
      .sort((a, b) => b.revision - a.revision)
      .map((r) => r.arn);
    for (const arn of arns) yield await Promise.resolve(arn);
  }

  describe(taskDefinition: string): Promise<RegisteredTaskDefinition | undefined> {
    return Promise.resolve(this.revisions.find((r) => r.arn === taskDefinition));
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

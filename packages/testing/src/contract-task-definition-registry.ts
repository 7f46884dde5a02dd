// What every TaskDefinitionRegistry must do, as registerTaskDefinition and the ECS catalogue use it,
// written once and run against the fake (unit tests) and ECS on moto (integration tests), so the
// fake cannot drift from ECS: above all, a revision read back must compare equal to its input, or
// every wrap would pile up a new revision instead of reusing the last.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { parseManifest } from '@sluice/core';
import {
  ALGORITHM_TAGS,
  sameTaskDefinition,
  taskDefinitionInput,
  type TaskDefinitionRegistry,
} from '@sluice/core/ecs';

/** Per test: generous, since against a server every step is a request. */
const TIMEOUT_MS = 60_000;

/** A registry and how to deregister a revision, for one suite. */
export interface TaskDefinitionRegistryHarness {
  readonly registry: TaskDefinitionRegistry;
  /** Unique to this suite; algorithm names (and so families) are made from it. */
  readonly id: string;
  /** Deregisters a revision (ECS's DeregisterTaskDefinition: it becomes INACTIVE). */
  deregister(arn: string): Promise<void>;
  cleanup(): Promise<void>;
}

const digest = (c: string): string => `sha256:${c.repeat(64)}`;

/** The RegisterTaskDefinition input wrap makes for a manifest with a port, variables and a read-only root. */
function input(name: string, version: string, c: string) {
  const manifestText = JSON.stringify({
    name,
    version,
    image: 'algo:1',
    memory: 512,
    port: 8080,
    readOnlyRootFilesystem: true,
    env: { SIZE: { default: '128' }, TOKEN: { secret: true } },
  });
  return taskDefinitionInput({
    manifest: parseManifest(manifestText, 'algorithm.json'),
    manifestText,
    image: `127.0.0.1:5000/sluice/${name}:${version}@${digest(c)}`,
    region: 'us-east-1',
    executionRoleArn: 'arn:aws:iam::123456789012:role/sluice-exec',
  });
}

async function all(arns: AsyncIterable<string>): Promise<string[]> {
  const list: string[] = [];
  for await (const arn of arns) list.push(arn);
  return list;
}

/**
 * Registers the TaskDefinitionRegistry contract tests under `describe(name)`; `makeHarness` runs
 * once before them. Each test uses its own algorithm name, so its own family.
 *
 * @example
 * describeTaskDefinitionRegistryContract('FakeTaskDefinitionRegistry', async () => {
 *   const registry = new FakeTaskDefinitionRegistry();
 *   return { registry, id: 'fake', deregister: async (arn) => registry.deregister(arn), cleanup: async () => {} };
 * });
 */
export function describeTaskDefinitionRegistryContract(
  name: string,
  makeHarness: () => Promise<TaskDefinitionRegistryHarness>,
): void {
  describe(`TaskDefinitionRegistry contract: ${name}`, () => {
    let h: TaskDefinitionRegistryHarness;

    beforeAll(async () => {
      h = await makeHarness();
    }, TIMEOUT_MS);

    afterAll(async () => {
      await h.cleanup();
    }, TIMEOUT_MS);

    it(
      'numbers revisions per family and reads each back, with its tags, the same as its input',
      async () => {
        const algorithm = `ct-a-${h.id}`;
        const first = await h.registry.register(input(algorithm, '1.0', 'a'));
        const second = await h.registry.register(input(algorithm, '1.0', 'b'));

        const described = await h.registry.describe(first.arn);

        expect(first).toMatchObject({ family: `sluice-${algorithm}`, revision: 1 });
        expect(first.arn).toMatch(new RegExp(`:task-definition/sluice-${algorithm}:1$`));
        expect(second).toMatchObject({ family: `sluice-${algorithm}`, revision: 2 });
        expect(described).toMatchObject({ arn: first.arn, family: `sluice-${algorithm}`, revision: 1 });
        expect(described?.tags).toEqual(
          expect.arrayContaining([
            { key: ALGORITHM_TAGS.name, value: algorithm },
            { key: ALGORITHM_TAGS.digest, value: digest('a') },
          ]),
        );
        // registerTaskDefinition reuses a revision only when this holds: ECS's defaults must not count.
        expect(described !== undefined && sameTaskDefinition(input(algorithm, '1.0', 'a'), described)).toBe(
          true,
        );
        expect(sameTaskDefinition(input(algorithm, '1.0', 'a'), second)).toBe(false);
      },
      TIMEOUT_MS,
    );

    it(
      'lists the ACTIVE revisions of exactly the family, newest first',
      async () => {
        const algorithm = `ct-b-${h.id}`;
        const one = await h.registry.register(input(algorithm, '1.0', 'a'));
        const two = await h.registry.register(input(algorithm, '1.0', 'b'));
        const longer = await h.registry.register(input(`${algorithm}-x`, '1.0', 'a'));

        const listed = await all(h.registry.listActive(`sluice-${algorithm}`));

        expect(listed).toEqual([two.arn, one.arn]);
        expect(listed).not.toContain(longer.arn);
        expect(await all(h.registry.listActive(`sluice-ct-none-${h.id}`))).toEqual([]);
      },
      TIMEOUT_MS,
    );

    it(
      'leaves a deregistered revision out of the list, and numbers the next one after it',
      async () => {
        const algorithm = `ct-c-${h.id}`;
        const one = await h.registry.register(input(algorithm, '1.0', 'a'));
        const two = await h.registry.register(input(algorithm, '1.0', 'b'));

        await h.deregister(two.arn);
        const listed = await all(h.registry.listActive(`sluice-${algorithm}`));
        const three = await h.registry.register(input(algorithm, '1.0', 'b'));

        expect(listed).toEqual([one.arn]);
        expect(three.revision).toBe(3);
      },
      TIMEOUT_MS,
    );

    it(
      'describes a revision that does not exist as undefined',
      async () => {
        const arn = `arn:aws:ecs:us-east-1:123456789012:task-definition/sluice-ct-none-${h.id}:1`;

        expect(await h.registry.describe(arn)).toBeUndefined();
      },
      TIMEOUT_MS,
    );
  });
}

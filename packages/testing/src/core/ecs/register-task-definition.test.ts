// Registering a task definition against the fake registry: when a revision is reused, and the
// comparison that decides it. Here rather than in packages/core because a core test importing
// @sluice/testing would make the two projects depend on each other (nx refuses the cycle); the task
// definition registry contract checks the fake against ECS on moto.
import { describe, expect, it } from '@jest/globals';
import { parseManifest } from '@sluice/core';
import {
  normalizedTaskDefinition,
  registerTaskDefinition,
  sameTaskDefinition,
  taskDefinitionInput,
} from '@sluice/core/ecs';

import { FakeTaskDefinitionRegistry } from '../../fake-task-definition-registry.js';

const DIGEST = `sha256:${'d'.repeat(64)}`;
const OTHER_DIGEST = `sha256:${'e'.repeat(64)}`;
const IMAGE = `127.0.0.1:5000/sluice/thumbs:1.0@${DIGEST}`;

function input(manifest: Record<string, unknown>, image = IMAGE, extra: { executionRoleArn?: string } = {}) {
  const text = JSON.stringify({ name: 'thumbs', version: '1.0', image: 'algo:1', memory: 512, ...manifest });
  return taskDefinitionInput({
    manifest: parseManifest(text, 'algorithm.json'),
    manifestText: text,
    image,
    region: 'eu-west-1',
    ...extra,
  });
}

describe('the reuse comparison', () => {
  it('finds a registered revision (with ECS defaults filled in) the same as its input', async () => {
    const registry = new FakeTaskDefinitionRegistry();
    const wanted = input({ port: 9000, env: { B: { default: '2' }, A: { default: '1' } } });
    const made = await registry.register(wanted);

    expect(made.taskDefinition.containerDefinitions?.[0]?.cpu).toBe(0);
    expect(sameTaskDefinition(wanted, made)).toBe(true);
  });

  it('tells apart another digest, other memory, another role', async () => {
    const registry = new FakeTaskDefinitionRegistry();
    const made = await registry.register(input({}));

    expect(sameTaskDefinition(input({}, `127.0.0.1:5000/sluice/thumbs:1.0@${OTHER_DIGEST}`), made)).toBe(
      false,
    );
    expect(sameTaskDefinition(input({ memory: 1024 }), made)).toBe(false);
    expect(sameTaskDefinition(input({}, IMAGE, { executionRoleArn: 'arn:aws:iam::1:role/x' }), made)).toBe(
      false,
    );
  });

  it('reads linuxParameters with empty lists as unset, and tells apart other capabilities or no init process', async () => {
    const registry = new FakeTaskDefinitionRegistry();
    const wanted = input({});
    const made = await registry.register(wanted);
    const [container] = made.taskDefinition.containerDefinitions ?? [];
    const described = (linuxParameters: object) => ({
      ...made,
      taskDefinition: { ...made.taskDefinition, containerDefinitions: [{ ...container, linuxParameters }] },
    });

    const drop = wanted.containerDefinitions?.[0]?.linuxParameters?.capabilities?.drop;
    expect(drop?.length).toBeGreaterThan(0);
    // As ECS describes it back: the same drop list, and empty lists for what was not given.
    expect(
      sameTaskDefinition(
        wanted,
        described({
          capabilities: { add: [], drop },
          devices: [],
          tmpfs: [],
          initProcessEnabled: true,
        }),
      ),
    ).toBe(true);
    expect(sameTaskDefinition(wanted, described({ capabilities: { drop: ['ALL'] } }))).toBe(false);
    expect(
      sameTaskDefinition(
        wanted,
        described({ capabilities: { add: ['SYS_ADMIN'], drop: ['ALL'] }, initProcessEnabled: true }),
      ),
    ).toBe(false);
    expect(sameTaskDefinition(wanted, described({}))).toBe(false);
  });

  it('ignores the order of tags, variables and labels', () => {
    const a = input({ env: { A: { default: '1' }, B: { default: '2' } } });
    const b = { ...a, tags: [...(a.tags ?? [])].reverse() };

    expect(normalizedTaskDefinition(a, a.tags)).toBe(normalizedTaskDefinition(b, b.tags));
  });
});

describe('registerTaskDefinition', () => {
  it('reuses the revision for the same digest and settings, and adds one for a new digest', async () => {
    const registry = new FakeTaskDefinitionRegistry();

    const first = await registerTaskDefinition(registry, input({}));
    const again = await registerTaskDefinition(registry, input({}));
    const changed = await registerTaskDefinition(
      registry,
      input({}, `127.0.0.1:5000/sluice/thumbs:1.0@${OTHER_DIGEST}`),
    );

    expect(first).toMatchObject({ revision: 1, reused: false });
    expect(again).toEqual({ ...first, reused: true });
    expect(changed).toMatchObject({ revision: 2, reused: false });
  });

  it('compares with the newest revision of the same version, not another version registered since', async () => {
    const registry = new FakeTaskDefinitionRegistry();
    const v1 = await registerTaskDefinition(registry, input({}));
    await registerTaskDefinition(
      registry,
      input({ version: '2.0' }, `127.0.0.1:5000/sluice/thumbs:2.0@${OTHER_DIGEST}`),
    );

    const v1Again = await registerTaskDefinition(registry, input({}));

    expect(v1Again).toEqual({ ...v1, reused: true });
  });

  it('registers anew when the matching revision was deregistered', async () => {
    const registry = new FakeTaskDefinitionRegistry();
    const first = await registerTaskDefinition(registry, input({}));
    registry.deregister(first.arn);

    const again = await registerTaskDefinition(registry, input({}));

    expect(again).toMatchObject({ revision: 2, reused: false });
  });
});

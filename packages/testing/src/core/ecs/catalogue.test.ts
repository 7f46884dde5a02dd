// The ECS catalogue against the fake task definition registry, and the local catalogue against the
// fake container engine's images. Here rather than in packages/core because a core test importing
// @sluice/testing would make the two projects depend on each other (nx refuses the cycle).
import { describe, expect, it } from '@jest/globals';
import { ConfigurationError, parseManifest } from '@sluice/core';
import { LocalCatalogue, WRAPPED_LABELS, parseImageInspect, type ImageDetails } from '@sluice/core/compute';
import { EcsCatalogue } from '@sluice/core/ecs';

import { FakeContainerEngine } from '../../fake-container-engine.js';
import { FakeTaskDefinitionRegistry } from '../../fake-task-definition-registry.js';

const DIGEST = `sha256:${'d'.repeat(64)}`;

function registration(version = '1.0.0', name = 'thumbnails') {
  const manifestText = JSON.stringify({
    name,
    version,
    image: 'algo:1',
    memory: 256,
    env: { SIZE: { default: '64' } },
  });
  return {
    manifest: parseManifest(manifestText, 'algorithm.json'),
    manifestText,
    image: `127.0.0.1:5000/sluice/${name}:${version}@${DIGEST}`,
  };
}

describe('EcsCatalogue', () => {
  it('resolves name@version to the image, the task definition and the manifest it registered', async () => {
    const taskDefinitions = new FakeTaskDefinitionRegistry();
    const catalogue = new EcsCatalogue({ taskDefinitions, region: 'eu-west-1' });
    const registered = await catalogue.register(registration());

    const entry = await catalogue.resolve('thumbnails@1.0.0');

    expect(registered.reused).toBe(false);
    expect(entry).toEqual({
      name: 'thumbnails',
      version: '1.0.0',
      image: `127.0.0.1:5000/sluice/thumbnails:1.0.0@${DIGEST}`,
      taskDefinitionArn: registered.taskDefinitionArn,
      manifest: registration().manifest,
    });
  });

  it('keeps versions apart in one family and reuses an identical registration', async () => {
    const taskDefinitions = new FakeTaskDefinitionRegistry();
    const catalogue = new EcsCatalogue({ taskDefinitions, region: 'eu-west-1' });
    const v1 = await catalogue.register(registration('1.0.0'));
    const v2 = await catalogue.register(registration('2.0.0'));
    const v1Again = await catalogue.register(registration('1.0.0'));

    expect(v1Again).toMatchObject({ reused: true, taskDefinitionArn: v1.taskDefinitionArn });
    expect((await catalogue.resolve({ name: 'thumbnails', version: '1.0.0' })).taskDefinitionArn).toBe(
      v1.taskDefinitionArn,
    );
    expect((await catalogue.resolve('thumbnails@2.0.0')).taskDefinitionArn).toBe(v2.taskDefinitionArn);
    expect(taskDefinitions.revisions).toHaveLength(2);
  });

  it('says which algorithm is unknown and what to run', async () => {
    const catalogue = new EcsCatalogue({
      taskDefinitions: new FakeTaskDefinitionRegistry(),
      region: 'eu-west-1',
    });

    const failure = catalogue.resolve('thumbnails@1.0.0');

    await expect(failure).rejects.toThrow(ConfigurationError);
    await expect(failure).rejects.toThrow(
      /no algorithm thumbnails@1\.0\.0 is registered in ECS in eu-west-1 .*run wrap-algorithm \(or `sluice wrap algorithm\.json`\) first/,
    );
  });

  it('refuses a reference that is not name@version', async () => {
    const catalogue = new EcsCatalogue({
      taskDefinitions: new FakeTaskDefinitionRegistry(),
      region: 'eu-west-1',
    });

    await expect(catalogue.resolve('thumbnails')).rejects.toThrow('write name@version');
  });
});

/** A fake engine holding these images. */
function engineWith(images: ImageDetails[]): FakeContainerEngine {
  const engine = new FakeContainerEngine();
  for (const image of images) engine.addImage(image);
  return engine;
}

function wrappedImage(id: string, tags: string[], version = '1.0.0'): ImageDetails {
  const { manifestText } = registration(version);
  return parseImageInspect(
    JSON.stringify({
      Id: id.repeat(64),
      RepoTags: tags,
      Config: {
        Labels: {
          [WRAPPED_LABELS.algorithm]: `thumbnails@${version}`,
          [WRAPPED_LABELS.manifestJson]: manifestText,
        },
      },
    }),
  );
}

describe('LocalCatalogue', () => {
  it("resolves to the image with wrap's own tag, by id, with its manifest", async () => {
    const engine = engineWith([
      wrappedImage('1', []),
      wrappedImage('2', ['localhost/sluice/thumbnails:1.0.0']),
      wrappedImage('3', ['localhost/sluice/thumbnails:2.0.0'], '2.0.0'),
    ]);

    const entry = await new LocalCatalogue(engine).resolve('thumbnails@1.0.0');

    expect(entry).toEqual({
      name: 'thumbnails',
      version: '1.0.0',
      image: `sha256:${'2'.repeat(64)}`,
      manifest: registration().manifest,
    });
  });

  it('registers a wrapped image of the algorithm, and refuses another image', async () => {
    const engine = engineWith([
      wrappedImage('2', ['localhost/sluice/thumbnails:1.0.0']),
      wrappedImage('3', ['localhost/sluice/thumbnails:2.0.0'], '2.0.0'),
    ]);
    const catalogue = new LocalCatalogue(engine);

    const entry = await catalogue.register({ ...registration(), image: 'localhost/sluice/thumbnails:1.0.0' });

    expect(entry).toMatchObject({ image: `sha256:${'2'.repeat(64)}`, reused: true });
    await expect(
      catalogue.register({ ...registration(), image: 'localhost/sluice/thumbnails:2.0.0' }),
    ).rejects.toThrow('is not a wrapped image of thumbnails@1.0.0');
  });

  it('says the algorithm is unknown when no image carries its label', async () => {
    const failure = new LocalCatalogue(engineWith([])).resolve('thumbnails@1.0.0');

    await expect(failure).rejects.toThrow(
      'no algorithm thumbnails@1.0.0 is registered in the local image store (no image is labelled org.sluice.algorithm=thumbnails@1.0.0): run wrap-algorithm (or `sluice wrap algorithm.json`) first',
    );
  });
});

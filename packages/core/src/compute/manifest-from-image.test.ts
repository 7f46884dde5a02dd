import { describe, expect, it } from '@jest/globals';

import { checkDocuments } from '../schemas/documents.js';
import type { ImageDetails } from './container-engine.js';
import { algorithmNameFrom, isSettingVariable, manifestFromImage } from './manifest-from-image.js';

const IMAGE: ImageDetails = {
  id: `sha256:${'a'.repeat(64)}`,
  repoDigests: [],
  repoTags: ['ghcr.io/acme/edge-detect:1.4.2'],
  entrypoint: ['/usr/bin/edges'],
  cmd: ['--fast'],
  workingDir: '/srv',
  user: '1000:1000',
  env: [
    'PATH=/usr/local/bin:/usr/bin',
    'HOME=/root',
    'LANG=C.UTF-8',
    'LC_ALL=C',
    'PYTHON_VERSION=3.12.1',
    'JAVA_HOME=/opt/java',
    'EDGE_THRESHOLD=0.4',
    'MODE=fast',
    'API_TOKEN=baked-in',
  ],
  exposedPorts: ['8080/tcp'],
  labels: {},
  os: 'linux',
  architecture: 'arm64',
  variant: 'v8',
  platform: 'linux/arm64/v8',
};

/** What `sluice validate algorithm.json job.json` says about the draft. */
function validate(manifest: unknown, job: unknown): readonly string[] {
  return checkDocuments([
    { file: 'algorithm.json', text: JSON.stringify(manifest) },
    { file: 'job.json', text: JSON.stringify(job) },
  ]).problems.map((problem) => `${problem.file} ${problem.path}: ${problem.message}`);
}

describe('manifestFromImage', () => {
  it('drafts a manifest and job that sluice validate accepts as they are', () => {
    const draft = manifestFromImage(IMAGE, { kind: 'image', reference: 'ghcr.io/acme/edge-detect:1.4.2' });

    expect(draft.manifest).toMatchObject({
      $schema: 'algorithm.schema.json',
      name: 'edge-detect',
      version: '1.4.2',
      image: 'ghcr.io/acme/edge-detect:1.4.2',
      platform: 'linux/arm64/v8',
      port: 8080,
      memory: '512MiB',
      input: '/data/in/',
      output: '/data/out/',
    });
    expect(draft.job).toMatchObject({
      $schema: 'job.schema.json',
      algorithm: 'edge-detect@1.4.2',
      input: { bucket: 'change-me-input-bucket' },
      output: { bucket: 'change-me-output-bucket' },
    });
    expect(validate(draft.manifest, draft.job)).toEqual([]);
  });

  it("keeps the image's settings in env and leaves out the system's and the runtimes' variables", () => {
    const { manifest } = manifestFromImage(IMAGE, { kind: 'image', reference: 'acme/edge-detect:1' });

    expect(Object.keys(manifest.env ?? {})).toEqual(['EDGE_THRESHOLD', 'MODE', 'API_TOKEN']);
    expect(manifest.env?.EDGE_THRESHOLD).toMatchObject({ default: '0.4' });
    // A baked-in secret is declared secret and its value is not copied.
    expect(manifest.env?.API_TOKEN).toMatchObject({ secret: true });
    expect(JSON.stringify(manifest)).not.toContain('baked-in');
  });

  it('lists what the image cannot say, and the program it runs', () => {
    const { editThese, notes } = manifestFromImage(IMAGE, { kind: 'image', reference: 'edges:2' });

    expect(editThese.join('\n')).toMatch(/memory[\s\S]*input[\s\S]*output[\s\S]*bucket/);
    expect(editThese.join('\n')).toContain('["/usr/bin/edges","--fast"]');
    expect(notes).toEqual(expect.arrayContaining([expect.stringContaining('user 1000:1000')]));
  });

  it('sets no port when several are exposed, and says so; UDP ports do not count', () => {
    const several = manifestFromImage(
      { ...IMAGE, exposedPorts: ['8080/tcp', '9090/tcp'] },
      { kind: 'image', reference: 'edges:2' },
    );
    const udp = manifestFromImage(
      { ...IMAGE, exposedPorts: ['53/udp', '8080/tcp'] },
      { kind: 'image', reference: 'edges:2' },
    );
    const none = manifestFromImage({ ...IMAGE, exposedPorts: [] }, { kind: 'image', reference: 'edges:2' });

    expect(several.manifest.port).toBeUndefined();
    expect(udp.editThese.join('\n')).toContain('port: 8080');
    expect(several.notes.join('\n')).toContain('several ports (8080, 9090)');
    expect(udp.manifest.port).toBe(8080);
    expect(none.manifest.port).toBeUndefined();
  });

  it('uses 0.1.0 when the reference has no tag, only a digest, or latest', () => {
    const digest = `sha256:${'b'.repeat(64)}`;
    for (const reference of ['localhost:5000/team/edges', `edges@${digest}`, 'edges:latest']) {
      const { manifest } = manifestFromImage(IMAGE, { kind: 'image', reference });
      expect(manifest.version).toBe('0.1.0');
      expect(manifest.name).toBe('edges');
    }
  });

  it('drafts a build section for a Dockerfile, named after its directory', () => {
    const { manifest, job } = manifestFromImage(
      { ...IMAGE, exposedPorts: [] },
      { kind: 'build', name: 'My Algo', build: { context: '.', dockerfile: 'Containerfile' } },
      { algorithm: '../schemas/algorithm.schema.json', job: '../schemas/job.schema.json' },
    );

    expect(manifest).toMatchObject({
      $schema: '../schemas/algorithm.schema.json',
      name: 'my-algo',
      version: '0.1.0',
      build: { context: '.', dockerfile: 'Containerfile' },
    });
    expect(manifest.image).toBeUndefined();
    expect(validate(manifest, job)).toEqual([]);
  });

  it('keeps a platform sluice cannot run, so validate flags it, and says why', () => {
    const draft = manifestFromImage(
      { ...IMAGE, architecture: 'arm', variant: 'v7', platform: 'linux/arm/v7' },
      { kind: 'image', reference: 'edges:2' },
    );

    expect(draft.manifest.platform).toBe('linux/arm/v7');
    expect(draft.notes.join('\n')).toContain('linux/arm/v7');
    expect(validate(draft.manifest, draft.job).join('\n')).toContain('platform');
  });
});

describe('isSettingVariable and algorithmNameFrom', () => {
  it('tells settings from system variables', () => {
    expect(['THUMB_SIZE', 'MODE', 'API_URL'].filter(isSettingVariable)).toEqual([
      'THUMB_SIZE',
      'MODE',
      'API_URL',
    ]);
    expect(
      ['PATH', 'HOSTNAME', 'LC_ALL', 'NODE_ENV', 'GOLANG_VERSION', 'JAVA_HOME', 'SLUICE_X', 'GPG_KEY'].filter(
        isSettingVariable,
      ),
    ).toEqual([]);
  });

  it('makes a valid name from anything', () => {
    expect(algorithmNameFrom('ghcr.io/acme/Edge_Detect')).toBe('edge_detect');
    expect(algorithmNameFrom('My  Cool__Algo!')).toBe('my-cool_algo');
    expect(algorithmNameFrom('---')).toBe('algorithm');
  });
});

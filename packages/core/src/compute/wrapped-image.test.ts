import { describe, expect, it } from '@jest/globals';

import { ConfigurationError } from '../errors.js';
import { parseManifest } from '../schemas/documents.js';
import type { ImageDetails } from './container-engine.js';
import { parseImageInspect } from './engine-inspect.js';
import { hostPlatform } from './node-runtime.js';
import {
  ALGORITHM_HOME,
  WRAPPED_LABELS,
  algorithmUser,
  imageCommand,
  localMemoryLimitMiB,
  originalImageConfig,
  renderWrappedContainerfile,
  withDigest,
  wrappedImageLabels,
} from './wrapped-image.js';

const DIGEST = `sha256:${'c'.repeat(64)}`;

const BUSYBOX_DETAILS: ImageDetails = parseImageInspect(
  JSON.stringify({
    Id: 'a'.repeat(64),
    Config: {
      Entrypoint: ['/bin/sh', '-c'],
      Cmd: ['echo hi'],
      WorkingDir: '/work',
      User: '1000:1000',
      Env: ['PATH=/bin'],
    },
    Os: 'linux',
    Architecture: hostPlatform().split('/')[1],
  }),
);

describe('renderWrappedContainerfile', () => {
  it('copies the runtime, then sluice, and makes the runner the entrypoint through the loader', () => {
    const text = renderWrappedContainerfile({
      baseImage: 'localhost/sluice/thumbs-algorithm:1.0',
      runtime: { loader: 'ld-linux-x86-64.so.2' },
    });

    expect(text.split('\n').filter((line) => !line.startsWith('#'))).toEqual([
      'FROM localhost/sluice/thumbs-algorithm:1.0',
      'COPY node/ /sluice/node/',
      'COPY sluice/ /sluice/',
      'ENV SLUICE_MANIFEST=/sluice/algorithm.json',
      'ENV SLUICE_ORIGINAL_IMAGE=/sluice/original-image.json',
      'USER 0:0',
      'ENTRYPOINT ["/sluice/node/lib/ld-linux-x86-64.so.2","--library-path","/sluice/node/lib","/sluice/node/bin/node","/sluice/runner/index.js"]',
      'CMD []',
      '',
    ]);
  });

  it('inherits WORKDIR and runs the runner as root: the algorithm gets its own user from original-image.json', () => {
    const text = renderWrappedContainerfile({ baseImage: 'x:1', runtime: {} });

    expect(text).not.toMatch(/^WORKDIR/m);
    expect(text.match(/^USER .*$/gm)).toEqual(['USER 0:0']);
    expect(text).toContain('ENTRYPOINT ["/sluice/node/bin/node","/sluice/runner/index.js"]');
  });
});

describe('algorithmUser', () => {
  const passwd = 'root:x:0:0:root:/root:/bin/sh\napp:x:1001:1002::/home/app:/bin/sh\ntoor:x:0:0::/:/bin/sh\n';
  const group = 'root:x:0:\nstaff:x:50:app\n';

  it.each([
    ['', {}],
    ['root', { passwd }],
    ['0', {}],
    ['0:1000', {}],
    ['toor', { passwd }],
  ])(
    'gives an image running as root (USER %j) the unprivileged user and a home under /tmp',
    (user, files) => {
      expect(algorithmUser(user, files)).toEqual({ uid: 65532, gid: 65532, home: ALGORITHM_HOME });
    },
  );

  it.each([
    ['1000:1000', {}, { uid: 1000, gid: 1000, home: ALGORITHM_HOME }],
    // As docker and podman: a numeric user with no passwd entry gets group 0.
    ['1000', {}, { uid: 1000, gid: 0, home: ALGORITHM_HOME }],
    ['1001', { passwd }, { uid: 1001, gid: 1002, home: '/home/app' }],
    ['app', { passwd }, { uid: 1001, gid: 1002, home: '/home/app' }],
    ['app:staff', { passwd, group }, { uid: 1001, gid: 50, home: '/home/app' }],
    ['app:7', { passwd, env: ['HOME=/srv/app'] }, { uid: 1001, gid: 7, home: '/srv/app' }],
  ])('keeps a non-root USER %j', (user, files, expected) => {
    expect(algorithmUser(user, files)).toEqual(expected);
  });

  it('refuses names the image does not define, and says to use numbers', () => {
    expect(() => algorithmUser('app', {})).toThrow(ConfigurationError);
    expect(() => algorithmUser('app', {})).toThrow(/no \/etc\/passwd.*numeric USER such as 1000:1000/);
    expect(() => algorithmUser('nobody', { passwd })).toThrow(/does not have/);
    expect(() => algorithmUser('app:wheel', { passwd, group })).toThrow(
      /group its \/etc\/group does not have/,
    );
  });
});

describe('the records and labels of a wrapped image', () => {
  const manifestText =
    '{\n  "name": "thumbs",\n  "version": "1.0",\n  "image": "algo:1",\n  "memory": 512\n}\n';
  const manifest = parseManifest(manifestText, 'algorithm.json');

  it('records the original entrypoint, cmd, working dir, user and how to start the carried Node', () => {
    const original = originalImageConfig('algo:1', BUSYBOX_DETAILS, {
      nodeVersion: '20.1.0',
      loader: 'ld-linux-x86-64.so.2',
    });

    expect(original).toEqual({
      schemaVersion: 1,
      image: 'algo:1',
      imageId: `sha256:${'a'.repeat(64)}`,
      entrypoint: ['/bin/sh', '-c'],
      cmd: ['echo hi'],
      workingDir: '/work',
      user: '1000:1000',
      env: ['PATH=/bin'],
      runtime: {
        nodeVersion: '20.1.0',
        command: [
          '/sluice/node/lib/ld-linux-x86-64.so.2',
          '--library-path',
          '/sluice/node/lib',
          '/sluice/node/bin/node',
        ],
      },
    });
  });

  it('labels the image with name@version, the manifest digest and the manifest itself', () => {
    const labels = wrappedImageLabels({
      manifest,
      manifestText,
      baseImageId: 'sha256:base',
      runnerDigest: 'sha256:runner',
      runtime: { nodeVersion: '20.1.0', platform: 'linux/amd64' },
    });

    expect(labels[WRAPPED_LABELS.algorithm]).toBe('thumbs@1.0');
    expect(labels[WRAPPED_LABELS.manifestDigest]).toMatch(/^sha256:[a-f0-9]{64}$/);
    expect(JSON.parse(labels[WRAPPED_LABELS.manifestJson] ?? '')).toEqual(JSON.parse(manifestText));
    expect(labels[WRAPPED_LABELS.runtime]).toBe('node-20.1.0-linux-amd64');
  });

  it('adds the runner overhead to the memory limit of a local run', () => {
    expect(localMemoryLimitMiB(manifest)).toBe(512 + 128);
  });

  it('pins references to a digest, replacing any digest already there', () => {
    expect(withDigest('127.0.0.1:5000/sluice/thumbs:1.0', DIGEST)).toBe(
      `127.0.0.1:5000/sluice/thumbs:1.0@${DIGEST}`,
    );
    expect(withDigest(`r/x@sha256:${'d'.repeat(64)}`, DIGEST)).toBe(`r/x@${DIGEST}`);
    expect(() => withDigest('r/x', 'latest')).toThrow(ConfigurationError);
  });
});

describe('imageCommand', () => {
  const image = { entrypoint: ['/bin/thumbs'], cmd: ['--help'], workingDir: '/app' };

  it('keeps the entrypoint and lets the manifest command replace cmd, as OCI does', () => {
    expect(imageCommand(image, ['{input}', '{output}'])).toEqual({
      command: ['/bin/thumbs', '{input}', '{output}'],
      workingDir: '/app',
    });
  });

  it("runs the image's own entrypoint and cmd when the manifest has no command", () => {
    expect(imageCommand(image, undefined).command).toEqual(['/bin/thumbs', '--help']);
    expect(imageCommand({ entrypoint: null, cmd: ['/run.sh'], workingDir: '' }, undefined)).toEqual({
      command: ['/run.sh'],
      workingDir: '/',
    });
  });

  it('says what to add when nothing says what to run', () => {
    expect(() => imageCommand({ entrypoint: null, cmd: null, workingDir: '' }, undefined)).toThrow(
      /no ENTRYPOINT or CMD and algorithm.json has no "command"/,
    );
  });
});

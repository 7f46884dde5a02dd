import { describe, expect, it } from '@jest/globals';

import { ConfigurationError } from '../errors.js';
import { parseManifest } from '../schemas/documents.js';
import type { ImageDetails } from './container-engine.js';
import { parseImageInspect } from './engine-inspect.js';
import { hostPlatform } from './node-runtime.js';
import {
  WRAPPED_LABELS,
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
      'ENTRYPOINT ["/sluice/node/lib/ld-linux-x86-64.so.2","--library-path","/sluice/node/lib","/sluice/node/bin/node","/sluice/runner/index.js"]',
      'CMD []',
      '',
    ]);
  });

  it('restates neither USER nor WORKDIR: the wrapped image inherits the original ones', () => {
    const text = renderWrappedContainerfile({ baseImage: 'x:1', runtime: {} });

    expect(text).not.toMatch(/^(USER|WORKDIR)/m);
    expect(text).toContain('ENTRYPOINT ["/sluice/node/bin/node","/sluice/runner/index.js"]');
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

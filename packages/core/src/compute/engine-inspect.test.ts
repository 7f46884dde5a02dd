import { describe, expect, it } from '@jest/globals';

import { ContainerEngineError, tailLines } from './container-engine-errors.js';
import {
  digestFromPushOutput,
  parseContainerInspect,
  parseImageInspect,
  repositoryOf,
} from './engine-inspect.js';

const DIGEST = `sha256:${'a'.repeat(64)}`;

const PODMAN_INSPECT = `[
  {
    "Id": "bf14dbfc035fe6e4cf38933c92bed1c54d084732163396b7d911a623ab7edd85",
    "Digest": "sha256:55066563b5f7163357ad46214dda5c3124bf292f9740e71834c79d42fabdfacd",
    "RepoTags": ["localhost/exp1:1"],
    "RepoDigests": ["localhost/exp1@sha256:55066563b5f7163357ad46214dda5c3124bf292f9740e71834c79d42fabdfacd"],
    "Config": {
      "User": "1000:1000",
      "Env": ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"],
      "Entrypoint": ["/bin/sh", "-c"],
      "Cmd": ["echo hi"],
      "WorkingDir": "/work",
      "ExposedPorts": {"9090/tcp": {}, "8080/tcp": {}},
      "Labels": {"io.buildah.version": "1.28.2"}
    },
    "Architecture": "amd64",
    "Os": "linux",
    "Size": 2130204
  }
]`;

const DOCKER_INSPECT =
  '{"Id":"sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef","RepoTags":["algo:1"],"RepoDigests":[],' +
  '"Config":{"Env":null,"Entrypoint":null,"Cmd":["/app"],"WorkingDir":"","User":"","Labels":null},' +
  '"Architecture":"arm64","Variant":"v8","Os":"linux","Size":1234}\n';

describe('parseImageInspect', () => {
  it("reads podman's array output", () => {
    const details = parseImageInspect(PODMAN_INSPECT);

    expect(details).toMatchObject({
      id: 'sha256:bf14dbfc035fe6e4cf38933c92bed1c54d084732163396b7d911a623ab7edd85',
      entrypoint: ['/bin/sh', '-c'],
      cmd: ['echo hi'],
      workingDir: '/work',
      user: '1000:1000',
      exposedPorts: ['8080/tcp', '9090/tcp'],
      labels: { 'io.buildah.version': '1.28.2' },
      platform: 'linux/amd64',
      sizeBytes: 2130204,
    });
    expect(details.repoDigests).toHaveLength(1);
  });

  it("reads docker's one-object-per-line output, keeping null entrypoint apart from an empty one", () => {
    const details = parseImageInspect(DOCKER_INSPECT);

    expect(details.entrypoint).toBeNull();
    expect(details.cmd).toEqual(['/app']);
    expect(details.env).toEqual([]);
    expect(details.exposedPorts).toEqual([]);
    expect(details.labels).toEqual({});
    expect(details.platform).toBe('linux/arm64/v8');
  });

  it('refuses output that is not JSON', () => {
    expect(() => parseImageInspect('Error: oops')).toThrow(ContainerEngineError);
  });
});

describe('parseContainerInspect', () => {
  it('reads state, labels and names from either engine', () => {
    const output =
      '{"Id":"c1","Name":"/worker-1","State":{"Status":"exited","Running":false,"ExitCode":137,"OOMKilled":true},"Config":{"Image":"algo:1","Labels":{"org.sluice.run":"r1"}}}\n' +
      '{"Id":"c2","Name":"worker-2","State":{"Status":"running","Running":true,"ExitCode":0},"Config":{"Image":"algo:1"},"ImageName":"algo:1"}\n';

    const [first, second] = parseContainerInspect(output);

    expect(first).toEqual({
      id: 'c1',
      name: 'worker-1',
      image: 'algo:1',
      status: 'exited',
      running: false,
      exitCode: 137,
      oomKilled: true,
      labels: { 'org.sluice.run': 'r1' },
    });
    expect(second).toMatchObject({ name: 'worker-2', running: true, oomKilled: false, labels: {} });
  });
});

describe('small helpers', () => {
  it('finds the digest docker prints after a push', () => {
    expect(
      digestFromPushOutput(`The push refers to repository [r/x]\n1: digest: ${DIGEST} size: 528\n`),
    ).toBe(DIGEST);
    expect(digestFromPushOutput('nothing here')).toBeUndefined();
  });

  it('takes the repository out of references with registries, ports, tags and digests', () => {
    expect(repositoryOf('127.0.0.1:5000/team/app:1')).toBe('127.0.0.1:5000/team/app');
    expect(repositoryOf(`127.0.0.1:5000/team/app@${DIGEST}`)).toBe('127.0.0.1:5000/team/app');
    expect(repositoryOf('127.0.0.1:5000/app')).toBe('127.0.0.1:5000/app');
  });

  it('keeps the last lines of a log', () => {
    expect(tailLines('a\nb\nc\n\n', 2)).toBe('b\nc');
  });
});

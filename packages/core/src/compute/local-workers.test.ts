import { describe, expect, it } from '@jest/globals';

import { containerReachableUrl } from './local-workers.js';

describe('containerReachableUrl', () => {
  it.each([
    ['http://127.0.0.1:4566', 'podman', 'http://10.0.2.2:4566'],
    ['http://localhost:4566/', 'podman', 'http://10.0.2.2:4566/'],
    ['http://LOCALHOST', 'podman', 'http://10.0.2.2'],
    ['http://[::1]:7000/broker?x=1', 'podman', 'http://10.0.2.2:7000/broker?x=1'],
    ['https://user:pw@127.0.0.1:8443/p', 'docker', 'https://user:pw@host.docker.internal:8443/p'],
    ['http://127.0.0.1:4566', 'docker', 'http://host.docker.internal:4566'],
  ] as const)('%s on %s becomes %s', (url, engine, expected) => {
    expect(containerReachableUrl(url, engine)).toBe(expected);
  });

  it.each([
    'https://s3.eu-west-1.amazonaws.com',
    'http://127.0.0.10:4566',
    'http://localhost.example.com:80',
    'http://10.0.0.5:4566/127.0.0.1',
    'not a url',
  ])('leaves %s alone', (url) => {
    expect(containerReachableUrl(url, 'podman')).toBe(url);
  });
});

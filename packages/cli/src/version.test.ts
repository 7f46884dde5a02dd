import { readFileSync } from 'node:fs';

import { describe, expect, it } from '@jest/globals';

import { MIN_NODE_MAJOR, VERSION, unsupportedNode } from './version.js';

describe('VERSION', () => {
  it('is the version in package.json', () => {
    const pkg = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as {
      version: string;
    };

    expect(VERSION).toBe(pkg.version);
  });
});

describe('the Node the CLI needs', () => {
  it("is the repository's engines field", () => {
    const root = JSON.parse(readFileSync(new URL('../../../package.json', import.meta.url), 'utf8')) as {
      engines: { node: string };
    };

    expect(root.engines.node).toBe(`>=${MIN_NODE_MAJOR}`);
  });

  it('refuses an older Node with what to install, and accepts current ones', () => {
    expect(unsupportedNode('18.19.0')).toMatch(
      /needs Node 20 or newer; this is Node 18\.19\.0\. Install .*Node 24/,
    );
    expect(unsupportedNode('20.20.2')).toBeUndefined();
    expect(unsupportedNode('24.22.3')).toBeUndefined();
  });
});

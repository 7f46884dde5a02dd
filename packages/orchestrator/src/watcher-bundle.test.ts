import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';

import { afterAll, describe, expect, it } from '@jest/globals';
import { unzipSync } from 'fflate';

import { WATCHER_PACKAGE_JSON } from '@sluice/core/ecs';

import { loadWatcherZip, locateWatcherBundle } from './watcher-bundle.js';

describe('locateWatcherBundle', () => {
  const dirs: string[] = [];
  afterAll(async () => {
    for (const dir of dirs) await rm(dir, { recursive: true, force: true });
  });

  async function layout(files: string[]): Promise<string> {
    const root = await mkdtemp(join(tmpdir(), 'sluice-watcher-'));
    dirs.push(root);
    for (const file of files) {
      await mkdir(join(root, file, '..'), { recursive: true });
      await writeFile(join(root, file), file.endsWith('.json') ? WATCHER_PACKAGE_JSON : 'export {};\n');
    }
    return root;
  }

  it('finds lambda/index.js next to the running bundle (the CLI and action dist/)', async () => {
    const root = await layout(['dist/index.js', 'dist/lambda/index.js', 'dist/lambda/package.json']);

    const found = locateWatcherBundle(pathToFileURL(join(root, 'dist/index.js')).href);

    expect(found).toBe(join(root, 'dist/lambda/index.js'));
    expect(Object.keys(unzipSync(await loadWatcherZip(found)))).toEqual(['index.js', 'package.json']);
  });

  it('says how to build the bundle when there is none', async () => {
    const root = await layout(['dist/index.js']);

    expect(() => locateWatcherBundle(pathToFileURL(join(root, 'dist/index.js')).href)).toThrow(
      /npm run build -w @sluice\/lambda/,
    );
  });
});

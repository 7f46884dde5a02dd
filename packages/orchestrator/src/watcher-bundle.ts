// The watcher Lambda's deployment package, read from where the entry point's bundle carries it.
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

import { SluiceError } from '@sluice/core';
import { WATCHER_PACKAGE_JSON, watcherZip } from '@sluice/core/ecs';

/**
 * Where the watcher bundle is: `lambda/index.js` next to the entry point's bundle (the CLI and the
 * provision-run action carry a copy in dist/lambda/, as they carry `runner/`). The entry point says
 * where it runs from; nothing below it guesses a path in the repository.
 *
 * @param entryUrl - the entry point's bundle, its `import.meta.url`.
 * @example
 * const zip = await loadWatcherZip(locateWatcherBundle(import.meta.url));
 * @throws {SluiceError} when there is none (build it: `npm run build -w @sluice/lambda`).
 */
export function locateWatcherBundle(entryUrl: string): string {
  const candidate = fileURLToPath(new URL('./lambda/index.js', entryUrl));
  if (!existsSync(candidate)) {
    throw new SluiceError(
      `the watcher Lambda bundle is missing: looked for ${candidate}. ` +
        'Build it with "npm run build -w @sluice/lambda" (bundles carry it as dist/lambda/).',
    );
  }
  return candidate;
}

/**
 * Reads the watcher bundle and its `package.json` (when next to it) and zips them.
 *
 * @example
 * const zip = await loadWatcherZip(locateWatcherBundle(import.meta.url));
 * @throws {SluiceError} when the bundle is missing; Node's error when it cannot be read.
 */
export async function loadWatcherZip(bundlePath: string): Promise<Uint8Array> {
  const packagePath = join(dirname(bundlePath), 'package.json');
  const packageJson = existsSync(packagePath) ? await readFile(packagePath) : WATCHER_PACKAGE_JSON;
  return watcherZip(await readFile(bundlePath), packageJson);
}

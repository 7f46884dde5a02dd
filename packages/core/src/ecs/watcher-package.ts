// The watcher's deployment package: the bundle zipped with fixed times and modes, so the same bundle
// always gives the same bytes and Lambda's CodeSha256 tells an unchanged upload apart.
import { createHash } from 'node:crypto';

import { zipSync } from 'fflate';

/** The `package.json` next to the bundle: Lambda's Node runtime then loads `index.js` as an ES module. */
export const WATCHER_PACKAGE_JSON = '{\n  "type": "module"\n}\n';

/**
 * DOS time in a zip is local time; a date built from local fields gives the same bytes in every time
 * zone, so the zip (and its CodeSha256) is the same wherever it is built.
 */
function fixedZipTime(): Date {
  return new Date(1980, 0, 2, 0, 0, 0);
}

/** `-rw-r--r--` on a Unix zip entry: Lambda must be able to read the files it unpacks. */
const ZIP_FILE_ATTRIBUTES = { os: 3, attrs: 0o100644 << 16 } as const;

/**
 * The deployment package: a zip of `index.js` (the watcher bundle) and `package.json`, entries
 * sorted, with fixed times and modes, so the same bundle always gives the same bytes and the same
 * CodeSha256 — what `ensureWatcher` compares to skip an unchanged upload.
 *
 * @example
 * const zip = watcherZip(await readFile('dist/lambda/index.js'));
 * @throws never.
 */
export function watcherZip(
  bundleJs: Uint8Array,
  packageJson: Uint8Array | string = WATCHER_PACKAGE_JSON,
): Uint8Array {
  const mtime = fixedZipTime();
  const json = typeof packageJson === 'string' ? new TextEncoder().encode(packageJson) : packageJson;
  const files: [string, Uint8Array][] = [
    ['index.js', bundleJs],
    ['package.json', json],
  ];
  files.sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  return zipSync(
    Object.fromEntries(files.map(([name, data]) => [name, [data, { ...ZIP_FILE_ATTRIBUTES, mtime }]])),
    { level: 9, mtime },
  );
}

/**
 * The base64 SHA-256 of a deployment package: what Lambda reports as `CodeSha256`.
 *
 * @example
 * codeSha256(watcherZip(bundle)); // 'k1l7...='
 * @throws never.
 */
export function codeSha256(zip: Uint8Array): string {
  return createHash('sha256').update(zip).digest('base64');
}

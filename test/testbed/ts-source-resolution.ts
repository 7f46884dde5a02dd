// jest loads globalSetup/globalTeardown through require() — CommonJS, transformed by SWC — and
// without the moduleNameMapper that maps our ESM `./file.js` imports to `./file.ts` for tests.
// This makes require() do the same mapping, so the test bed's code (and @sluice/core,
// @sluice/testing) load there exactly as they do in tests. It only retries a relative `.js`
// request that Node could not find, as the sibling `.ts` file, and leaves every other request alone.
//
// This file must itself be imported without an extension (`./ts-source-resolution`): that resolves
// through the `.ts` loader jest registers, before the mapping exists.
import Module from 'node:module';

type ResolveFilename = (request: string, parent: unknown, isMain: boolean, options?: unknown) => string;
interface ResolvableModule {
  _resolveFilename: ResolveFilename;
}

let installed = false;

/** Makes require() find `./x.ts` for `./x.js`. Idempotent. */
export function installTsSourceResolution(): void {
  if (installed) return;
  installed = true;
  const loader = Module as unknown as ResolvableModule;
  const original = loader._resolveFilename.bind(loader);
  loader._resolveFilename = (request, parent, isMain, options) => {
    try {
      return original(request, parent, isMain, options);
    } catch (e: unknown) {
      const notFound = typeof e === 'object' && e !== null && 'code' in e && e.code === 'MODULE_NOT_FOUND';
      if (!notFound || !/^\.{1,2}\/.*\.js$/.test(request)) throw e;
      return original(request.replace(/\.js$/, '.ts'), parent, isMain, options);
    }
  };
}

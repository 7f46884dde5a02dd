// A parsed manifest with every field set, for the tests of running one task (unit and integration).
import type { Manifest } from '../schemas/manifest.js';

/** A directory-in, directory-out image algorithm with a 10 s limit; `fields` override any part. */
export function manifest(fields: Partial<Manifest> = {}): Manifest {
  return {
    name: 'fixture',
    version: '1',
    source: { kind: 'image', image: 'x.io/a:1' },
    memoryMiB: 256,
    platform: 'linux/amd64',
    gpu: 0,
    input: { path: '/data/in', kind: 'directory' },
    output: { path: '/data/out', kind: 'directory' },
    env: {},
    timeoutSeconds: 10,
    retry: { permanentExitCodes: [], retryOnTimeout: true, retryOnOutOfMemory: false },
    allowEmptyOutput: false,
    readOnlyRootFilesystem: false,
    ...fields,
  };
}

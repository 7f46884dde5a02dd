// jest globalTeardown of the integration project (jest.config.js): stops the test bed. See lifecycle.ts.
import { installTsSourceResolution } from './ts-source-resolution'; // no extension: see that file

export default async function globalTeardown(): Promise<void> {
  installTsSourceResolution();
  const { stopTestbed } = await import('./lifecycle.js');
  await stopTestbed();
}

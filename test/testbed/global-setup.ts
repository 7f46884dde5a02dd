// jest globalSetup of the integration project (jest.config.js): starts the test bed. See lifecycle.ts.
import { installTsSourceResolution } from './ts-source-resolution'; // no extension: see that file

export default async function globalSetup(): Promise<void> {
  installTsSourceResolution();
  const { startTestbed } = await import('./lifecycle.js');
  await startTestbed();
}

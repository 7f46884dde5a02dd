/** The sluice version; version.test.ts keeps it equal to package.json's (one version for the suite). */
export const VERSION = '0.1.0';

// Jest runs the TypeScript sources as native ES modules (node --experimental-vm-modules), transformed
// by SWC without type checking: `npm run typecheck` type-checks tests and sources in one pass.
// See docs/architecture.md, "Modules and bundling".

/** @type {import('jest').Config['transform']} */
const transform = {
  '^.+\\.ts$': [
    '@swc/jest',
    {
      jsc: { parser: { syntax: 'typescript' }, target: 'es2022' },
      module: { type: 'es6' },
      sourceMaps: 'inline',
    },
  ],
};

/** Workspace packages resolve to their TypeScript sources, as ncc resolves them when bundling. */
const moduleNameMapper = {
  '^@sluice/(core|action-kit|testing|runner|lambda|cli|orchestrator)$': '<rootDir>/packages/$1/src/index.ts',
  '^@sluice/core/(aws|compute|ecs|iam)$': '<rootDir>/packages/core/src/$1/index.ts',
  '^(\\.{1,2}/.*)\\.js$': '$1',
};

const shared = {
  extensionsToTreatAsEsm: ['.ts'],
  transform,
  moduleNameMapper,
  testEnvironment: 'node',
};

/** @type {import('jest').Config} */
export default {
  // A global setting: jest ignores testTimeout inside a project. Integration tests talk to moto and
  // podman on a shared 2-core machine; unit tests finish far below this.
  testTimeout: 120000,
  projects: [
    {
      ...shared,
      displayName: 'unit',
      testMatch: [
        '<rootDir>/packages/*/src/**/*.test.ts',
        '<rootDir>/actions/*/src/**/*.test.ts',
        '<rootDir>/test/docs/**/*.test.ts',
      ],
    },
    {
      ...shared,
      displayName: 'integration',
      testMatch: ['<rootDir>/test/integration/**/*.test.ts'],
      globalSetup: '<rootDir>/test/testbed/global-setup.ts',
      globalTeardown: '<rootDir>/test/testbed/global-teardown.ts',
    },
    {
      ...shared,
      displayName: 'e2e',
      testMatch: ['<rootDir>/test/e2e/**/*.test.ts'],
      globalSetup: '<rootDir>/test/testbed/global-setup.ts',
      globalTeardown: '<rootDir>/test/testbed/global-teardown.ts',
    },
    {
      ...shared,
      displayName: 'chaos',
      testMatch: ['<rootDir>/test/chaos/**/*.test.ts'],
      globalSetup: '<rootDir>/test/testbed/global-setup.ts',
      globalTeardown: '<rootDir>/test/testbed/global-teardown.ts',
    },
    {
      ...shared,
      displayName: 'smoke',
      testMatch: ['<rootDir>/test/smoke/**/*.test.ts'],
    },
  ],
};

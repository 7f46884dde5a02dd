// ESLint flat config: type-aware TypeScript rules, no import cycles, nx module boundaries that encode
// which package may import which, and import zones that keep core's folders layered (each imports only
// the layers below it; see docs/architecture.md). Formatting is Prettier's job (eslint-config-prettier).
import js from '@eslint/js';
import nx from '@nx/eslint-plugin';
import prettier from 'eslint-config-prettier';
import importX, { createNodeResolver } from 'eslint-plugin-import-x';
import globals from 'globals';
import tseslint from 'typescript-eslint';

/**
 * Core's folders, bottom first: a folder may import its own files and the layers below it, never a
 * layer above (nor a sibling in the same layer). `errors.ts` and `logging/` are below them all.
 */
const CORE_LAYERS = [
  ['ids'],
  ['schemas'],
  ['aws'],
  ['storage', 'queue', 'execution', 'iam', 'compute'],
  ['broker'],
  ['ecs'],
  ['run'],
];
const coreDir = (folder) => `./packages/core/src/${folder}`;
const coreLayerZones = CORE_LAYERS.flatMap((layer, level) =>
  layer.map((folder) => ({
    target: coreDir(folder),
    from: [...CORE_LAYERS.slice(level + 1).flat(), ...layer.filter((sibling) => sibling !== folder)].map(
      coreDir,
    ),
    message: `core/${folder} sits below these folders: move the shared piece down, or the caller up.`,
  })),
).filter((zone) => zone.from.length > 0);
const foundationZone = {
  target: ['./packages/core/src/errors.ts', './packages/core/src/logging'],
  from: CORE_LAYERS.flat().map(coreDir),
  message: 'errors.ts and logging/ are the foundation of core: they import nothing of it.',
};

export default tseslint.config(
  {
    ignores: [
      '**/node_modules/**',
      '**/dist/**',
      '.nx/**',
      '.testbed/**',
      '.venv*/**',
      'coverage/**',
      'examples/**/*.js',
    ],
  },
  js.configs.recommended,
  ...tseslint.configs.strictTypeChecked,
  {
    files: ['**/*.ts'],
    languageOptions: {
      parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname },
    },
    plugins: { '@nx': nx, 'import-x': importX },
    settings: {
      // Sources import `./x.js` for `./x.ts` (as tsc and ncc resolve them): without this alias the
      // import rules below would resolve nothing and check nothing.
      'import-x/resolver-next': [
        createNodeResolver({
          extensions: ['.ts', '.js', '.mjs', '.json', '.node'],
          extensionAlias: { '.js': ['.ts', '.js'] },
        }),
      ],
    },
    rules: {
      'import-x/no-cycle': 'error',
      '@typescript-eslint/restrict-template-expressions': [
        'error',
        { allowNumber: true, allowBoolean: true },
      ],
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      '@nx/enforce-module-boundaries': [
        'error',
        {
          allow: [],
          depConstraints: [
            { sourceTag: 'scope:core', onlyDependOnLibsWithTags: [] },
            { sourceTag: 'scope:orchestrator', onlyDependOnLibsWithTags: ['scope:core', 'scope:testing'] },
            {
              sourceTag: 'scope:action-kit',
              onlyDependOnLibsWithTags: ['scope:core', 'scope:orchestrator', 'scope:testing'],
            },
            { sourceTag: 'scope:runner', onlyDependOnLibsWithTags: ['scope:core', 'scope:testing'] },
            { sourceTag: 'scope:lambda', onlyDependOnLibsWithTags: ['scope:core', 'scope:testing'] },
            {
              sourceTag: 'scope:cli',
              onlyDependOnLibsWithTags: ['scope:core', 'scope:orchestrator', 'scope:testing'],
            },
            {
              sourceTag: 'scope:action',
              onlyDependOnLibsWithTags: [
                'scope:core',
                'scope:orchestrator',
                'scope:action-kit',
                'scope:testing',
              ],
            },
            { sourceTag: 'scope:testing', onlyDependOnLibsWithTags: ['scope:core'] },
          ],
        },
      ],
    },
  },
  {
    // Core's folders import downward only. Tests may use any layer to build their inputs.
    files: ['packages/core/src/**/*.ts'],
    ignores: ['**/*.test.ts', '**/*.test-support.ts'],
    rules: { 'import-x/no-restricted-paths': ['error', { zones: [...coreLayerZones, foundationZone] }] },
  },
  {
    // Core knows nothing of GitHub or Lambda: it logs through its Logger (as github/codeql-action's
    // logging.ts keeps the Actions toolkit at the edge).
    files: ['packages/core/**/*.ts', 'packages/orchestrator/**/*.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          patterns: [
            {
              group: ['@actions/*', 'aws-lambda'],
              message: 'core must not know GitHub or Lambda; take a Logger.',
            },
          ],
        },
      ],
    },
  },
  {
    // Only tests may use the dev-only testing package.
    files: ['packages/*/src/**/*.ts', 'actions/*/src/**/*.ts'],
    ignores: ['**/*.test.ts', 'packages/testing/**'],
    rules: {
      'no-restricted-imports': [
        'error',
        { patterns: [{ group: ['@sluice/testing'], message: '@sluice/testing is for tests only.' }] },
      ],
    },
  },
  {
    // Size limits on source: a file should be one module a reader can hold in mind at once (400 code
    // lines), a function one screen and a half (100). Blank lines and comments, TSDoc included, do not
    // count: documentation is not what makes code hard to hold. Tests and the contract suites (lists
    // of cases) are exempt. Measured when added: 4 files and 6 functions were over, then split.
    files: ['packages/*/src/**/*.ts', 'actions/*/src/**/*.ts'],
    ignores: ['**/*.test.ts', '**/*.test-support.ts', 'packages/testing/src/contract-*.ts'],
    rules: {
      'max-lines': ['error', { max: 400, skipBlankLines: true, skipComments: true }],
      'max-lines-per-function': ['error', { max: 100, skipBlankLines: true, skipComments: true }],
    },
  },
  {
    files: ['**/*.js', '**/*.mjs', '**/*.cjs'],
    ...tseslint.configs.disableTypeChecked,
    languageOptions: { globals: globals.node },
  },
  prettier,
);

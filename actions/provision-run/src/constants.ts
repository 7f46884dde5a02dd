// Input and output names of this action, in one place; constants.test.ts checks them against action.yml.

import { GITHUB_TOKEN_DEFAULT } from '@sluice/action-kit';

export const Inputs = {
  job: 'job',
  backend: 'backend',
  githubToken: 'github-token',
  teardownOnFailure: 'teardown-on-failure',
} as const;

/** Defaults that action.yml declares too (the runner applies those; these apply outside it). */
export const InputDefaults = {
  job: 'job.json',
  // An expression only the runner can evaluate: outside it, no token means no commit comment.
  githubToken: GITHUB_TOKEN_DEFAULT,
  teardownOnFailure: true,
} as const satisfies Partial<Record<keyof typeof Inputs, string | number | boolean>>;

/** The values `backend` accepts. */
export const BACKENDS = ['local', 'ecs'] as const;

export const Outputs = {
  runId: 'run-id',
  queueUrl: 'queue-url',
  uploadTo: 'upload-to',
} as const;

// Input and output names of this action, in one place; constants.test.ts checks them against action.yml.

import { GITHUB_TOKEN_DEFAULT } from '@sluice/action-kit';

export const Inputs = {
  job: 'job',
  runId: 'run-id',
  until: 'until',
  expectedCount: 'expected-count',
  idleSeconds: 'idle-seconds',
  timeoutSeconds: 'timeout-seconds',
  retryFailed: 'retry-failed',
  failOnError: 'fail-on-error',
  githubToken: 'github-token',
} as const;

/** The values `until` accepts. */
export const UNTIL = ['idle', 'marker', 'count'] as const;

/** Defaults that action.yml declares too (the runner applies those; these apply outside it). */
export const InputDefaults = {
  until: 'idle',
  idleSeconds: 120,
  retryFailed: false,
  failOnError: true,
  githubToken: GITHUB_TOKEN_DEFAULT,
} as const satisfies Partial<Record<keyof typeof Inputs, string | number | boolean>>;

export const Outputs = {
  succeeded: 'succeeded',
  failed: 'failed',
  results: 'results',
  report: 'report',
} as const;

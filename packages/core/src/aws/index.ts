// Every export of @sluice/core/aws: how sluice calls AWS (client configuration, error classification, retries), named (no `export *`).

export { awsClientConfig, runClientConfig } from './client-config.js';
export type { AwsClientConfig, AwsClientConfigOptions, RunClientConfig } from './client-config.js';
export { AwsRequestError, classifyAwsError, describeAwsError, isTransientAwsError } from './errors.js';
export { backoffDelayMs, retryRounds, withRetries } from './retry.js';
export type { BackoffOptions, Jitter, RetryOptions, RetryRound, WithRetriesOptions } from './retry.js';

// Every export of @sluice/core/aws: how sluice calls AWS (client configuration, error classification, retries), named (no `export *`).

export { awsClientConfig, runClientConfig } from './client-config.js';
export type { RunClientConfig } from './client-config.js';
export { AwsRequestError, classifyAwsError, describeAwsError, isTransientAwsError } from './errors.js';
export { withRetries } from './retry.js';
export { NodeSha256 } from './node-sha256.js';

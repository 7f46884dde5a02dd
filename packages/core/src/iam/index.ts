// Every export of @sluice/core/iam: the IAM policy documents of a run and of its deployer, named (no `export *`).

export {
  RUN_ROLE_POLICY_NAME,
  brokerRolePolicy,
  ecsTasksTrustPolicy,
  executionRolePolicy,
  lambdaTrustPolicy,
  runRoleArns,
  runRoleName,
  sealedTaskRolePolicy,
  secretArn,
  taskRolePolicy,
  watcherRolePolicy,
} from './policies.js';
export type { PolicyDocument, RunAccess } from './policies.js';
export { deployerPolicy, githubOidcTrustPolicy, partitionOfRegion } from './deployer-policy.js';

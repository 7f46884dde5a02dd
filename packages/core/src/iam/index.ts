// Every export of @sluice/core/iam: the IAM policy documents of a run and of its deployer, named (no `export *`).

export {
  IAM_ROLE_NAME_MAX,
  POLICY_VERSION,
  RUN_ROLE_KINDS,
  RUN_ROLE_POLICY_NAME,
  ecsTasksTrustPolicy,
  executionRolePolicy,
  lambdaTrustPolicy,
  runRoleArns,
  runRoleDocuments,
  runRoleName,
  runRolePath,
  secretArn,
  taskRolePolicy,
  watcherRolePolicy,
} from './policies.js';
export type {
  PolicyCondition,
  PolicyDocument,
  PolicyStatement,
  RunAccess,
  RunRoleDocuments,
  RunRoleKind,
} from './policies.js';
export {
  GITHUB_OIDC_AUDIENCE,
  GITHUB_OIDC_HOST,
  deployerPolicy,
  githubOidcTrustPolicy,
  partitionOfRegion,
} from './deployer-policy.js';
export type { DeployerScope, GitHubTrustScope } from './deployer-policy.js';

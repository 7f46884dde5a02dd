// Every export of @sluice/core/iam: the IAM policy documents of a run and of its deployer, named (no `export *`).

export {
  RUN_ROLE_POLICY_NAME,
  brokerRolePolicy,
  ecsTasksTrustPolicy,
  executionRolePolicy,
  lambdaTrustPolicy,
  runRoleArns,
  runRoleName,
  runRolePath,
  sealedTaskRolePolicy,
  secretArn,
  taskRolePolicy,
  watcherRolePolicy,
} from './policies.js';
export type { PolicyDocument, RunAccess } from './policies.js';
export {
  LOCAL_RUNNER_MAX_SESSION_SECONDS,
  ROLE_CHAINING_MAX_SESSION_SECONDS,
  callerKind,
  localRunnerPolicy,
  localRunnerRoleName,
  localRunnerTrustPolicy,
} from './local-runner-role.js';
export type { LocalRunnerTrustPolicy } from './local-runner-role.js';
export { deployerPolicy, githubOidcTrustPolicy, partitionOfRegion } from './deployer-policy.js';

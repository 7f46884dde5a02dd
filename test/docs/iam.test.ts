// docs/iam.md is rendered from the policy functions in packages/core/src/iam/policies.ts with
// placeholders for the values of a run; this test fails when it drifts and rewrites it with
// UPDATE_IAM_DOC=1.
import { describe, expect, test } from '@jest/globals';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as prettier from 'prettier';
import {
  RUN_ROLE_POLICY_NAME,
  brokerRolePolicy,
  deployerPolicy,
  ecsTasksTrustPolicy,
  localRunnerTrustPolicy,
  executionRolePolicy,
  lambdaTrustPolicy,
  sealedTaskRolePolicy,
  taskRolePolicy,
  watcherRolePolicy,
  type LocalRunnerTrustPolicy,
  type PolicyDocument,
  type RunAccess,
} from '@sluice/core/iam';

const file = join(dirname(fileURLToPath(import.meta.url)), '../../docs/iam.md');

const account = '<account-id>';
const region = '<region>';
const role = (kind: string): string => `arn:aws:iam::${account}:role/sluice/<run-id>/sluice-<run-id>-${kind}`;

/** A run with every value a placeholder. */
const placeholders: RunAccess = {
  partition: 'aws',
  region,
  accountId: account,
  runId: '<run-id>',
  input: { bucket: '<input-bucket>', prefix: '<input-prefix>' },
  output: { bucket: '<output-bucket>', prefix: '<output-prefix>' },
  taskQueueArn: `arn:aws:sqs:${region}:${account}:sluice-<run-id>-tasks`,
  deadLetterQueueArn: `arn:aws:sqs:${region}:${account}:sluice-<run-id>-tasks-dlq`,
  logGroupName: '/sluice/<algorithm>',
  watcherLogGroupName: '/aws/lambda/sluice-<run-id>-watch',
  clusterArn: `arn:aws:ecs:${region}:${account}:cluster/<cluster>`,
  taskDefinitionFamily: 'sluice-<algorithm>',
  imageRepositoryArn: `arn:aws:ecr:${region}:${account}:repository/<repository>`,
  secretArns: [`arn:aws:secretsmanager:${region}:${account}:secret:<secret-name>-??????`],
  parameterArns: [`arn:aws:ssm:${region}:${account}:parameter/<parameter-name>`],
  roleArns: { task: role('task'), execution: role('execution') },
};

/** The same run in sealed mode: its broker function too. */
const sealed: RunAccess = {
  ...placeholders,
  broker: {
    functionArn: `arn:aws:lambda:${region}:${account}:function:sluice-<run-id>-broker`,
    logGroupName: '/aws/lambda/sluice-<run-id>-broker',
  },
};

function json(document: PolicyDocument | LocalRunnerTrustPolicy): string {
  return ['```json', JSON.stringify(document, null, 2), '```'].join('\n');
}

/** The whole of docs/iam.md, before Prettier. */
function renderIamDoc(): string {
  return `# IAM roles and policies

<!-- Generated from packages/core/src/iam/policies.ts by test/docs/iam.test.ts; run
     \`UPDATE_IAM_DOC=1 npm run test:unit -- test/docs/iam.test.ts\` to rewrite it. Do not edit by hand. -->

A run on AWS (\`compute.backend: "ecs"\`) uses three roles, and a fourth in sealed mode (\`"mode": "sealed"\`),
each allowed only what its holder does for that one run:

| role | name | held by | may |
| --- | --- | --- | --- |
| task, direct mode | \`sluice-<run-id>-task\` | the runner inside each ECS task | work the run's task queue, read the input prefix, write the output prefix and the run's ledger |
| task, sealed mode | \`sluice-<run-id>-task\` | the runner inside each ECS task | call the run's broker through its function URL (IAM auth); nothing else: no S3, no SQS |
| execution | \`sluice-<run-id>-execution\` | the ECS agent starting a task | pull the wrapped image, write the runners' logs, read the job's secrets |
| watcher | \`sluice-<run-id>-watcher\` | the watcher Lambda | read the queue's backlog, start runners of the run's task definition in its cluster, pass the task and execution roles |
| broker (sealed mode) | \`sluice-<run-id>-broker\` | the broker Lambda \`sluice-<run-id>-broker\` | what the direct-mode task role may (the task control runs here), and write its own logs |

provision-run creates them (under the path \`/sluice/<run-id>/\`, tagged \`sluice:run-id=<run-id>\` and
\`sluice:managed=true\`, with one inline policy, \`${RUN_ROLE_POLICY_NAME}\`), updates their policies when
the run is provisioned again, and teardown deletes them. A run id too long for IAM's 64-character role
names is shortened with a hash of it; the run ids sluice makes always fit.

IAM is eventually consistent: a role just created can take about ten seconds before ECS or Lambda can
assume it. sluice waits for that: a RunTask or CreateFunction refused because the new role cannot be
assumed yet is tried again, with growing waits, for about a minute.

## Creating the roles yourself

When the credentials that provision a run may not create IAM roles, create these yourself with
the documents below, replacing the placeholders:

| placeholder | value |
| --- | --- |
| \`<account-id>\`, \`<region>\` | the account and region of the run (in China or GovCloud, replace \`aws\` in the ARNs by \`aws-cn\` or \`aws-us-gov\` too) |
| \`<run-id>\` | the run id: provision-run's \`run-id\` output (see [contracts.md](contracts.md#run-id)) |
| \`<input-bucket>\`, \`<input-prefix>\` | \`input.bucket\` and \`input.prefix\` of the job, the prefix ending in \`/\` (empty for the whole bucket) |
| \`<output-bucket>\`, \`<output-prefix>\` | \`output.bucket\` and \`output.prefix\` of the job, the prefix ending in \`/\` |
| \`<algorithm>\` | the algorithm's name (task definition family \`sluice-<algorithm>\`, log group \`/sluice/<algorithm>\`) |
| \`<cluster>\` | the ECS cluster the runners run in |
| \`<repository>\` | the ECR repository of the wrapped image |
| \`<secret-name>\`, \`<parameter-name>\` | each Secrets Manager secret or SSM parameter the job's \`fromSecret\` values name |

Leave out what a run does not use: the two ECR statements when the image is not in ECR, and the
secret and parameter statements when the job names none. Statements are listed in the order sluice
writes them; each has a \`Sid\` that says what it is for.

## Task role

The runner's role has one of two policies, by the job's \`mode\`:

| | direct mode | sealed mode |
| --- | --- | --- |
| task queue, dead-letter queue | receive, delete, change visibility, send | nothing |
| input prefix | read, list | nothing: a presigned GET per lease, from the broker |
| the run's ledger, output prefix | read and write its folders; write, read, list and delete results | nothing: a presigned POST per lease for its input's output prefix and one for its log, from the broker |
| the run's broker | — | \`lambda:InvokeFunctionUrl\` (IAM auth only) and \`lambda:InvokeFunction\` through the URL only |
| anything else | nothing | nothing |

Trust policy (the same in both modes, and for the execution role):

${json(ecsTasksTrustPolicy(account))}

Permissions. Every S3 and SQS call the runner makes, and no other:

- the task queue: receive, delete, change visibility (the heartbeat and retry back-off), send (a task
  handed back when the runner stops, an S3 event split into one message per task); the dead-letter
  queue: send (a task whose last attempt failed);
- the input: \`GetObject\` (and \`GetObjectVersion\` when the event names a version) under the input
  prefix; \`ListBucket\` on that prefix only, because without it S3 answers a missing object with 403
  instead of 404;
- the ledger \`_sluice/<run-id>/\` in the output bucket: records, completion markers, logs and
  rejected messages (not \`run.json\`, \`results.json\` or the end marker); nothing there is deleted;
- the results under the output prefix: \`PutObject\` (each output straight to its final key), and
  for an attempt after one that may have left outputs behind \`ListBucket\` on the input's output
  folder, \`GetObject\` (whose an object is, by its metadata) and \`DeleteObject\` (the leftovers).

Nothing under \`_sluice/\` but those folders of this run, in either bucket, even when a prefix is
empty (the default) or input and output share a bucket: an empty prefix would otherwise cover every
run's ledger, and IAM cannot write "the prefix but not \`_sluice/\`" as one resource. So inputs and
results are granted on every object outside the ledgers (\`ReadOutsideLedgers\`,
\`WriteOutsideLedgers\`, with \`NotResource\`), and two \`Deny\` statements with \`NotResource\` hold
reads to the input prefix, the output prefix and the run's ledger folders, and writes and deletes to
the output prefix and the run's ledger folders (\`ReadOnlyInputsAndLedger\`,
\`WriteOnlyResultsAndLedger\`). Those two also cap S3
object reads and writes that another policy of this role grants: read reference data with another
role. Listing is refused for \`_sluice/\` and each start of it. A \`*\`, \`?\` or \`$\` in a prefix is
written as IAM's \`\${*}\`, \`\${?}\`, \`\${$}\`, so \`team?/\` means that folder, not \`teamB/\`.

An SSE-KMS bucket or queue with a customer managed key also needs \`kms:Decrypt\` and
\`kms:GenerateDataKey\` on that key.

${json(taskRolePolicy(placeholders))}

### Sealed mode

The runner signs its broker requests (SigV4, service \`lambda\`) with this role's credentials, which
ECS gives it through the container credentials endpoint. Lambda authorizes a call to a function URL
with IAM auth against both \`lambda:InvokeFunctionUrl\` and, for URLs created since October 2025,
\`lambda:InvokeFunction\`: the second is held to calls made through a function URL
(\`lambda:InvokedViaFunctionUrl\`), so the role cannot invoke the broker through the Lambda API with a
payload of its own making. No resource policy on the function is needed: the caller is in the same
account.

${json(sealedTaskRolePolicy(sealed))}

## Execution role

Trust policy: as the task role's. Permissions: \`ecr:GetAuthorizationToken\` is granted on \`*\` because
it cannot be scoped (it returns a token for the whole registry); a secret encrypted with a customer
managed KMS key also needs \`kms:Decrypt\` on that key.

${json(executionRolePolicy(placeholders))}

## Watcher role

Trust policy:

${json(lambdaTrustPolicy())}

Permissions. \`ecs:ListTasks\` is authorized against container instances, which Fargate tasks have none
of, so it is granted on \`*\` and held to the cluster by the \`ecs:cluster\` condition. \`ecs:TagResource\`
lets RunTask tag the runners it starts, and nothing else.

${json(watcherRolePolicy(placeholders))}

## Broker role

Sealed mode only. Trust policy: as the watcher's. Permissions: the direct-mode task role's statements
(the broker now leases, heartbeats, commits and fails tasks, and signs the presigned transfers it
hands out with these credentials, so a transfer can do no more than they can), and its own logs.

${json(brokerRolePolicy(sealed))}

## Direct mode on the local backend

A local run in direct mode (\`compute.backend: "local"\`, \`"mode": "direct"\`) has one role,
\`sluice-<run-id>-local\` (same path and tags), whose sessions its runner containers hold: the caller's
own session never reaches a container. Its policy is the task role's, direct mode (above); its trust
policy names the one identity that runs the step — an IAM user by its ARN, or an assumed role by its
session's ARN, such as a workflow's \`arn:aws:sts::<account-id>:assumed-role/<role>/GitHubActions\` — so
that identity needs no \`sts:AssumeRole\` permission of its own, and another session of the same role
cannot assume it. A step run by another identity rewrites the trust policy for itself.

${json(localRunnerTrustPolicy('arn:aws:iam::<account-id>:user/<user>'))}

Sessions end: an IAM user's last up to 12 hours (the role's \`MaxSessionDuration\`), an assumed role's 1
hour (AWS caps a session assumed with another role's session: "role chaining"). Each runner is told
when its session ends, leases a task only while the task's whole time limit plus 5 minutes still fits,
and then exits; \`sluice run\`, \`serve\` and \`collect\` start its replacements with a fresh session. A
task time limit that no session could cover (over 50 minutes under role chaining) is refused before
any runner starts. The root user and federated users cannot assume a role: use an IAM user or role,
or sealed mode. Sealed mode needs none of this: its runners hold no AWS credential.

## The identity that runs the steps

The workflow's role (assumed through GitHub's OIDC provider, see [github.md](github.md)) or the user
that runs wrap-algorithm, provision-run, dispatch-tasks, collect-results and teardown needs the policy
below: every call those steps make, on resources named as sluice names them — \`sluice-*\` queues,
roles under \`/sluice/\`, the \`sluice\` cluster, \`/sluice/runs/*\` log groups, \`sluice-*-watch\`
functions and rules, \`sluice-*-broker\` functions and their URLs (IAM auth only), \`sluice/*\` ECR
repositories. Buckets are yours and differ by job, so the two
S3 statements name every bucket: replace \`*\` by your input and output buckets to narrow them.
test/integration/docs/deployer-policy.test.ts checks it against every AWS operation the code sends (listed by
\`node scripts/aws-calls.mjs\`). A run on the local backend needs only the S3 and SQS statements, and in direct mode the
RunRoles statement too (its runners' role, above).

${json(deployerPolicy({ partition: 'aws', region, accountId: account }))}
`;
}

describe('docs/iam.md', () => {
  test('matches the policies in code', async () => {
    const options = (await prettier.resolveConfig(file)) ?? {};
    const expected = await prettier.format(renderIamDoc(), { ...options, filepath: file });
    if (process.env.UPDATE_IAM_DOC === '1') writeFileSync(file, expected);
    const actual = existsSync(file) ? readFileSync(file, 'utf8') : '(missing)';
    // On failure: run `UPDATE_IAM_DOC=1 npm run test:unit -- test/docs/iam.test.ts` and commit docs/iam.md.
    expect(actual).toBe(expected);
  });
});

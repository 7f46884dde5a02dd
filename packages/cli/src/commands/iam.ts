import {
  deployerPolicy,
  githubOidcTrustPolicy,
  partitionOfRegion,
  type PolicyDocument,
} from '@sluice/core/iam';
import { InvalidArgumentError, type Command } from 'commander';

import type { CommandContext } from '../context.js';

const EXAMPLES = `
Examples:
  $ ACCOUNT=$(aws sts get-caller-identity --query Account --output text)
  $ sluice iam github-trust --account-id "$ACCOUNT" --repository my-org/my-jobs > trust.json
  $ aws iam create-role --role-name sluice-jobs --assume-role-policy-document file://trust.json
  $ sluice iam deployer --account-id "$ACCOUNT" --region eu-west-1 > policy.json
  $ aws iam put-role-policy --role-name sluice-jobs --policy-name sluice --policy-document file://policy.json

docs/github.md walks through the whole setup; docs/iam.md explains every statement.
Exit status: 0 printed, 2 an option is wrong.
`;

function accountId(value: string): string {
  if (!/^\d{12}$/.test(value)) {
    throw new InvalidArgumentError(
      'An AWS account id is 12 digits (aws sts get-caller-identity shows yours).',
    );
  }
  return value;
}

function region(value: string): string {
  if (!/^[a-z]{2}(-[a-z]+)+-\d+$/.test(value)) {
    throw new InvalidArgumentError('A region looks like eu-west-1.');
  }
  return value;
}

function repository(value: string): string {
  if (!/^[A-Za-z0-9_.-]+\/[A-Za-z0-9_.-]+$/.test(value)) {
    throw new InvalidArgumentError(
      'Give the repository as owner/name (with a reusable workflow: the repository that calls it).',
    );
  }
  return value;
}

function ref(value: string): string {
  if (!value.startsWith('refs/')) {
    throw new InvalidArgumentError('A ref starts with refs/: refs/heads/main, refs/tags/v*.');
  }
  return value;
}

function print(context: CommandContext, document: PolicyDocument): void {
  context.io.out(`${JSON.stringify(document, null, 2)}\n`);
}

/** `sluice iam …`: the IAM documents a user needs to set sluice up, printed as JSON for the aws CLI. */
export function registerIam(program: Command, context: CommandContext): void {
  const iam = program
    .command('iam')
    .summary('print the IAM policies to set sluice up (GitHub OIDC role, deployer policy)')
    .description(
      'Print IAM policy documents as JSON, with your account, region and repository filled in, for\n' +
        '`aws iam create-role` and `aws iam put-role-policy`. Nothing is sent to AWS.',
    )
    .addHelpText('after', EXAMPLES);

  iam
    .command('deployer')
    .description(
      "The policy of the identity that runs sluice's steps (a workflow's role, or you): every call\n" +
        'wrap-algorithm, provision-run, dispatch-tasks, collect-results and teardown make, on resources\n' +
        'named as sluice names them. Buckets are granted by name pattern `*`: narrow them to yours.',
    )
    .requiredOption('--account-id <id>', 'the AWS account of the runs', accountId)
    .requiredOption('--region <region>', 'the region of the runs', region)
    .action((options: { readonly accountId: string; readonly region: string }) => {
      print(
        context,
        deployerPolicy({
          partition: partitionOfRegion(options.region),
          region: options.region,
          accountId: options.accountId,
        }),
      );
    });

  iam
    .command('github-trust')
    .description(
      "The trust policy of a role that one repository's GitHub workflows assume with GitHub's OIDC\n" +
        'token (create the identity provider token.actions.githubusercontent.com once per account).',
    )
    .requiredOption('--account-id <id>', 'the AWS account of the role', accountId)
    .requiredOption('--repository <owner/name>', 'the repository whose workflows assume the role', repository)
    .option('--ref <ref>', 'only this branch or tag (refs/heads/main, refs/tags/v*); default: any', ref)
    .option('--partition <partition>', 'aws, aws-cn or aws-us-gov', 'aws')
    .action(
      (options: {
        readonly accountId: string;
        readonly repository: string;
        readonly ref?: string;
        readonly partition: string;
      }) => {
        print(
          context,
          githubOidcTrustPolicy({
            partition: options.partition,
            accountId: options.accountId,
            repository: options.repository,
            ...(options.ref !== undefined && { ref: options.ref }),
          }),
        );
      },
    );
}

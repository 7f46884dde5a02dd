import { fileURLToPath } from 'node:url';

import { ConfigurationError } from '@sluice/core';
import { detectContainerEngine } from '@sluice/core/compute';
import { wrap, wrapDestinations } from '@sluice/orchestrator';
import type { Command } from 'commander';

import type { CommandContext } from '../context.js';
import { maskingLogger } from './step-options.js';

const EXAMPLES = `
Examples:
  $ sluice wrap algorithm.json                                  # build into the local image store
  $ sluice wrap algorithm.json --registry localhost:5000 --no-task-definition
  $ sluice wrap algorithm.json --ecr --region eu-west-1         # push to ECR, register the task definition

Prints the image (with its digest when pushed) and the task definition ARN on stdout; progress goes
to stderr. A second wrap of an unchanged algorithm reuses the image and the task definition.

Exit status: 0 wrapped, 2 the manifest or the command line is wrong, 1 sluice itself failed.
`;

interface WrapCommandOptions {
  readonly registry?: string;
  readonly push?: boolean;
  readonly ecr?: boolean;
  readonly taskDefinition: boolean;
  readonly platform?: string;
  readonly region?: string;
  readonly executionRoleArn?: string;
  readonly verbose?: boolean;
}

/**
 * The runner bundle, copied next to the CLI's bundle by its build (`dist/runner/`).
 */
export function cliRunnerDir(base: string = import.meta.url): string {
  return fileURLToPath(new URL('./runner/', base));
}

/** `sluice wrap MANIFEST`: the wrap-algorithm action's work, on this machine. */
export function registerWrap(program: Command, context: CommandContext): void {
  program
    .command('wrap')
    .summary('build the wrapped image of an algorithm, push it and register it')
    .description(
      'Validate MANIFEST, build the algorithm image (when it has `build`), build the wrapped image (the ' +
        'algorithm plus the sluice runner and its own Node runtime), and record it in the catalogue: ' +
        'locally the image itself; with --push (or --registry/--ecr) pushed, and registered as an ECS task ' +
        'definition unless --no-task-definition.',
    )
    .argument('<manifest>', 'the algorithm.json')
    .option(
      '--registry <host>',
      'push to this registry (host[:port][/path]) as <registry>/sluice/<name>:<version>',
    )
    .option('--push', 'push the wrapped image (to --registry, or ECR with --ecr)')
    .option('--ecr', 'push to the ECR registry of the AWS account and region (repository sluice/<name>)')
    .option('--no-task-definition', 'push without registering an ECS task definition')
    .option('--platform <os/arch>', "build for this platform instead of the manifest's")
    .option('--region <region>', 'AWS region for ECR and ECS (default AWS_REGION)')
    .option('--execution-role-arn <arn>', 'ECS task execution role for the task definition')
    .option('--verbose', 'print the engine commands too')
    .addHelpText('after', EXAMPLES)
    .action(async (manifestPath: string, options: WrapCommandOptions) => {
      const logger = maskingLogger((line) => {
        context.io.err(`${line}\n`);
      }, options.verbose === true);
      if (options.registry !== undefined && options.ecr === true) {
        throw new ConfigurationError('--registry and --ecr both name where to push: keep one.');
      }
      const pushing = options.push === true || options.registry !== undefined || options.ecr === true;
      if (pushing && options.registry === undefined && options.ecr !== true) {
        throw new ConfigurationError('--push needs somewhere to push: --registry <host> or --ecr.');
      }
      const region =
        options.region ??
        (process.env.AWS_REGION || undefined) ??
        (process.env.AWS_DEFAULT_REGION || undefined);
      const registerTaskDefinition = pushing && options.taskDefinition;
      if ((registerTaskDefinition || options.ecr === true) && region === undefined) {
        throw new ConfigurationError(
          `no AWS region: pass --region or set AWS_REGION${options.ecr === true ? '' : ', or pass --no-task-definition to push without an ECS task definition'}.`,
        );
      }
      const engine = await detectContainerEngine({ logger });
      const { push, catalogue } = wrapDestinations({
        engine,
        push:
          options.ecr === true
            ? { kind: 'ecr' }
            : options.registry !== undefined
              ? { kind: 'registry', registry: options.registry }
              : { kind: 'none' },
        registerTaskDefinition,
        logger,
        ...(region !== undefined ? { region } : {}),
        ...(options.executionRoleArn !== undefined ? { executionRoleArn: options.executionRoleArn } : {}),
      });
      const result = await wrap({
        manifestPath,
        engine,
        runnerDir: cliRunnerDir(),
        push,
        logger,
        ...(catalogue !== undefined ? { catalogue } : {}),
        ...(options.platform !== undefined ? { platform: options.platform } : {}),
      });
      context.io.out(`image: ${result.image}\n`);
      if (result.taskDefinitionArn !== undefined)
        context.io.out(`task-definition: ${result.taskDefinitionArn}\n`);
    });
}

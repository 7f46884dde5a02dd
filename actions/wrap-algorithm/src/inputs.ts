import { InputError, createInputReader, type InputReader } from '@sluice/action-kit';

import { InputDefaults, Inputs } from './constants.js';

/** Where the wrapped image goes. */
export type PushInput =
  | { readonly kind: 'none' }
  | { readonly kind: 'registry'; readonly registry: string }
  | { readonly kind: 'ecr' };

/** This action's inputs, parsed once. */
export interface WrapAlgorithmInputs {
  readonly manifest: string;
  readonly platform: string | undefined;
  readonly push: PushInput;
  /** The input, else AWS_REGION, else AWS_DEFAULT_REGION. */
  readonly region: string | undefined;
  readonly executionRoleArn: string | undefined;
  /** True when a task definition is to be registered (only ever with a push). */
  readonly registerTaskDefinition: boolean;
}

/** An OCI platform: os/arch with an optional variant, e.g. linux/amd64 or linux/arm64/v8. */
const PLATFORM = /^[a-z0-9]+\/[a-z0-9_]+(\/[a-z0-9]+)?$/;
/** host[:port][/path], without a scheme, a tag or a digest. */
const REGISTRY = /^[A-Za-z0-9.-]+(:[0-9]+)?(\/[a-z0-9._-]+)*$/;
const REGION = /^[a-z]{2}(-[a-z]+)+-[0-9]+$/;
const ROLE_ARN = /^arn:aws[a-z-]*:iam::[0-9]{12}:role\/[\w+=,.@/-]+$/;

/**
 * Reads and checks every input of wrap-algorithm.
 * @throws {InputError} naming the first input that is wrong.
 */
export function readInputs(
  input: InputReader = createInputReader(),
  environment: Readonly<Record<string, string | undefined>> = process.env,
): WrapAlgorithmInputs {
  const platform = input.optionalString(Inputs.platform);
  if (platform !== undefined && !PLATFORM.test(platform)) {
    throw new InputError(
      Inputs.platform,
      `Input \`${Inputs.platform}\` must be an OCI platform such as linux/amd64 or linux/arm64; found ` +
        `${JSON.stringify(platform)}. Fix it in the step's \`with:\` block, or leave it out to use the manifest's.`,
    );
  }
  const registry = input.optionalString(Inputs.registry);
  if (registry !== undefined && !REGISTRY.test(registry)) {
    throw new InputError(
      Inputs.registry,
      `Input \`${Inputs.registry}\` must be a registry as host[:port][/path], such as ghcr.io/acme or localhost:5000; found ${JSON.stringify(registry)}. Leave out the scheme, tag and digest.`,
    );
  }
  const ecr = input.boolean(Inputs.ecr, InputDefaults.ecr);
  const pushing = input.boolean(Inputs.push, InputDefaults.push);
  if (ecr && registry !== undefined) {
    throw new InputError(
      Inputs.registry,
      `Inputs \`${Inputs.registry}\` and \`${Inputs.ecr}: true\` both name where to push: keep one.`,
    );
  }
  if (pushing && !ecr && registry === undefined) {
    throw new InputError(
      Inputs.registry,
      `Input \`${Inputs.registry}\` is empty, so there is nowhere to push: name a registry, set \`${Inputs.ecr}: true\` for the account's ECR, or set \`${Inputs.push}: false\` to only build.`,
    );
  }
  const push: PushInput = !pushing
    ? { kind: 'none' }
    : ecr
      ? { kind: 'ecr' }
      : { kind: 'registry', registry: registry ?? '' };

  const region =
    input.optionalString(Inputs.region) ??
    (environment.AWS_REGION || undefined) ??
    (environment.AWS_DEFAULT_REGION || undefined);
  if (region !== undefined && !REGION.test(region)) {
    throw new InputError(
      Inputs.region,
      `Input \`${Inputs.region}\` must be an AWS region such as eu-west-1; found ${JSON.stringify(region)}.`,
    );
  }
  const executionRoleArn = input.optionalString(Inputs.executionRoleArn);
  if (executionRoleArn !== undefined && !ROLE_ARN.test(executionRoleArn)) {
    throw new InputError(
      Inputs.executionRoleArn,
      `Input \`${Inputs.executionRoleArn}\` must be an IAM role ARN (arn:aws:iam::<account>:role/<name>); found ${JSON.stringify(executionRoleArn)}.`,
    );
  }
  const registerTaskDefinition =
    push.kind !== 'none' &&
    input.boolean(Inputs.registerTaskDefinition, InputDefaults.registerTaskDefinition);
  if ((registerTaskDefinition || push.kind === 'ecr') && region === undefined) {
    throw new InputError(
      Inputs.region,
      `No AWS region: set input \`${Inputs.region}\` (or AWS_REGION, e.g. with aws-actions/configure-aws-credentials)` +
        (push.kind === 'ecr'
          ? '.'
          : `, or set \`${Inputs.registerTaskDefinition}: false\` to push without an ECS task definition.`),
    );
  }
  return {
    manifest: input.optionalString(Inputs.manifest) ?? InputDefaults.manifest,
    platform,
    push,
    region,
    executionRoleArn,
    registerTaskDefinition,
  };
}

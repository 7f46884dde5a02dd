import { InputError, createInputReader, type InputReader } from '@sluice/action-kit';

import { InputDefaults, Inputs } from './constants.js';

/** This action's inputs, parsed once. */
export interface WrapAlgorithmInputs {
  readonly manifest: string;
  readonly registry: string | undefined;
  readonly platform: string | undefined;
  readonly push: boolean;
}

/** An OCI platform: os/arch with an optional variant, e.g. linux/amd64 or linux/arm64/v8. */
const PLATFORM = /^[a-z0-9]+\/[a-z0-9_]+(\/[a-z0-9]+)?$/;

/**
 * Reads and checks every input of wrap-algorithm.
 * @throws {InputError} naming the first input that is wrong.
 */
export function readInputs(input: InputReader = createInputReader()): WrapAlgorithmInputs {
  const platform = input.optionalString(Inputs.platform);
  if (platform !== undefined && !PLATFORM.test(platform)) {
    throw new InputError(
      Inputs.platform,
      `Input \`${Inputs.platform}\` must be an OCI platform such as linux/amd64 or linux/arm64; found ` +
        `${JSON.stringify(platform)}. Fix it in the step's \`with:\` block, or leave it out to use the manifest's.`,
    );
  }
  return {
    manifest: input.optionalString(Inputs.manifest) ?? InputDefaults.manifest,
    registry: input.optionalString(Inputs.registry),
    platform,
    push: input.boolean(Inputs.push, InputDefaults.push),
  };
}

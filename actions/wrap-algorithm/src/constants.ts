// Input and output names of this action, in one place; constants.test.ts checks them against action.yml.

export const Inputs = {
  manifest: 'manifest',
  registry: 'registry',
  platform: 'platform',
  push: 'push',
  ecr: 'ecr',
  region: 'region',
  executionRoleArn: 'execution-role-arn',
  registerTaskDefinition: 'register-task-definition',
} as const;

/** Defaults that action.yml declares too (the runner applies those; these apply outside it). */
export const InputDefaults = {
  manifest: 'algorithm.json',
  push: true,
  ecr: false,
  registerTaskDefinition: true,
} as const satisfies Partial<Record<keyof typeof Inputs, string | number | boolean>>;

export const Outputs = {
  image: 'image',
  taskDefinition: 'task-definition',
} as const;

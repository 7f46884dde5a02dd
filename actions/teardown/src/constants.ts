// Input and output names of this action, in one place; constants.test.ts checks them against action.yml.

export const Inputs = {
  job: 'job',
  runId: 'run-id',
  deleteData: 'delete-data',
} as const;

/** Defaults that action.yml declares too (the runner applies those; these apply outside it). */
export const InputDefaults = {
  deleteData: false,
} as const satisfies Partial<Record<keyof typeof Inputs, string | number | boolean>>;

export const Outputs = {
  deleted: 'deleted',
} as const;

// Input and output names of this action, in one place; constants.test.ts checks them against action.yml.

export const Inputs = {
  job: 'job',
  runId: 'run-id',
  backend: 'backend',
} as const;

/** Defaults that action.yml declares too (none: `job` and `run-id` are either-or). */
export const InputDefaults = {} as const satisfies Partial<
  Record<keyof typeof Inputs, string | number | boolean>
>;

/** The values `backend` accepts. */
export const BACKENDS = ['local', 'ecs'] as const;

export const Outputs = {
  enqueued: 'enqueued',
  workers: 'workers',
} as const;

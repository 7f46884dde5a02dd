import { describeActionYaml } from '@sluice/testing';

import { InputDefaults, Inputs, Outputs } from './constants.js';

describeActionYaml(
  new URL('../action.yml', import.meta.url),
  { Inputs, InputDefaults, Outputs },
  // The post step tears down after a failed or cancelled job only.
  { post: { if: 'failure() || cancelled()' } },
);

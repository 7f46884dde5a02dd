// What provision-run's tests share: the job file, what a provision step returns, and a provision
// step that records its calls (main.test.ts, and test/integration/actions/provision-run-comment.test.ts).
import { fileURLToPath } from 'node:url';

import type { ProvisionStepResult, StepContext } from '@sluice/orchestrator';

export const job = fileURLToPath(new URL('../../../examples/jobs/thumbnails.json', import.meta.url));

export const provisioned: ProvisionStepResult = {
  runId: 'thumbnails-3f9a0c12',
  queueUrl: 'http://localhost:5000/123456789012/sluice-thumbnails-3f9a0c12-tasks',
  uploadTo: 's3://sluice-demo-in/photos/',
  endMarker: 's3://sluice-demo-in/_sluice/thumbnails-3f9a0c12/end',
  warnings: ['the input bucket is versioned'],
};

/** A provision step that records what it was given and returns `result`. */
export function fakeProvision(result: ProvisionStepResult | Error = provisioned): {
  calls: { jobPath: string; context: StepContext }[];
  provision: (jobPath: string, context: StepContext) => Promise<ProvisionStepResult>;
} {
  const calls: { jobPath: string; context: StepContext }[] = [];
  return {
    calls,
    provision: (jobPath, context) => {
      calls.push({ jobPath, context });
      return result instanceof Error ? Promise.reject(result) : Promise.resolve(result);
    },
  };
}

import {
  StepNotAvailableError,
  actionsToolkit,
  checkDocumentFile,
  createInputReader,
  type ActionsToolkit,
} from '@sluice/action-kit';

import { Inputs } from './constants.js';
import { readInputs } from './inputs.js';

/**
 * provision-run: checks the job now; provisioning arrives with issue #5 (local backend) and issue #6
 * (AWS), and with it the outputs (run-id, queue-url, upload-to), set once at the end.
 */
export async function main(toolkit: ActionsToolkit = actionsToolkit): Promise<void> {
  const inputs = readInputs(createInputReader(toolkit));
  await checkDocumentFile({ path: inputs.job, input: Inputs.job, kind: 'job' });
  toolkit.info(`${inputs.job}: a valid job.`);
  throw new StepNotAvailableError(
    'provision-run',
    'issue #5 (a whole run on one machine, backend local) and issue #6 (backend ecs on AWS)',
  );
}

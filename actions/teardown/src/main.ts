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
 * teardown: checks the job (when given by file) now; finding and deleting the run's resources arrives
 * with issue #5 (and #6 for AWS), and with it the output (deleted), set once at the end.
 */
export async function main(toolkit: ActionsToolkit = actionsToolkit): Promise<void> {
  const { target } = readInputs(createInputReader(toolkit));
  if ('job' in target) {
    await checkDocumentFile({ path: target.job, input: Inputs.job, kind: 'job' });
    toolkit.info(`${target.job}: a valid job.`);
  }
  throw new StepNotAvailableError('teardown', 'issue #5 (a whole run on one machine) and issue #6 (AWS)');
}

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
 * collect-results: checks the job (when given by file) now; waiting, gathering records and the job
 * summary arrive with issue #5, and with them the outputs (succeeded, failed, results), set once at the end.
 */
export async function main(toolkit: ActionsToolkit = actionsToolkit): Promise<void> {
  const { target } = readInputs(createInputReader(toolkit));
  if ('job' in target) {
    await checkDocumentFile({ path: target.job, input: Inputs.job, kind: 'job' });
    toolkit.info(`${target.job}: a valid job.`);
  }
  throw new StepNotAvailableError('collect-results', 'issue #5 (a whole run on one machine)');
}

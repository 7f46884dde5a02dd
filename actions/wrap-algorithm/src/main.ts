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
 * wrap-algorithm: checks the manifest now; building, pushing and registering the wrapped image arrive
 * with issue #4, and with them the outputs (image, task-definition), set once at the end.
 */
export async function main(toolkit: ActionsToolkit = actionsToolkit): Promise<void> {
  const inputs = readInputs(createInputReader(toolkit));
  await checkDocumentFile({ path: inputs.manifest, input: Inputs.manifest, kind: 'manifest' });
  toolkit.info(`${inputs.manifest}: a valid algorithm manifest.`);
  throw new StepNotAvailableError(
    'wrap-algorithm',
    'issue #4 (build the wrapped image, push it and register its task definition)',
  );
}

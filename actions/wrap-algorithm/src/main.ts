import { fileURLToPath } from 'node:url';

import {
  actionsToolkit,
  checkDocumentFile,
  createActionsLogger,
  createInputReader,
  setOutputs,
  type ActionsToolkit,
} from '@sluice/action-kit';
import { detectContainerEngine } from '@sluice/core/compute';
import { wrap, wrapDestinations } from '@sluice/orchestrator';

import { Inputs, Outputs } from './constants.js';
import { readInputs } from './inputs.js';

/**
 * The runner bundle, copied next to this action's bundle by its build (`dist/runner/`). Resolved from
 * the bundle's own URL, so it works wherever the action is checked out.
 */
export function bundledRunnerDir(base: string = import.meta.url): string {
  return fileURLToPath(new URL('./runner/', base));
}

/**
 * wrap-algorithm: validates the manifest, builds the wrapped image, pushes it (a registry, or ECR)
 * and registers its ECS task definition (the catalogue entry); outputs set once, at the end.
 */
export async function main(toolkit: ActionsToolkit = actionsToolkit): Promise<void> {
  const inputs = readInputs(createInputReader(toolkit));
  await checkDocumentFile({ path: inputs.manifest, input: Inputs.manifest, kind: 'manifest' });
  const logger = createActionsLogger(toolkit);
  const engine = await detectContainerEngine({ logger });
  const { push, catalogue } = wrapDestinations({
    engine,
    push: inputs.push,
    registerTaskDefinition: inputs.registerTaskDefinition,
    logger,
    ...(inputs.region !== undefined ? { region: inputs.region } : {}),
    ...(inputs.executionRoleArn !== undefined ? { executionRoleArn: inputs.executionRoleArn } : {}),
  });

  const result = await wrap({
    manifestPath: inputs.manifest,
    engine,
    runnerDir: bundledRunnerDir(),
    push,
    logger,
    ...(catalogue !== undefined ? { catalogue } : {}),
    ...(inputs.platform !== undefined ? { platform: inputs.platform } : {}),
  });
  toolkit.info(
    `${result.manifest.name}@${result.manifest.version}: ${result.image}` +
      (result.taskDefinitionArn !== undefined ? `, task definition ${result.taskDefinitionArn}` : '') +
      (result.reused ? ' (nothing changed: reused)' : ''),
  );
  setOutputs(
    { [Outputs.image]: result.image, [Outputs.taskDefinition]: result.taskDefinitionArn ?? '' },
    toolkit,
  );
}

import { actionsToolkit, type ActionsToolkit } from './toolkit.js';

/** An output value: GitHub stores every output as a string; numbers and booleans are written as text. */
export type OutputValue = string | number | boolean;

/**
 * Sets every output of a step at once. Call it once, at the end of `main`, so a step that fails
 * half way leaves no outputs that later steps could mistake for a result.
 *
 * @example
 * setOutputs({ [Outputs.runId]: run.id, [Outputs.queueUrl]: run.queueUrl });
 * @throws never; values are written with `@actions/core`'s `setOutput`.
 */
export function setOutputs(
  outputs: Readonly<Record<string, OutputValue>>,
  toolkit: ActionsToolkit = actionsToolkit,
): void {
  for (const [name, value] of Object.entries(outputs)) {
    toolkit.setOutput(name, String(value));
  }
}

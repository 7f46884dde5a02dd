import { ValidationError, formatProblem, isConfigurationError, toError, type Problem } from '@sluice/core';
import { closeLocalBrokers } from '@sluice/orchestrator';

import { actionsToolkit, type ActionsToolkit } from './toolkit.js';

/** Set by main when the action has a post step, so the second run of the same bundle is the post step. */
const IS_POST_STATE = 'sluice-is-post';

/** A step's body: main or post. It throws to fail; `runAction` does the reporting. */
export type ActionStep = () => Promise<void>;

/**
 * Runs an action's main step, or its post step when the runner starts the same bundle again for
 * `post:`, and turns whatever it throws into a failed step, telling user errors from faults (docker/actions-toolkit, github/codeql-action):
 * - a `ValidationError`: each problem becomes an error annotation on its file, then the step fails
 *   with a one-line summary;
 * - any other `ConfigurationError` (a user error): the step fails with its message, no stack;
 * - anything else (a fault): the step fails with the error's message; the stack goes to the debug log.
 *
 * It never rejects, so an entry point is just `void runAction(main)`.
 *
 * @example
 * // src/index.ts of an action
 * import { runAction } from '@sluice/action-kit';
 * import { main } from './main.js';
 * void runAction(main);
 * @throws never: every failure is reported through `setFailed`.
 */
export async function runAction(
  main: ActionStep,
  post?: ActionStep,
  toolkit: ActionsToolkit = actionsToolkit,
): Promise<void> {
  try {
    if (post !== undefined && toolkit.getState(IS_POST_STATE) === 'true') {
      await post();
      return;
    }
    if (post !== undefined) toolkit.saveState(IS_POST_STATE, 'true');
    await main();
  } catch (thrown) {
    reportFailure(thrown, toolkit);
  } finally {
    // A step that started a sealed run's broker stops serving it as it ends (see closeLocalBrokers).
    await closeLocalBrokers();
  }
}

function reportFailure(thrown: unknown, toolkit: ActionsToolkit): void {
  try {
    if (thrown instanceof ValidationError) {
      for (const problem of thrown.problems) annotate(problem, toolkit);
      toolkit.setFailed(validationSummary(thrown.problems));
      return;
    }
    if (isConfigurationError(thrown)) {
      toolkit.setFailed(thrown.message);
      return;
    }
    const error = toError(thrown);
    for (const line of describeFault(error)) toolkit.debug(line);
    toolkit.setFailed(error.message === '' ? error.name : error.message);
  } catch (reporting) {
    // Reporting itself failed (e.g. the runner's command file is gone): still fail the step.
    process.exitCode = 1;
    console.error(toError(reporting).message);
  }
}

function annotate(problem: Problem, toolkit: ActionsToolkit): void {
  toolkit.error(formatProblem(problem), { file: problem.file, title: `sluice: ${problem.path}` });
}

function validationSummary(problems: readonly Problem[]): string {
  const files = [...new Set(problems.map((p) => p.file))];
  const count = problems.length === 1 ? '1 problem' : `${problems.length} problems`;
  const annotated = problems.length === 1 ? 'it is annotated above' : 'each is annotated above';
  return `Validation failed: ${count} in ${files.join(', ')} (${annotated}). Run \`sluice validate\` to check locally.`;
}

/** The error's stack and its causes' stacks, for the debug log. */
function describeFault(error: Error): string[] {
  const lines: string[] = [];
  let current: unknown = error;
  for (let depth = 0; current !== undefined && depth < 5; depth += 1) {
    const prefix = depth === 0 ? '' : 'caused by: ';
    if (!(current instanceof Error)) {
      lines.push(`${prefix}${toError(current).message}`);
      break;
    }
    lines.push(`${prefix}${current.stack ?? `${current.name}: ${current.message}`}`);
    current = current.cause;
  }
  return lines;
}

// The chain of sluice actions the reusable workflow (.github/workflows/sluice-run.yml) runs, read from
// the file itself, so the end-to-end test can run exactly that chain: the actions in order, the
// inputs each step passes, and which earlier step's output each input is wired to.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

import { REPOSITORY_ROOT } from '@sluice/testing';
import { parse } from 'yaml';

import type { ActionName } from './e2e-support.js';

/** The reusable workflow, relative to the repository root. */
export const SLUICE_RUN_WORKFLOW = '.github/workflows/sluice-run.yml';

/** The repository the workflow and the examples name sluice's actions by. */
export const SLUICE_REPOSITORY = 'sluice-dev/sluice';

const ACTIONS: readonly ActionName[] = [
  'wrap-algorithm',
  'provision-run',
  'dispatch-tasks',
  'collect-results',
  'teardown',
];

/** One sluice action step of the workflow. */
export interface ChainStep {
  readonly action: ActionName;
  /** The step's `id`, if any. */
  readonly id: string | undefined;
  /** The step's `if:` condition, if any. */
  readonly if: string | undefined;
  /** Every input the step passes (its `with:` block), as written. */
  readonly with: Readonly<Record<string, string>>;
  /** Inputs wired to an earlier sluice step's output: input → that step's action and output name. */
  readonly wiredFrom: Readonly<Record<string, { readonly action: ActionName; readonly output: string }>>;
}

interface WorkflowStep {
  readonly id?: unknown;
  readonly uses?: unknown;
  readonly if?: unknown;
  readonly with?: unknown;
}

const USES = /^([\w.-]+\/[\w.-]+)\/actions\/([\w-]+)@[\w./-]+$/;
const STEP_OUTPUT = /^\$\{\{\s*steps\.([\w-]+)\.outputs\.([\w-]+)\s*\}\}$/;

function isActionName(name: string): name is ActionName {
  return (ACTIONS as readonly string[]).includes(name);
}

/**
 * The sluice action steps of a workflow's only job, in order. Other steps (checkout, credentials,
 * shell) are left out. Throws when the workflow has not exactly one job, when a sluice action is named
 * by a local path (`./actions/X` would resolve in the caller's checkout) or by another repository, or
 * when an input is wired to a step that is not an earlier sluice step.
 *
 * @example
 * workflowChain().map((step) => step.action); // ['provision-run', 'dispatch-tasks', 'collect-results', 'teardown']
 */
export function workflowChain(file: string = join(REPOSITORY_ROOT, SLUICE_RUN_WORKFLOW)): ChainStep[] {
  const workflow = parse(readFileSync(file, 'utf8')) as { jobs?: Record<string, { steps?: unknown }> };
  const jobs = Object.values(workflow.jobs ?? {});
  const [job] = jobs;
  if (jobs.length !== 1 || job === undefined || !Array.isArray(job.steps)) {
    throw new Error(`${file}: expected exactly one job with steps, found ${jobs.length} jobs`);
  }
  const chain: ChainStep[] = [];
  const byId = new Map<string, ActionName>();
  for (const step of job.steps as WorkflowStep[]) {
    const uses = typeof step.uses === 'string' ? step.uses : '';
    if (/^\.{1,2}\//.test(uses)) {
      throw new Error(
        `${file}: "uses: ${uses}" resolves in the caller's checkout; name ${SLUICE_REPOSITORY}/actions/<name>@<ref>`,
      );
    }
    const match = USES.exec(uses);
    if (match === null) continue;
    const [, repository = '', name = ''] = match;
    if (repository !== SLUICE_REPOSITORY || !isActionName(name)) {
      throw new Error(
        `${file}: "uses: ${uses}" is not one of sluice's actions (${SLUICE_REPOSITORY}/actions/<name>)`,
      );
    }
    const inputs: Record<string, string> = {};
    const wiredFrom: Record<string, { action: ActionName; output: string }> = {};
    for (const [input, value] of Object.entries((step.with ?? {}) as Record<string, unknown>)) {
      inputs[input] = String(value);
      const wired = STEP_OUTPUT.exec(String(value));
      if (wired === null) continue;
      const [, stepId = '', output = ''] = wired;
      const from = byId.get(stepId);
      if (from === undefined) {
        throw new Error(
          `${file}: ${name}'s input ${input} reads steps.${stepId}, which is no earlier sluice step`,
        );
      }
      wiredFrom[input] = { action: from, output };
    }
    const id = typeof step.id === 'string' ? step.id : undefined;
    if (id !== undefined) byId.set(id, name);
    chain.push({
      action: name,
      id,
      if: typeof step.if === 'string' ? step.if : undefined,
      with: inputs,
      wiredFrom,
    });
  }
  return chain;
}

import {
  actionsToolkit,
  checkDocumentFile,
  commentOnPush,
  createActionsLogger,
  createInputReader,
  outcomeCommentMarkdown,
  setOutputs,
  stepTarget,
  upsertCommitComment,
  type ActionsToolkit,
  type CommitCommenter,
} from '@sluice/action-kit';
import {
  RunIncompleteError,
  TasksFailedError,
  toError,
  type CollectProgress,
  type CollectReport,
} from '@sluice/core';
import {
  collectStep,
  type CollectStepOptions,
  type CollectStepResult,
  type RunTarget,
  type StepContext,
} from '@sluice/orchestrator';

import { Inputs, Outputs } from './constants.js';
import { readInputs, type CollectResultsInputs } from './inputs.js';

/** What main talks to besides the toolkit; tests pass fakes, the bundle the real ones. */
export interface CollectResultsDeps {
  readonly collect: (
    target: RunTarget,
    options: CollectStepOptions,
    context: StepContext,
    onProgress?: (progress: CollectProgress) => void,
  ) => Promise<CollectStepResult>;
  readonly comment: CommitCommenter;
  readonly env: Readonly<Record<string, string | undefined>>;
  /** Milliseconds since some fixed point, for spacing progress lines. */
  readonly now: () => number;
}

const realDeps: CollectResultsDeps = {
  collect: collectStep,
  comment: upsertCommitComment,
  env: process.env,
  now: Date.now,
};

/** An unchanged progress line is repeated at most this often. */
const QUIET_PROGRESS_MS = 60_000;

function stepOptions(inputs: CollectResultsInputs): CollectStepOptions {
  const { completion } = inputs;
  return {
    until: completion.until,
    ...(completion.until === 'count' && { expectedCount: completion.expectedCount }),
    ...(completion.until === 'idle' && { idleSeconds: completion.idleSeconds }),
    ...(inputs.timeoutSeconds !== undefined && { timeoutSeconds: inputs.timeoutSeconds }),
    retryFailed: inputs.retryFailed,
  };
}

function describeProgress(progress: CollectProgress): string {
  return (
    `${progress.phase}: ${progress.succeeded} succeeded, ${progress.failed} failed, ${progress.running} running, ` +
    `${progress.pending} waiting of ${progress.inputs} inputs; queue ${progress.queued} visible, ` +
    `${progress.inFlight} in flight, ${progress.deadLetter} dead-lettered`
  );
}

function describeCounts(report: CollectReport): string {
  const { counts } = report;
  return `${counts.succeeded} succeeded, ${counts.failed} failed of ${counts.inputs} inputs`;
}

/** Names the outcome comment of a run among the commit's comments (provision-run's is another). */
export function outcomeCommentMarker(runId: string): string {
  return `run=${runId}:outcome`;
}

/**
 * collect-results: waits until the run's input is complete and drained, writes results.json and the
 * job summary (and, for a push, a comment on the pushed commit), sets succeeded, failed and results once; fails when the run did not finish, or when
 * tasks failed and `fail-on-error` is true; otherwise ends with the notice "completed, N failed".
 */
export async function main(
  toolkit: ActionsToolkit = actionsToolkit,
  deps: Partial<CollectResultsDeps> = {},
): Promise<void> {
  const { collect, comment, env, now } = { ...realDeps, ...deps };
  const inputs = readInputs(createInputReader(toolkit));
  if (inputs.githubToken !== undefined) toolkit.setSecret(inputs.githubToken);
  const { target } = inputs;
  if ('job' in target) await checkDocumentFile({ path: target.job, input: Inputs.job, kind: 'job' });
  const context: StepContext = { logger: createActionsLogger(toolkit), env };
  let last = { line: '', at: Number.NEGATIVE_INFINITY };

  const { report, summaryMarkdown, summaryOptions } = await collect(
    stepTarget(target),
    stepOptions(inputs),
    context,
    (progress) => {
      const line = describeProgress(progress);
      if (line !== last.line || now() - last.at >= QUIET_PROGRESS_MS) {
        last = { line, at: now() };
        toolkit.info(line);
      }
    },
  );

  try {
    await toolkit.appendSummary(summaryMarkdown);
  } catch (thrown: unknown) {
    toolkit.warning(`could not write the job summary: ${toError(thrown).message}`);
  }
  // Before the outcome decides the step: a failed run is the one the pusher most needs to hear of.
  await commentOnPush(
    {
      what: `the outcome of run ${report.runId}`,
      marker: outcomeCommentMarker(report.runId),
      body: outcomeCommentMarkdown(report, summaryOptions),
      token: inputs.githubToken,
      tokenInput: Inputs.githubToken,
    },
    { toolkit, comment, env },
  );
  setOutputs(
    {
      [Outputs.succeeded]: report.counts.succeeded,
      [Outputs.failed]: report.counts.failed,
      [Outputs.results]: report.results,
      ...(report.report !== undefined && { [Outputs.report]: report.report }),
    },
    toolkit,
  );
  if (!report.complete) {
    const { counts } = report;
    throw new RunIncompleteError(
      report.runId,
      `run ${report.runId} did not finish${report.timedOut ? ' in time' : ''}: ${describeCounts(report)}, ` +
        `${counts.running} still running, ${counts.pending} not started` +
        `${report.inputComplete ? '' : `; the input was never complete (until: ${inputs.completion.until})`}. ` +
        `Results so far are in ${report.results}. Collect again to keep waiting, or raise \`${Inputs.timeoutSeconds}\`.`,
    );
  }
  if (report.counts.failed > 0 && inputs.failOnError) {
    throw new TasksFailedError(
      report.runId,
      report.counts.failed,
      `run ${report.runId}: ${report.counts.failed} task(s) failed (${describeCounts(report)}); see the job ` +
        `summary and ${report.results}. Set \`${Inputs.failOnError}: false\` to only report failures.`,
    );
  }
  toolkit.notice(
    `run ${report.runId}: completed, ${report.counts.failed} failed (${describeCounts(report)}); results: ${report.results}`,
  );
}

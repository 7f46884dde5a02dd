// collect: wait for the run to drain (topping its workers up between polls), write results.json and
// render the summary.
import {
  collectResults,
  ConfigurationError,
  openRun,
  type CollectProgress,
  type CollectReport,
  type InputCompletion,
} from '@sluice/core';

import { regionOf } from '../aws-context.js';
import {
  namingJobFile,
  sleepUnlessAborted,
  throwIfInterrupted,
  type RunTarget,
  type StepContext,
} from '../context.js';
import { runWorkers } from '../backends/run-workers.js';
import { awsConsoleLinks, fetchLogTails, renderSummary, type SummaryOptions } from '../summary.js';
import { resolveTarget } from './target.js';

export interface CollectStepOptions {
  readonly until: 'idle' | 'marker' | 'count';
  readonly expectedCount?: number;
  readonly idleSeconds?: number;
  readonly timeoutSeconds?: number;
  readonly retryFailed?: boolean;
  /** Also copy report.html to this local file (it is always written beside results.json). */
  readonly reportFile?: string;
}

export interface CollectStepResult {
  readonly report: CollectReport;
  /** GitHub-flavoured Markdown, always under 1 MiB: counts, failures with log tails, slowest tasks. */
  readonly summaryMarkdown: string;
  /**
   * What the summary was rendered with (log tails, secrets to mask, console links), so a caller can
   * render it again to another size (action-kit's commit comment) with {@link renderSummary}.
   */
  readonly summaryOptions: SummaryOptions;
}

function inputCompletion(options: CollectStepOptions): InputCompletion {
  switch (options.until) {
    case 'marker':
      return { until: 'marker' };
    case 'count':
      if (
        options.expectedCount === undefined ||
        !Number.isInteger(options.expectedCount) ||
        options.expectedCount < 0
      ) {
        throw new ConfigurationError(
          'collecting until a count needs the number of inputs to expect (action input expected-count, CLI --count N).',
        );
      }
      return { until: 'count', expected: options.expectedCount };
    case 'idle':
      return {
        until: 'idle',
        ...(options.idleSeconds !== undefined && { idleSeconds: options.idleSeconds }),
      };
  }
}

/**
 * Waits for the run to drain ({@link collectResults}) — with the local backend watching the runner
 * containers between polls, restarting crashed ones and starting new ones while work remains —
 * writes results.json and report.html (the secret values this machine knows masked in it; a local
 * copy too with `reportFile`) and renders the summary (failures with their log tails, secrets masked).
 *
 * @example
 * const { report, summaryMarkdown } = await collectStep({ runId }, { until: 'marker', timeoutSeconds: 1800 }, context);
 * @throws {ConfigurationError} when the run is not provisioned, `until: 'count'` has no count, or a
 *   runner stops on a configuration error; AwsRequestError for AWS faults.
 */
export async function collectStep(
  target: RunTarget,
  options: CollectStepOptions,
  context: StepContext,
  onProgress?: (progress: CollectProgress) => void,
): Promise<CollectStepResult> {
  return namingJobFile(target.jobPath, () => collectRun(target, options, context, onProgress));
}

async function collectRun(
  target: RunTarget,
  options: CollectStepOptions,
  context: StepContext,
  onProgress?: (progress: CollectProgress) => void,
): Promise<CollectStepResult> {
  const until = inputCompletion(options);
  const { job, runId, bucket, aws } = await resolveTarget(target, context);
  try {
    const state = await openRun(runId, aws.deps, bucket === undefined ? {} : { bucket });
    const workers = await runWorkers(state, job, aws, context);
    throwIfInterrupted(context, 'collect');
    await workers.ensure();
    const sleep = async (ms: number): Promise<void> => {
      throwIfInterrupted(context, 'collect');
      await sleepUnlessAborted(ms, context.signal);
      // Checked again after the wait: no runner is restarted once the user has interrupted.
      throwIfInterrupted(context, 'collect');
      await workers.ensure();
    };
    const report = await collectResults(
      state,
      {
        until,
        ...(options.timeoutSeconds !== undefined && { timeoutSeconds: options.timeoutSeconds }),
        ...(options.retryFailed !== undefined && { retryFailed: options.retryFailed }),
        ...(context.pollSeconds !== undefined && { pollSeconds: context.pollSeconds }),
        ...(onProgress !== undefined && { onProgress }),
        secrets: workers.secrets,
      },
      { ...aws.deps, sleep },
    );
    if (options.reportFile !== undefined && report.reportKey !== undefined) {
      await aws.deps.store.download(
        { bucket: state.output.bucket, key: report.reportKey },
        options.reportFile,
      );
    }
    const logTails = await fetchLogTails(report, aws.deps.store, state.output.bucket);
    const links =
      state.ecs === undefined
        ? {}
        : awsConsoleLinks(
            await regionOf(aws),
            runId,
            { bucket: state.output.bucket, key: report.resultsKey },
            report.reportKey,
          );
    const summaryOptions: SummaryOptions = { logTails, secrets: workers.secrets, ...links };
    return { report, summaryMarkdown: renderSummary(report, summaryOptions), summaryOptions };
  } finally {
    aws.close();
  }
}

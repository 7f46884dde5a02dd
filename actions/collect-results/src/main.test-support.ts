// What collect-results' tests share: a collect report and a collect step that records its calls
// (main.test.ts, and test/integration/actions/collect-results-comment.test.ts).
import type { CollectProgress, CollectReport } from '@sluice/core';
import type { CollectStepOptions, CollectStepResult, RunTarget, StepContext } from '@sluice/orchestrator';

import type { CollectResultsDeps } from './main.js';

export const RESULTS = 's3://sluice-demo-out/_sluice/thumbnails-3f9a0c12/results.json';
export const REPORT = 's3://sluice-demo-out/_sluice/thumbnails-3f9a0c12/report.html';

export function report(
  counts: Partial<CollectReport['counts']>,
  rest: Partial<CollectReport> = {},
): CollectReport {
  return {
    runId: 'thumbnails-3f9a0c12',
    counts: { inputs: 60, succeeded: 57, failed: 3, running: 0, pending: 0, ...counts },
    complete: true,
    inputComplete: true,
    timedOut: false,
    results: RESULTS,
    resultsKey: '_sluice/thumbnails-3f9a0c12/results.json',
    report: REPORT,
    reportKey: '_sluice/thumbnails-3f9a0c12/report.html',
    failures: [],
    slowest: [],
    reconciled: 0,
    retried: 0,
    elapsedMs: 12_000,
    ...rest,
  };
}

export function fakeCollect(result: CollectReport): {
  calls: { target: RunTarget; options: CollectStepOptions; context: StepContext }[];
  collect: CollectResultsDeps['collect'];
} {
  const calls: { target: RunTarget; options: CollectStepOptions; context: StepContext }[] = [];
  return {
    calls,
    collect: (target, options, context, onProgress) => {
      calls.push({ target, options, context });
      const progress: CollectProgress = {
        ...result.counts,
        phase: 'draining',
        queued: 4,
        inFlight: 2,
        deadLetter: 0,
        elapsedMs: 1000,
      };
      // The same progress twice: logged once.
      onProgress?.(progress);
      onProgress?.(progress);
      const summary: CollectStepResult = {
        report: result,
        summaryMarkdown: '## sluice run thumbnails-3f9a0c12\n',
        summaryOptions: {},
      };
      return Promise.resolve(summary);
    },
  };
}

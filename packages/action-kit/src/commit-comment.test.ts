import { describe, expect, it } from '@jest/globals';

import type { CollectReport } from '@sluice/core';
import { outcomeCommentMarkdown } from './commit-comment.js';

const SECRET = 'tok-commit-comment-42';

function report(message: string): CollectReport {
  return {
    runId: 'r-0123abcd',
    counts: { inputs: 2, succeeded: 1, failed: 1, running: 0, pending: 0 },
    complete: true,
    inputComplete: true,
    timedOut: false,
    results: 's3://out/_sluice/r-0123abcd/results.json',
    resultsKey: '_sluice/r-0123abcd/results.json',
    failures: [
      {
        key: 'in/a.txt',
        taskId: '0'.repeat(24),
        etag: 'e',
        size: 1,
        status: 'failed',
        attempts: 1,
        outputs: [],
        phases: { runMs: 10 },
        wallMs: 20,
        failureClass: 'algorithm-exit',
        message,
        logKey: '_sluice/r-0123abcd/logs/0/1.log',
      },
    ],
    slowest: [],
    reconciled: 0,
    retried: 0,
    elapsedMs: 1000,
  };
}

describe('outcomeCommentMarkdown', () => {
  it('masks the secret values it is given in failures, and shows no log tail', () => {
    const text = outcomeCommentMarkdown(report(`the API refused ${SECRET}`), {
      logTails: new Map([['0'.repeat(24), `printed ${SECRET}`]]),
      secrets: [SECRET],
    });
    expect(text).toContain('the API refused ***');
    expect(text).not.toContain(SECRET);
    expect(text).not.toContain('printed');
  });

  it('on ECS (no values known here) shows the message as the runner recorded it, already masked', () => {
    const text = outcomeCommentMarkdown(report('the API refused ***'), { secrets: [] });
    expect(text).toContain('the API refused ***');
  });
});

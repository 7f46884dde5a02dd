import { describe, expect, it } from '@jest/globals';

import type { CollectReport, TaskResult } from '@sluice/core';
import { renderSummary } from './summary.js';

function failure(i: number, extra: Partial<TaskResult> = {}): TaskResult {
  return {
    key: `in/file-${i}|odd\`name.txt`,
    taskId: i.toString(16).padStart(24, '0'),
    etag: 'e',
    size: 1,
    status: 'failed',
    attempts: 3,
    outputs: [],
    phases: { downloadMs: 5, runMs: 1500 },
    wallMs: 1600 + i,
    failureClass: 'algorithm-exit',
    message: 'exit 3: bad | input',
    logKey: `_sluice/r-0123abcd/logs/${i}/3.log`,
    ...extra,
  };
}

function report(failures: TaskResult[], overrides: Partial<CollectReport> = {}): CollectReport {
  return {
    runId: 'r-0123abcd',
    counts: {
      inputs: 100 + failures.length,
      succeeded: 100,
      failed: failures.length,
      running: 0,
      pending: 0,
    },
    complete: true,
    inputComplete: true,
    timedOut: false,
    results: 's3://out/_sluice/r-0123abcd/results.json',
    resultsKey: '_sluice/r-0123abcd/results.json',
    failures,
    slowest: failures.slice(0, 3),
    reconciled: 0,
    retried: 0,
    elapsedMs: 65_000,
    ...overrides,
  };
}

describe('renderSummary', () => {
  it('shows the outcome, the counts, each failure with its log tail (masked), and the slowest tasks', () => {
    const failures = [failure(1), failure(2)];
    const text = renderSummary(report(failures), {
      logTails: new Map([[failures[0]?.taskId ?? '', 'line 1\nTOKEN=hunter22 ```fence```\nboom']]),
      secrets: ['hunter22'],
    });
    expect(text).toContain('completed, 2 failed');
    expect(text).toContain('| 102 | 100 | 2 | 0 | 0 | 0 | 1 min 5 s |');
    expect(text).toContain('exit 3: bad \\| input');
    expect(text).toContain('TOKEN=***');
    expect(text).not.toContain('hunter22');
    expect(text).toContain('````text');
    expect(text).toContain('### Slowest tasks');
  });

  it('masks the values it is given in messages, keys and log tails, however they are escaped after', () => {
    const secret = 'pa|ss<word`42';
    const failures = [failure(1, { key: `in/${secret}.txt`, message: `refused ${secret} | retry` })];
    const text = renderSummary(report(failures), {
      logTails: new Map([[failures[0]?.taskId ?? '', `token ${secret}`]]),
      secrets: [secret, 're'],
    });
    expect(text).toContain('refused *** \\| retry');
    expect(text).toContain('token ***');
    expect(text).not.toContain('pa|ss');
    expect(text).not.toContain('pa\\|ss');
    // Values under 3 characters would mask too much: "re" is left alone (the first expectation).
  });

  it('stays under the limit with a huge number of failures, saying how many are not shown', () => {
    const failures = Array.from({ length: 500 }, (_, i) => failure(i, { message: 'x'.repeat(280) }));
    const tails = new Map(failures.map((f) => [f.taskId, 'y'.repeat(2048)]));
    const text = renderSummary(report(failures), { logTails: tails, maxBytes: 64 * 1024, maxFailures: 500 });
    expect(Buffer.byteLength(text)).toBeLessThanOrEqual(64 * 1024);
    expect(text).toMatch(/\d+ more failures not shown; see results\.json/);
    expect(text).toContain('### Slowest tasks');
  });

  it('says when the run timed out', () => {
    const text = renderSummary(
      report([], {
        complete: false,
        timedOut: true,
        counts: { inputs: 3, succeeded: 1, failed: 0, running: 1, pending: 1 },
      }),
    );
    expect(text).toContain('timed out, 2 unfinished, 0 failed');
  });
});

describe('renderSummary runner logs', () => {
  it("links the run's CloudWatch Logs group when the runners log there (ECS)", () => {
    const markdown = renderSummary(report([]), {
      runnerLogs: { logGroup: '/sluice/runs/r-1', consoleUrl: 'https://console.example/logs' },
    });
    expect(markdown).toContain(
      'Runner logs: [`/sluice/runs/r-1`](https://console.example/logs) in CloudWatch Logs',
    );
    expect(renderSummary(report([]))).not.toContain('Runner logs');
  });
});

describe('renderSummary results link', () => {
  it('links results.json to its console page when one is given, and shows the S3 URI alone otherwise', () => {
    const linked = renderSummary(report([]), { resultsConsoleUrl: 'https://console.example/s3/results' });
    expect(linked).toContain(
      'Results: [`s3://out/_sluice/r-0123abcd/results.json`](https://console.example/s3/results)',
    );
    expect(renderSummary(report([]))).toContain('Results: `s3://out/_sluice/r-0123abcd/results.json`\n');
  });

  it('links report.html beside results.json, to its console page when one is given', () => {
    const withReport = report([], {
      report: 's3://out/_sluice/r-0123abcd/report.html',
      reportKey: '_sluice/r-0123abcd/report.html',
    });
    expect(renderSummary(withReport)).toContain(
      'Report (charts of the run, to open in a browser): `s3://out/_sluice/r-0123abcd/report.html` — ' +
        '`aws s3 cp s3://out/_sluice/r-0123abcd/report.html report.html`',
    );
    expect(renderSummary(withReport, { reportConsoleUrl: 'https://console.example/s3/report' })).toContain(
      '[`s3://out/_sluice/r-0123abcd/report.html`](https://console.example/s3/report)',
    );
    expect(renderSummary(report([]))).not.toContain('Report');
  });
});

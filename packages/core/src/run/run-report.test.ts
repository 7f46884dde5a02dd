import { describe, expect, it } from '@jest/globals';

import type { TaskResult } from './collect-report.js';
import { renderReportHtml } from './report-html.js';
import { REPORT_SLOWEST, REPORT_TIME_BUCKETS, RunReportBuilder, reportKey } from './run-report.js';

const T0 = Date.parse('2025-01-01T00:00:00.000Z');

function task(i: number, overrides: Partial<TaskResult> = {}): TaskResult {
  return {
    key: `photos/${i}.jpg`,
    taskId: `t${i}`,
    etag: 'e',
    size: 1,
    status: 'succeeded',
    attempts: 1,
    outputs: [{ key: `thumbs/${i}.png`, size: 1, etag: 'x' }],
    phases: { downloadMs: 10, runMs: 100 + i, uploadMs: 5 },
    wallMs: 120 + i,
    startedAt: new Date(T0 + i * 1000).toISOString(),
    endedAt: new Date(T0 + i * 1000 + 120 + i).toISOString(),
    ...overrides,
  };
}

const meta = {
  runId: 'thumbs-0123abcd',
  generatedAt: T0,
  counts: { inputs: 3, succeeded: 2, failed: 1, running: 0, pending: 0 },
  complete: true,
  timedOut: false,
  results: 's3://out/_sluice/thumbs-0123abcd/results.json',
};

describe('RunReportBuilder', () => {
  it('keeps at most 60 contiguous time buckets, widening them as the run grows, and loses no task', () => {
    const builder = new RunReportBuilder();
    // Two hours of one task every 7 s, added out of order.
    const ends = Array.from({ length: 1000 }, (_, i) => ((i * 379) % 1000) * 7_000);
    for (const [i, end] of ends.entries()) {
      builder.add(
        task(i, { endedAt: new Date(T0 + end).toISOString(), ...(i % 10 === 0 && { status: 'failed' }) }),
      );
    }
    const data = builder.data(meta);
    expect(data.throughput.length).toBeLessThanOrEqual(REPORT_TIME_BUCKETS);
    expect(data.bucketMs).toBe(120_000);
    expect(data.throughput.reduce((sum, b) => sum + b.succeeded, 0)).toBe(900);
    expect(data.throughput.reduce((sum, b) => sum + b.failed, 0)).toBe(100);
    expect(data.throughput[1]?.start).toBe((data.throughput[0]?.start ?? 0) + 120_000);
    expect(data.slowest.map((t) => t.taskId)).toEqual(
      Array.from({ length: REPORT_SLOWEST }, (_, k) => `t${999 - k}`),
    );
    expect(data.slowest[0]).not.toHaveProperty('outputs');
  });

  it('counts failures by class and keeps the first of every class among the samples', () => {
    const builder = new RunReportBuilder();
    for (let i = 0; i < 30; i += 1)
      builder.add(task(i, { status: 'failed', failureClass: 'algorithm-exit' }));
    builder.add(task(30, { status: 'failed', failureClass: 'timeout' }));
    builder.add(task(31, { status: 'failed' }));
    const data = builder.data(meta);
    expect(data.failureClasses).toEqual([
      { failureClass: 'algorithm-exit', count: 30 },
      { failureClass: 'timeout', count: 1 },
      { failureClass: 'unknown', count: 1 },
    ]);
    expect(data.failures.map((f) => f.taskId)).toEqual([
      ...Array.from({ length: 20 }, (_, i) => `t${i}`),
      't30',
      't31',
    ]);
  });
});

describe('renderReportHtml', () => {
  it('escapes keys, messages and log lines, masks secrets, and has no script or outside resource', () => {
    const builder = new RunReportBuilder();
    builder.add(task(1, { key: 'photos/<img src=x onerror=alert(1)>.jpg' }));
    builder.add(
      task(2, {
        status: 'failed',
        failureClass: 'algorithm-exit',
        message: 'bad "quote" & token s3cr3t-value',
        logKey: '_sluice/r/logs/t2/1.log',
      }),
    );
    const data = builder.data(meta);
    const html = renderReportHtml(
      {
        ...data,
        failures: data.failures.map((f) => ({
          ...f,
          logTail: ['</pre><script>x()</script>', 'used s3cr3t-value'],
        })),
      },
      { secrets: ['s3cr3t-value'] },
    );
    expect(html).not.toMatch(/<script|<img|https?:\/\//);
    expect(html).toContain('photos/&lt;img src=x onerror=alert(1)&gt;.jpg');
    expect(html).toContain('bad &quot;quote&quot; &amp; token ***');
    expect(html).toContain('&lt;/pre&gt;&lt;script&gt;x()&lt;/script&gt;\nused ***');
    expect(html).not.toContain('s3cr3t-value');
    expect(html).toContain('<td data-count="succeeded">2</td>');
  });

  it('says so when nothing has ended yet', () => {
    const html = renderReportHtml(new RunReportBuilder().data({ ...meta, complete: false }));
    expect(html).toContain('No task has ended yet.');
    expect(html).toContain('No task failed.');
  });
});

describe('reportKey', () => {
  it('puts report.html beside results.json', () => {
    expect(reportKey('thumbs-0123abcd')).toBe('_sluice/thumbs-0123abcd/report.html');
  });
});

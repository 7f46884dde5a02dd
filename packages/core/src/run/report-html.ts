// report.html: one self-contained page (inline CSS and SVG, no script, nothing fetched) that shows a
// run — completions over time, where the time went per phase, the slowest tasks, failures by class
// with the ends of their logs. Every text that comes from users (keys, messages, logs) is masked and
// HTML-escaped.
import { SecretMask } from '../logging/secret-mask.js';
import type { ReportTask, RunReportData, PhaseSummary } from './run-report.js';

const CHART_WIDTH = 720;
const CHART_HEIGHT = 180;
const COLORS = {
  succeeded: '#2e8540',
  failed: '#d83933',
  download: '#4a77b4',
  run: '#e0a526',
  upload: '#7f5fa8',
  axis: '#6b6b6b',
} as const;

/**
 * Renders a run's report as one HTML page with no outside resources. `secrets` (values of 3
 * characters or more) are masked in every user text, as in the job summary.
 *
 * @example
 * const html = renderReportHtml(data, { secrets: ['hunter2'] });
 * await store.put({ bucket, key: reportKey(runId) }, html, { contentType: 'text/html; charset=utf-8' });
 * @throws never.
 */
export function renderReportHtml(
  data: RunReportData,
  options: { readonly secrets?: readonly string[] } = {},
): string {
  const masker = new SecretMask((options.secrets ?? []).filter((secret) => secret.length >= 3));
  const text = (value: string): string => escapeHtml(masker.text(value));
  const { counts } = data;
  const unfinished = counts.running + counts.pending;
  const outcome = data.complete
    ? `completed, ${counts.failed} failed`
    : `${data.timedOut ? 'timed out' : 'incomplete'}, ${unfinished} unfinished, ${counts.failed} failed`;
  const title = `sluice run ${data.runId}`;
  return [
    '<!DOCTYPE html>',
    '<html lang="en"><head><meta charset="utf-8">',
    '<meta name="viewport" content="width=device-width, initial-scale=1">',
    // No script and nothing from elsewhere: the page cannot run code or call out even if a key tried.
    `<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'; img-src data:">`,
    `<title>${escapeHtml(title)}</title>`,
    `<style>${STYLE}</style>`,
    '</head><body>',
    `<h1>${escapeHtml(title)}: <span id="outcome">${escapeHtml(outcome)}</span></h1>`,
    `<p class="meta">Generated ${escapeHtml(new Date(data.generatedAt).toISOString())} from <code id="results">${text(data.results)}</code>.</p>`,
    countsTable(data),
    '<h2>Tasks over time</h2>',
    throughputChart(data),
    '<h2>Time per phase</h2>',
    phasesSection(data),
    '<h2>Slowest tasks</h2>',
    slowestTable(data.slowest, text),
    '<h2>Failures by class</h2>',
    failuresSection(data, text),
    '</body></html>',
    '',
  ].join('\n');
}

function countsTable(data: RunReportData): string {
  const { counts } = data;
  const cells = (['inputs', 'succeeded', 'failed', 'running', 'pending'] as const).map(
    (name) => `<td data-count="${name}">${counts[name]}</td>`,
  );
  return [
    '<table class="counts"><thead><tr><th>inputs</th><th>succeeded</th><th>failed</th><th>running</th><th>pending</th></tr></thead>',
    `<tbody><tr>${cells.join('')}</tr></tbody></table>`,
  ].join('\n');
}

function throughputChart(data: RunReportData): string {
  const buckets = data.throughput;
  if (buckets.length === 0) return '<p class="empty">No task has ended yet.</p>';
  const left = 48;
  const bottom = 28;
  const plotWidth = CHART_WIDTH - left - 8;
  const plotHeight = CHART_HEIGHT - bottom - 8;
  const peak = Math.max(1, ...buckets.map((b) => b.succeeded + b.failed));
  const slot = plotWidth / buckets.length;
  const barWidth = Math.max(1, slot * 0.85);
  const scale = (n: number): number => (n / peak) * plotHeight;
  const bars = buckets.map((bucket, index) => {
    const x = left + index * slot;
    const ok = scale(bucket.succeeded);
    const bad = scale(bucket.failed);
    const base = 8 + plotHeight;
    const label = `${clock(bucket.start)}: ${bucket.succeeded} succeeded, ${bucket.failed} failed`;
    return (
      `<g data-bucket="${bucket.start}" data-succeeded="${bucket.succeeded}" data-failed="${bucket.failed}"><title>${escapeHtml(label)}</title>` +
      (ok > 0 ? rect(x, base - ok, barWidth, ok, COLORS.succeeded) : '') +
      (bad > 0 ? rect(x, base - ok - bad, barWidth, bad, COLORS.failed) : '') +
      '</g>'
    );
  });
  const first = buckets[0]?.start ?? 0;
  const end = (buckets.at(-1)?.start ?? 0) + data.bucketMs;
  const axis = [
    `<line x1="${left}" y1="${8 + plotHeight}" x2="${left + plotWidth}" y2="${8 + plotHeight}" stroke="${COLORS.axis}"/>`,
    `<line x1="${left}" y1="8" x2="${left}" y2="${8 + plotHeight}" stroke="${COLORS.axis}"/>`,
    `<text x="${left - 6}" y="14" text-anchor="end">${peak}</text>`,
    `<text x="${left - 6}" y="${8 + plotHeight}" text-anchor="end">0</text>`,
    `<text x="${left}" y="${CHART_HEIGHT - 8}">${escapeHtml(clock(first))}</text>`,
    `<text x="${left + plotWidth}" y="${CHART_HEIGHT - 8}" text-anchor="end">${escapeHtml(clock(end))}</text>`,
  ];
  const total = buckets.reduce((sum, b) => sum + b.succeeded + b.failed, 0);
  return [
    `<svg id="throughput" width="${CHART_WIDTH}" height="${CHART_HEIGHT}" viewBox="0 0 ${CHART_WIDTH} ${CHART_HEIGHT}" role="img" aria-label="tasks ended per ${escapeHtml(duration(data.bucketMs))}">`,
    ...axis,
    ...bars,
    '</svg>',
    `<p class="legend"><span class="swatch" style="background:${COLORS.succeeded}"></span>succeeded ` +
      `<span class="swatch" style="background:${COLORS.failed}"></span>failed — ` +
      `<span id="ended">${total}</span> tasks ended, per ${escapeHtml(duration(data.bucketMs))} (UTC); ` +
      `peak <span id="peak">${peak}</span> per bucket.</p>`,
  ].join('\n');
}

function phasesSection(data: RunReportData): string {
  const phases = [
    ['download', data.phases.download],
    ['run', data.phases.run],
    ['upload', data.phases.upload],
  ] as const;
  const all = phases.reduce((sum, [, phase]) => sum + phase.totalMs, 0);
  if (all === 0) return '<p class="empty">No phase timings recorded yet.</p>';
  let x = 0;
  const segments = phases.map(([name, phase]) => {
    const width = (phase.totalMs / all) * CHART_WIDTH;
    const segment = `<g><title>${name}: ${percent(phase.totalMs, all)} of the time</title>${rect(x, 0, width, 28, COLORS[name])}</g>`;
    x += width;
    return segment;
  });
  const rows = phases.map(
    ([name, phase]: readonly [string, PhaseSummary]) =>
      `<tr data-phase="${name}"><td><span class="swatch" style="background:${COLORS[name as keyof typeof COLORS]}"></span>${name}</td>` +
      `<td data-tasks="${phase.tasks}">${phase.tasks}</td><td data-ms="${phase.totalMs}">${duration(phase.totalMs)}</td>` +
      `<td>${phase.tasks === 0 ? '' : duration(phase.totalMs / phase.tasks)}</td><td data-ms="${phase.maxMs}">${duration(phase.maxMs)}</td>` +
      `<td>${percent(phase.totalMs, all)}</td></tr>`,
  );
  return [
    `<svg id="phases" width="${CHART_WIDTH}" height="28" viewBox="0 0 ${CHART_WIDTH} 28" role="img" aria-label="share of time per phase">`,
    ...segments,
    '</svg>',
    '<table><thead><tr><th>phase</th><th>tasks</th><th>total</th><th>mean</th><th>max</th><th>share</th></tr></thead><tbody>',
    ...rows,
    '</tbody></table>',
    '<p class="meta">Last attempt of each task; time in the runner outside these phases is not counted.</p>',
  ].join('\n');
}

function slowestTable(slowest: readonly ReportTask[], text: (value: string) => string): string {
  if (slowest.length === 0) return '<p class="empty">No task has a wall time yet.</p>';
  const longest = Math.max(1, ...slowest.map((task) => task.wallMs ?? 0));
  const rows = slowest.map((task) => {
    const wall = task.wallMs ?? 0;
    const bar = `<svg width="120" height="10" aria-hidden="true">${rect(0, 0, Math.max(1, (wall / longest) * 120), 10, COLORS.run)}</svg>`;
    return (
      `<tr data-task-id="${escapeHtml(task.taskId)}"><td><code>${text(task.key)}</code></td>` +
      `<td class="num" data-ms="${wall}">${duration(wall)}</td><td>${bar}</td>` +
      `<td class="num">${ms(task.phases.downloadMs)}</td><td class="num">${ms(task.phases.runMs)}</td>` +
      `<td class="num">${ms(task.phases.uploadMs)}</td><td class="num">${task.attempts}</td><td>${task.status}</td></tr>`
    );
  });
  return [
    '<table id="slowest"><thead><tr><th>input</th><th>wall time</th><th></th><th>download</th><th>run</th><th>upload</th><th>attempts</th><th>status</th></tr></thead><tbody>',
    ...rows,
    '</tbody></table>',
  ].join('\n');
}

function failuresSection(data: RunReportData, text: (value: string) => string): string {
  if (data.failureClasses.length === 0) return '<p class="empty">No task failed.</p>';
  const most = Math.max(1, ...data.failureClasses.map((c) => c.count));
  const rows = data.failureClasses.map(
    ({ failureClass, count }) =>
      `<tr data-class="${escapeHtml(failureClass)}"><td>${escapeHtml(failureClass)}</td><td class="num" data-failed="${count}">${count}</td>` +
      `<td><svg width="200" height="10" aria-hidden="true">${rect(0, 0, Math.max(1, (count / most) * 200), 10, COLORS.failed)}</svg></td></tr>`,
  );
  const shown = data.failures.map((failure) => {
    const tail =
      failure.logTail === undefined
        ? `<p class="meta">No log to show${failure.logKey === undefined ? '' : ` (<code>${text(failure.logKey)}</code> missing, unreadable or over 1 MiB)`}.</p>`
        : `<pre>${failure.logTail.map((line) => text(line)).join('\n')}</pre>`;
    const facts = [
      failure.failureClass ?? 'unknown',
      `${failure.attempts} attempt${failure.attempts === 1 ? '' : 's'}`,
      ...(failure.exitCode === undefined ? [] : [`exit ${failure.exitCode}`]),
    ];
    return [
      `<details class="failure" data-task-id="${escapeHtml(failure.taskId)}"${data.failures.length <= 5 ? ' open' : ''}>`,
      `<summary><code>${text(failure.key)}</code> — ${escapeHtml(facts.join(', '))}${failure.message === undefined ? '' : `: ${text(failure.message)}`}</summary>`,
      failure.logKey === undefined ? '' : `<p class="meta">End of <code>${text(failure.logKey)}</code>:</p>`,
      tail,
      '</details>',
    ].join('\n');
  });
  const failed = data.counts.failed;
  return [
    '<table id="failure-classes"><thead><tr><th>class</th><th>failed</th><th></th></tr></thead><tbody>',
    ...rows,
    '</tbody></table>',
    `<p class="meta">${data.failures.length} of ${failed} failures shown with the end of their logs; results.json lists them all.</p>`,
    ...shown,
  ].join('\n');
}

function rect(x: number, y: number, width: number, height: number, fill: string): string {
  return `<rect x="${round(x)}" y="${round(y)}" width="${round(width)}" height="${round(height)}" fill="${fill}"/>`;
}

function round(n: number): number {
  return Math.round(n * 10) / 10;
}

function percent(part: number, whole: number): string {
  return whole === 0 ? '' : `${Math.round((part / whole) * 100)} %`;
}

function ms(value: number | undefined): string {
  return value === undefined ? '' : duration(value);
}

/** A duration the way the job summary writes it. */
function duration(value: number): string {
  if (value < 1000) return `${Math.round(value)} ms`;
  if (value < 60_000) return `${(value / 1000).toFixed(1)} s`;
  if (value < 3_600_000) return `${Math.floor(value / 60_000)} min ${Math.round((value % 60_000) / 1000)} s`;
  return `${Math.floor(value / 3_600_000)} h ${Math.round((value % 3_600_000) / 60_000)} min`;
}

/** A moment in UTC, to the second: `2025-01-31 12:00:00Z`. */
function clock(at: number): string {
  return new Date(at)
    .toISOString()
    .replace('T', ' ')
    .replace(/\.\d+Z$/, 'Z');
}

/** Escapes text for HTML content and attribute values alike. */
function escapeHtml(value: string): string {
  return value
    .replace(/&/g, '&amp;')
    .replace(/</g, '&lt;')
    .replace(/>/g, '&gt;')
    .replace(/"/g, '&quot;')
    .replace(/'/g, '&#39;');
}

const STYLE = `
body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;color:#1b1b1b;background:#fff;margin:24px;max-width:1000px}
h1{font-size:20px;margin:0 0 4px}h2{font-size:16px;margin:28px 0 8px;border-bottom:1px solid #ddd;padding-bottom:4px}
table{border-collapse:collapse;margin:8px 0}th,td{padding:4px 10px;border-bottom:1px solid #eee;text-align:left;vertical-align:top}
td.num,.counts td{text-align:right;font-variant-numeric:tabular-nums}.counts td{font-size:18px}
code{font:12px ui-monospace,SFMono-Regular,Menlo,monospace;word-break:break-all}
pre{font:12px ui-monospace,SFMono-Regular,Menlo,monospace;background:#f6f8fa;padding:8px;overflow-x:auto;white-space:pre-wrap;word-break:break-all}
svg text{font:11px system-ui,sans-serif;fill:#444}.meta,.legend{color:#555;font-size:12px}.empty{color:#777}
.swatch{display:inline-block;width:10px;height:10px;margin:0 4px 0 8px}details.failure{margin:6px 0}summary{cursor:pointer}
`;

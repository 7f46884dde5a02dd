// report.html in a real browser. A real runner (the runner package as a host process, the real
// ledger) works through 12 inputs on the test bed's moto server — successes of different lengths, an
// algorithm exit, a task that leaves no output, one that runs out of time, a key full of HTML — then
// collect writes results.json and report.html beside it. Headless Chromium (Debian's package,
// installed by `make bootstrap`) takes a screenshot and dumps the DOM; the screenshot must be a real
// picture of the page and the numbers on the page must be results.json's.
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';

import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import {
  collectResults,
  dispatchTasks,
  JsonLog,
  parseJob,
  provisionRun,
  S3BucketAdmin,
  S3ObjectStore,
  SqsRunQueues,
  type CollectReport,
  type RunDeps,
  type RunnerConfig,
  type TaskResult,
} from '@sluice/core';
import { TestAwsAccount } from '@sluice/testing';

import { assembleRunner, directSource } from '../../../packages/runner/src/assemble.js';
import { loadSettings } from '../../../packages/runner/src/config/settings.js';
import { readPng } from './png.js';

const run = promisify(execFile);
const SECRET = 'tok-9Zr4-keep-me-out-of-reports';
const WIDTH = 1000;
const HEIGHT = 1600;

/** The algorithm: what it does depends on the input's first word. */
const ALGORITHM = `#!/bin/sh
in="$1"; out="$2"
kind=$(head -c 40 "$in")
echo "processing $(basename "$in")"
i=1; while [ $i -le 30 ]; do echo "step $i of <b>$kind</b> & more"; i=$((i + 1)); done
case "$kind" in
  ok*) sleep "\${kind#ok }"; mkdir -p "$out"; echo result > "$out/result.txt" ;;
  fail*) echo "giving up with token $API_TOKEN" >&2; exit 3 ;;
  empty*) exit 0 ;;
  slow*) sleep 30 ;;
esac
`;

/** Input keys and their bodies (the first word says what the algorithm does). */
const INPUTS: Readonly<Record<string, string>> = {
  'in/a.txt': 'ok 0.1',
  'in/b.txt': 'ok 0.2',
  'in/c.txt': 'ok 0.3',
  'in/d.txt': 'ok 0.5',
  'in/e.txt': 'ok 0.7',
  'in/f.txt': 'ok 0.9',
  'in/g.txt': 'ok 1.1',
  'in/h.txt': 'ok 1.3',
  'in/<b>bold</b> & "quoted".txt': 'fail',
  'in/broken.txt': 'fail',
  'in/nothing.txt': 'empty',
  'in/slow.txt': 'slow',
};

let aws: TestAwsAccount;
let dir: string;
let report: CollectReport;
let results: { counts: Record<string, number>; tasks: TaskResult[] };
let html: string;

/** Chromium from Debian's package; the message says how to get it. */
function chromium(): string {
  for (const candidate of ['/usr/bin/chromium', '/usr/bin/chromium-browser']) {
    if (existsSync(candidate)) return candidate;
  }
  throw new Error(
    'chromium is not installed, and the report test needs a real browser: run `make bootstrap` ' +
      "(scripts/bootstrap.sh installs Debian's chromium package), or `apt-get install chromium`.",
  );
}

async function browse(file: string, ...args: string[]): Promise<string> {
  const profile = await mkdtemp(join(tmpdir(), 'sluice-chromium-'));
  try {
    const { stdout } = await run(
      chromium(),
      [
        '--headless',
        '--no-sandbox',
        '--disable-gpu',
        '--hide-scrollbars',
        '--no-first-run',
        `--user-data-dir=${profile}`,
        `--window-size=${WIDTH},${HEIGHT}`,
        ...args,
        `file://${file}`,
      ],
      { timeout: 90_000, maxBuffer: 16 * 1024 * 1024 },
    );
    return stdout;
  } finally {
    await rm(profile, { recursive: true, force: true });
  }
}

beforeAll(async () => {
  chromium();
  dir = await mkdtemp(join(tmpdir(), 'sluice-report-'));
  aws = new TestAwsAccount({ label: 'report' });
  const store = new S3ObjectStore(aws.s3);
  const deps: RunDeps = {
    store,
    queues: new SqsRunQueues(aws.sqs, { backoffMs: 50 }),
    buckets: new S3BucketAdmin(aws.s3),
  };
  const input = await aws.createBucket('in');
  const output = aws.bucketName('out');
  aws.trackBucket(output);
  const job = parseJob(
    JSON.stringify({
      name: 'report',
      algorithm: 'reporting@1.0.0',
      input: { bucket: input, prefix: 'in/', include: ['**'] },
      output: { bucket: output, prefix: 'out/' },
    }),
    'job.json',
  );
  const { state, queueUrl, deadLetterQueueUrl } = await provisionRun(job, deps);
  aws.trackQueue(queueUrl);
  aws.trackQueue(deadLetterQueueUrl);
  for (const [key, body] of Object.entries(INPUTS)) await store.put({ bucket: input, key }, body);
  await dispatchTasks(state, deps);

  const script = join(dir, 'algorithm.sh');
  await writeFile(script, ALGORITHM, { mode: 0o755 });
  const manifest = join(dir, 'algorithm.json');
  await writeFile(
    manifest,
    JSON.stringify({
      name: 'reporting',
      version: '1.0.0',
      image: 'example.com/reporting:1',
      memory: 256,
      input: '/data/in/',
      output: '/data/out/',
      command: ['/bin/sh', script, '{input}', '{output}'],
      timeoutSeconds: 3,
      env: { API_TOKEN: { secret: true, required: true } },
    }),
  );
  const config: RunnerConfig = {
    runId: state.runId,
    queueUrl,
    deadLetterQueueUrl,
    input: { bucket: input, prefix: 'in/', include: ['**'] },
    output: { bucket: output, prefix: 'out/' },
    maxAttempts: 1,
    timeoutSeconds: 3,
    idleSeconds: 2,
    heartbeatSeconds: 30,
    retryDelaySeconds: 0,
    env: {},
    secretEnv: ['API_TOKEN'],
    workerId: 'report-runner',
    pathRoot: join(dir, 'root'),
  };
  const env = { PATH: process.env.PATH ?? '/usr/bin:/bin', API_TOKEN: SECRET };
  const settings = await loadSettings({
    ...env,
    SLUICE_RUN: JSON.stringify(config),
    SLUICE_MANIFEST: manifest,
  });
  const log = new JsonLog({ runId: state.runId }, [], () => undefined);
  const queues = deps.queues;
  const assembled = await assembleRunner(
    settings,
    directSource(
      settings,
      { store, queue: queues.taskQueue(queueUrl), deadLetter: queues.taskQueue(deadLetterQueueUrl) },
      log,
    ),
    log,
    env,
  );
  try {
    await assembled.runner.run(new AbortController().signal);
  } finally {
    await assembled.close();
  }

  report = await collectResults(
    state,
    { until: { until: 'count', expected: Object.keys(INPUTS).length }, timeoutSeconds: 120, pollSeconds: 1 },
    deps,
  );
  const resultsText = await store.getText({ bucket: output, key: report.resultsKey }, { maxBytes: 1 << 20 });
  results = JSON.parse(resultsText?.text ?? '{}') as typeof results;
  const reportText = await store.getText(
    { bucket: output, key: report.reportKey ?? '' },
    { maxBytes: 1 << 20 },
  );
  html = reportText?.text ?? '';
  await writeFile(join(dir, 'report.html'), html);
}, 240_000);

afterAll(async () => {
  await aws.cleanup();
  await rm(dir, { recursive: true, force: true });
}, 120_000);

describe('report.html of a real run, in headless Chromium', () => {
  it('is written beside results.json, of a run with successes and three kinds of failure', () => {
    expect(report.report).toBe(report.results.replace(/results\.json$/, 'report.html'));
    expect(results.counts).toMatchObject({ inputs: 12, succeeded: 8, failed: 4, running: 0, pending: 0 });
    const classes = results.tasks.filter((t) => t.status === 'failed').map((t) => t.failureClass);
    expect(classes.sort()).toEqual(['algorithm-exit', 'algorithm-exit', 'no-output', 'timeout']);
    // The secret never reaches the page: the runner masked the log and the record at the source.
    expect(html).not.toContain(SECRET);
    expect(html).not.toMatch(/<script|https?:/);
  });

  it('renders to a screenshot of the page: the expected size, charts in their colours, not blank', async () => {
    const png = join(dir, 'report.png');
    await browse(join(dir, 'report.html'), `--screenshot=${png}`);
    const image = readPng(await readFile(png));
    expect({ width: image.width, height: image.height }).toEqual({ width: WIDTH, height: HEIGHT });
    const pixels = WIDTH * HEIGHT;
    const white = image.histogram.get('#ffffff') ?? 0;
    // Mostly page, but far from uniform: text, tables and the charts' bars.
    expect(white / pixels).toBeLessThan(0.97);
    expect(image.colours).toBeGreaterThan(50);
    // The throughput chart's succeeded (green) and failed (red) bars, the phases' run (amber) share.
    expect(image.histogram.get('#2e8540') ?? 0).toBeGreaterThan(200);
    expect(image.histogram.get('#d83933') ?? 0).toBeGreaterThan(50);
    expect(image.histogram.get('#e0a526') ?? 0).toBeGreaterThan(200);
  }, 120_000);

  it("shows results.json's numbers: counts, tasks ended, slowest tasks and times, failures by class", async () => {
    const dom = await browse(join(dir, 'report.html'), '--dump-dom');
    expect(dom).toContain('id="throughput"');

    const shown = (name: string): number =>
      Number(new RegExp(`<td data-count="${name}">(\\d+)</td>`).exec(dom)?.[1] ?? Number.NaN);
    for (const name of ['inputs', 'succeeded', 'failed', 'running', 'pending']) {
      expect({ name, shown: shown(name) }).toEqual({ name, shown: results.counts[name] });
    }
    expect(Number(/<span id="ended">(\d+)<\/span>/.exec(dom)?.[1])).toBe(12);
    const bucketTotals = [...dom.matchAll(/data-succeeded="(\d+)" data-failed="(\d+)"/g)].reduce(
      (sum, match) => sum + Number(match[1]) + Number(match[2]),
      0,
    );
    expect(bucketTotals).toBe(12);

    const slowestShown = [
      ...dom.matchAll(/<tr data-task-id="([0-9a-f]+)"><td>.*?<\/td><td class="num" data-ms="(\d+)">/g),
    ].map((match) => ({ taskId: match[1], wallMs: Number(match[2]) }));
    const slowestInResults = results.tasks
      .filter((t) => t.wallMs !== undefined)
      .sort((a, b) => (b.wallMs ?? 0) - (a.wallMs ?? 0))
      .slice(0, 10);
    expect(slowestShown.map((t) => t.wallMs)).toEqual(slowestInResults.map((t) => t.wallMs));
    expect(new Set(slowestShown.map((t) => t.taskId))).toEqual(
      new Set(slowestInResults.map((t) => t.taskId)),
    );
    // The timed-out task is the slowest, and its key is on the page.
    const slow = results.tasks.find((t) => t.key === 'in/slow.txt');
    expect(slowestShown[0]?.taskId).toBe(slow?.taskId);

    const classesShown = Object.fromEntries(
      [
        ...dom.matchAll(/<tr data-class="([a-z-]+)"><td>[a-z-]+<\/td><td class="num" data-failed="(\d+)">/g),
      ].map((match): [string, number] => [match[1] ?? '', Number(match[2])]),
    );
    expect(classesShown).toEqual({ 'algorithm-exit': 2, 'no-output': 1, timeout: 1 });

    // Failures with their log tails: the end of the log, the secret masked, user text escaped.
    const failures = [...dom.matchAll(/<details class="failure" data-task-id="([0-9a-f]+)"/g)].map(
      (m) => m[1],
    );
    expect(failures.sort()).toEqual(
      results.tasks
        .filter((t) => t.status === 'failed')
        .map((t) => t.taskId)
        .sort(),
    );
    expect(dom).toContain('giving up with token ***');
    expect(dom).toContain('step 30 of &lt;b&gt;fail&lt;/b&gt; &amp; more');
    expect(dom).not.toContain('step 1 of &lt;b&gt;fail');
    expect(dom).toContain('in/&lt;b&gt;bold&lt;/b&gt; &amp; "quoted".txt');
    expect(dom).not.toMatch(/<b>/);
  }, 120_000);
});

// A secret on ECS: ECS hands the runner the value in its environment (the task's `secrets`) and
// sluice never sees it, so collect's summary masks with no values at all. Everything that leaves
// the runner must therefore be masked at the source. A port algorithm that prints its token (once
// across the task log's 64 KiB line cut), answers with it in its error body and names an output
// after it; then collect writes results.json and renders the summary and the commit comment as on
// ECS (`secrets: []`). The token must appear in none of it. Runs a node server: not a unit test.
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { afterEach, beforeEach, describe, expect, it } from '@jest/globals';
import {
  JsonLog,
  collectResults,
  formatTaskMessage,
  parseJob,
  provisionRun,
  resultsKey,
  validateTaskRecord,
  type RunnerConfig,
} from '@sluice/core';
import { outcomeCommentMarkdown } from '@sluice/action-kit';
import { FakeObjectStore, FakeRunQueues } from '@sluice/testing';

import { fetchLogTails, renderSummary } from '../../../packages/orchestrator/src/summary.js';
import { assembleRunner, directSource } from '../../../packages/runner/src/assemble.js';
import { loadSettings } from '../../../packages/runner/src/config/settings.js';
import { freeListenPort } from '../../testbed/servers.js';

const SECRET = 'tok-7Hq2-never-print-me';

// The port algorithm: prints the token, then a line longer than the task log's cut with the
// token across the cut; refuses `refused*` inputs with the token in its answer, and leaves an
// output named after the token (a link out of the output directory) for the others.
const SERVER = `
import { createServer } from 'node:http';
import { mkdir, symlink } from 'node:fs/promises';
import { basename, join } from 'node:path';
const token = process.env.API_TOKEN;
createServer((request, response) => {
  let body = '';
  request.on('data', (chunk) => (body += chunk));
  request.on('end', async () => {
    const task = JSON.parse(body);
    console.log('calling the API with ' + token);
    process.stderr.write('x'.repeat(64 * 1024 + 1 - 7) + token.slice(0, 7));
    await new Promise((resolve) => setTimeout(resolve, 100));
    process.stderr.write(token.slice(7) + ' end of the long line\\n');
    if (basename(task.input).startsWith('refused')) {
      response.writeHead(400, { 'content-type': 'application/json' });
      response.end(JSON.stringify({ message: 'the API refused token ' + token }));
      return;
    }
    await mkdir(task.output, { recursive: true });
    await symlink('/etc/hostname', join(task.output, 'made-with-' + token));
    response.writeHead(200);
    response.end('{}');
  });
}).listen(Number(process.argv[2]), '127.0.0.1');
`;

describe('a secret on ECS: masked by the runner, since collect knows no values', () => {
  let dir: string;

  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'sluice-secret-'));
  });
  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('never writes the value to records, logs, runner lines, results.json, the summary or the comment', async () => {
    const store = new FakeObjectStore();
    const queues = new FakeRunQueues();
    const deps = { store, queues, buckets: store, now: Date.now, sleep: () => Promise.resolve() };
    await store.ensureBucket('in-bucket');
    const job = parseJob(
      JSON.stringify({
        name: 'Secrets',
        algorithm: 'secretive@1.0.0',
        input: { bucket: 'in-bucket', prefix: 'in/', include: ['**'] },
        output: { bucket: 'out-bucket', prefix: 'out/' },
      }),
      'job.json',
    );
    const { state } = await provisionRun(job, deps);
    const queueUrl = state.queue.url ?? '';
    const deadLetterUrl = state.deadLetterQueue.url ?? '';

    const script = join(dir, 'server.mjs');
    await writeFile(script, SERVER);
    const manifestPath = join(dir, 'algorithm.json');
    const port = await freeListenPort();
    await writeFile(
      manifestPath,
      JSON.stringify({
        name: 'secretive',
        version: '1.0.0',
        image: 'example.com/secretive:1',
        memory: 256,
        input: '/data/in/',
        output: '/data/out/',
        port,
        command: [process.execPath, script, String(port)],
        env: { API_TOKEN: { secret: true, required: true } },
      }),
    );
    const config: RunnerConfig = {
      runId: state.runId,
      queueUrl,
      deadLetterQueueUrl: deadLetterUrl,
      input: { bucket: 'in-bucket', prefix: 'in/', include: ['**'] },
      output: { bucket: 'out-bucket', prefix: 'out/' },
      maxAttempts: 1,
      timeoutSeconds: 30,
      idleSeconds: 0,
      heartbeatSeconds: 30,
      retryDelaySeconds: 0,
      env: {},
      // As on ECS: the value arrives in the runner's environment, named by secretEnv.
      secretEnv: ['API_TOKEN'],
      workerId: 'ecs-task-1',
      pathRoot: join(dir, 'root'),
    };
    const settings = await loadSettings({
      PATH: process.env.PATH ?? '/usr/bin:/bin',
      SLUICE_RUN: JSON.stringify(config),
      SLUICE_MANIFEST: manifestPath,
      API_TOKEN: SECRET,
    });

    for (const key of ['in/refused.txt', 'in/linked.txt']) {
      const { etag } = await store.put({ bucket: 'in-bucket', key }, 'data');
      await queues.taskQueue(queueUrl).sendBatch([
        {
          body: formatTaskMessage({ sluice: 1, runId: state.runId, bucket: 'in-bucket', key, etag, size: 4 }),
        },
      ]);
    }

    // The runner's log is made without the values: the runner gives them to it itself.
    const lines: string[] = [];
    const log = new JsonLog({ runId: state.runId }, [], (line) => lines.push(line));
    const assembled = await assembleRunner(
      settings,
      directSource(
        settings,
        { store, queue: queues.taskQueue(queueUrl), deadLetter: queues.taskQueue(deadLetterUrl) },
        log,
      ),
      log,
      { PATH: process.env.PATH ?? '/usr/bin:/bin', API_TOKEN: SECRET },
    );
    try {
      await assembled.runner.run(new AbortController().signal);
    } finally {
      await assembled.close();
    }
    expect(assembled.runner.stats.tasks.failed).toBe(2);

    const report = await collectResults(state, { until: { until: 'count', expected: 2 } }, deps);
    expect(report.counts.failed).toBe(2);
    const logTails = await fetchLogTails(report, store, 'out-bucket');
    // ECS: the values never reach sluice, so the summary has none to mask with.
    const summaryOptions = { logTails, secrets: [] };
    const summary = renderSummary(report, summaryOptions);
    const comment = outcomeCommentMarkdown(report, summaryOptions);

    const objects: Record<string, string> = {};
    for await (const page of store.list('out-bucket', '')) {
      for (const { key } of page) {
        objects[key] = (await store.getText({ bucket: 'out-bucket', key }))?.text ?? '';
      }
    }
    const records = Object.entries(objects).filter(([key]) => key.includes('/tasks/'));
    // Each attempt's log is kept: in its record when small, else as an object of its own.
    const taskLogs = records
      .flatMap(([, text]) => validateTaskRecord(JSON.parse(text), 'record').attempts)
      .filter((a) => a.log !== undefined || (a.logKey !== undefined && objects[a.logKey] !== undefined));
    expect(records).toHaveLength(2);
    expect(taskLogs).toHaveLength(2);
    expect(objects[resultsKey(state.runId)]).toBeDefined();

    // What failed is still told, with the value masked.
    const messages = report.failures.map((f) => f.message).sort();
    expect(messages).toEqual([
      expect.stringContaining('the API refused token ***'),
      expect.stringContaining('made-with-***'),
    ]);
    expect(summary).toContain('the API refused token ***');
    expect([...logTails.values()].join('')).toContain('***');

    const everything = { objects, lines, summary, comment, logTails: [...logTails.values()] };
    for (const [where, text] of Object.entries(objects)) {
      expect({ where, leaks: text.includes(SECRET) }).toEqual({ where, leaks: false });
      // The long line's two pieces, read together, do not give the value either.
      expect({ where, leaks: text.replace(/\n\[stderr\] /g, '').includes(SECRET) }).toEqual({
        where,
        leaks: false,
      });
    }
    expect(JSON.stringify(everything)).not.toContain(SECRET);
  }, 60_000);
});

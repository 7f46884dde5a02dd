import { describe, expect, it } from '@jest/globals';
import type { CollectReport } from '@sluice/core';
import type { CollectStepOptions } from '@sluice/orchestrator';
import { Command } from 'commander';

import type { CommandContext } from '../context.js';
import { ExitCode } from '../exit-codes.js';
import { registerCollect } from './collect.js';
import type { StepCommandDeps } from './step-options.js';

const REPORT = 's3://out/_sluice/thumbnails-3f9a0c12/report.html';

function report(): CollectReport {
  return {
    runId: 'thumbnails-3f9a0c12',
    counts: { inputs: 60, succeeded: 57, failed: 3, running: 0, pending: 0 },
    complete: true,
    inputComplete: true,
    timedOut: false,
    results: 's3://out/_sluice/thumbnails-3f9a0c12/results.json',
    resultsKey: '_sluice/thumbnails-3f9a0c12/results.json',
    report: REPORT,
    reportKey: '_sluice/thumbnails-3f9a0c12/report.html',
    failures: [],
    slowest: [],
    reconciled: 0,
    retried: 0,
    elapsedMs: 65_000,
  };
}

/** `sluice collect ARGS` with a collect step that records its options. */
async function collect(
  args: string[],
): Promise<{ out: string; code: ExitCode; options: CollectStepOptions[] }> {
  let out = '';
  const options: CollectStepOptions[] = [];
  const context: CommandContext = {
    io: {
      out: (text) => {
        out += text;
      },
      err: () => undefined,
      readFile: () => Promise.reject(new Error('not read')),
    },
    exitCode: ExitCode.ok,
  };
  const deps: Partial<StepCommandDeps> = {
    collect: (_target, stepOptions) => {
      options.push(stepOptions);
      return Promise.resolve({ report: report(), summaryMarkdown: '## summary\n', summaryOptions: {} });
    },
    env: {},
    progress: { write: () => undefined, isTTY: false },
    now: () => 0,
  };
  const program = new Command('sluice').exitOverride();
  registerCollect(program, context, deps);
  await program.parseAsync(['collect', ...args], { from: 'user' });
  return { out, code: context.exitCode, options };
}

describe('sluice collect', () => {
  it('says where report.html is, beside results.json', async () => {
    const { out, options } = await collect(['job.json', '--until', 'count', '--expected', '60']);
    expect(out).toContain(`report:  ${REPORT}\n`);
    expect(options[0]).not.toHaveProperty('reportFile');
  });

  it('--report FILE asks the step for a local copy and says where it went', async () => {
    const { out, code, options } = await collect(['job.json', '--report', 'out/report.html']);
    expect(options[0]).toMatchObject({ until: 'idle', reportFile: 'out/report.html' });
    expect(out).toContain('report copied to out/report.html\n');
    expect(code).toBe(ExitCode.ok);
  });
});

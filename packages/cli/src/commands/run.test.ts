import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { ConfigurationError, InterruptedError, SluiceError, type CollectReport } from '@sluice/core';
import type { CollectStepOptions, RunTarget } from '@sluice/orchestrator';
import { Command } from 'commander';

import type { CommandContext } from '../context.js';
import { ExitCode } from '../exit-codes.js';
import type { CliIo } from '../io.js';
import { runCli } from '../program.js';
import { registerCollect } from './collect.js';
import { registerDispatch } from './dispatch.js';
import { registerProvision } from './provision.js';
import { registerRun } from './run.js';
import { parseCollectOptions, parseTarget, type StepCommandDeps } from './step-options.js';
import { registerTeardown } from './teardown.js';

function capture(): { io: CliIo; out: () => string; err: () => string } {
  let out = '';
  let err = '';
  return {
    io: {
      out: (text) => {
        out += text;
      },
      err: (text) => {
        err += text;
      },
      readFile: () => Promise.reject(new Error('not read')),
    },
    out: () => out,
    err: () => err,
  };
}

const RESULTS = 's3://out/_sluice/thumbnails-3f9a0c12/results.json';

function report(rest: Partial<CollectReport> = {}): CollectReport {
  return {
    runId: 'thumbnails-3f9a0c12',
    counts: { inputs: 60, succeeded: 57, failed: 3, running: 0, pending: 0 },
    complete: true,
    inputComplete: true,
    timedOut: false,
    results: RESULTS,
    resultsKey: '_sluice/thumbnails-3f9a0c12/results.json',
    failures: [],
    slowest: [],
    reconciled: 0,
    retried: 0,
    elapsedMs: 65_000,
    ...rest,
  };
}

interface Recorded {
  readonly steps: string[];
  readonly targets: RunTarget[];
  readonly collectOptions: CollectStepOptions[];
  readonly backends: (string | undefined)[];
  /** Per provision: whether the S3 notification was left to dispatch. */
  readonly deferIntake: boolean[];
}

/** Fake steps that record the order they ran in. */
function fakeDeps(overrides: Partial<StepCommandDeps> = {}): {
  deps: StepCommandDeps;
  recorded: Recorded;
  stderr: string[];
} {
  const recorded: Recorded = { steps: [], targets: [], collectOptions: [], backends: [], deferIntake: [] };
  const stderr: string[] = [];
  const deps: StepCommandDeps = {
    provision: (jobPath, context, options) => {
      recorded.steps.push(`provision ${jobPath}`);
      recorded.backends.push(context.backend);
      recorded.deferIntake.push(options?.deferIntake === true);
      return Promise.resolve({
        runId: 'thumbnails-3f9a0c12',
        queueUrl: 'http://q/sluice-thumbnails-3f9a0c12-tasks',
        uploadTo: 's3://in/photos/',
        endMarker: 's3://in/_sluice/thumbnails-3f9a0c12/end',
        warnings: [],
      });
    },
    uploadDirectory: (request, onProgress) => {
      recorded.steps.push(`upload ${request.to}`);
      onProgress({ files: 2, totalFiles: 2, bytes: 10, totalBytes: 10 });
      return Promise.resolve({ files: 2, bytes: 10 });
    },
    putMarker: (request) => {
      recorded.steps.push(`marker ${request.at}`);
      return Promise.resolve();
    },
    dispatch: (target) => {
      recorded.steps.push('dispatch');
      recorded.targets.push(target);
      return Promise.resolve({
        runId: 'thumbnails-3f9a0c12',
        listed: 60,
        enqueued: 60,
        skippedDone: 0,
        skippedFiltered: 0,
        failed: 0,
        workers: 2,
      });
    },
    collect: (target, options) => {
      recorded.steps.push('collect');
      recorded.targets.push(target);
      recorded.collectOptions.push(options);
      return Promise.resolve({ report: report(), summaryMarkdown: '## summary\n', summaryOptions: {} });
    },
    teardown: (target, options) => {
      recorded.steps.push(`teardown${options.deleteData === true ? ' --delete-data' : ''}`);
      recorded.targets.push(target);
      return Promise.resolve({
        runId: 'thumbnails-3f9a0c12',
        found: true,
        deleted: ['queue a', 'queue b'],
        kept: [],
      });
    },
    env: {},
    progress: {
      write: (text) => {
        stderr.push(text);
      },
      isTTY: false,
    },
    now: () => 0,
    onInterrupt: () => () => undefined,
    ...overrides,
  };
  return { deps, recorded, stderr };
}

/** Runs `args` through the run commands wired to `deps`, as runCli would. */
async function sluice(
  args: string[],
  deps: StepCommandDeps,
): Promise<{ code: ExitCode; out: string; error?: unknown }> {
  const run = capture();
  const context: CommandContext = { io: run.io, exitCode: ExitCode.ok };
  const program = new Command('sluice')
    .exitOverride()
    .configureOutput({ writeOut: run.io.out, writeErr: run.io.err });
  registerRun(program, context, deps);
  registerProvision(program, context, deps);
  registerDispatch(program, context, deps);
  registerCollect(program, context, deps);
  registerTeardown(program, context, deps);
  try {
    await program.parseAsync(args, { from: 'user' });
    return { code: context.exitCode, out: run.out() };
  } catch (thrown: unknown) {
    return { code: ExitCode.fault, out: run.out(), error: thrown };
  }
}

describe('run command line: bad input is exit 2, before anything is created', () => {
  it.each([
    [['run', 'job.json', '--backend', 'k8s'], '--backend must be one of local, ecs; found "k8s"'],
    [['run', 'job.json', '--until', 'forever'], '--until must be one of idle, count, marker'],
    [['run', 'job.json', '--until', 'count'], '--until count needs --expected N'],
    [['run', 'job.json', '--expected', '5'], '--expected goes with --until count'],
    [['run', 'job.json', '--timeout', '10m'], '--timeout must be a whole number >= 1; found "10m"'],
    [
      ['run', 'job.json', '--upload', '/no/such/dir/sluice'],
      '--upload /no/such/dir/sluice: no such directory',
    ],
    [['dispatch'], 'name the run: a job file (e.g. job.json) or --run <run-id>'],
    [['collect', 'job.json', '--run', 'r-1'], 'give the job file or --run, not both'],
    [['teardown'], 'name the run'],
    [['provision', 'job.json', '--backend', 'lambda'], '--backend must be one of local, ecs'],
  ])('sluice %j', async (args, message) => {
    const run = capture();

    const code = await runCli(args, run.io);

    expect(run.err()).toContain(message);
    expect(code).toBe(2);
  });

  it('reads the collect options', () => {
    expect(
      parseCollectOptions({ until: 'count', expected: '60', timeout: '600', retryFailed: true }, 'idle'),
    ).toEqual({
      until: 'count',
      expectedCount: 60,
      timeoutSeconds: 600,
      retryFailed: true,
    });
    expect(parseCollectOptions({ idle: '30' }, 'marker')).toEqual({ until: 'marker', idleSeconds: 30 });
  });

  it('names the run by job file or by id', () => {
    expect(parseTarget('job.json', undefined)).toEqual({ jobPath: 'job.json' });
    expect(parseTarget(undefined, 'r-1')).toEqual({ runId: 'r-1' });
  });
});

describe('sluice run', () => {
  let dir: string;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'sluice-run-test-'));
  });

  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('chains provision, upload, end marker, dispatch, collect and teardown, and prints where the results are', async () => {
    const { deps, recorded, stderr } = fakeDeps();

    const result = await sluice(['run', 'job.json', '--upload', dir, '--backend', 'local'], deps);

    expect(result.error).toBeUndefined();
    expect(recorded.steps).toEqual([
      'provision job.json',
      'upload s3://in/photos/',
      'marker s3://in/_sluice/thumbnails-3f9a0c12/end',
      'dispatch',
      'collect',
      'teardown',
    ]);
    expect(recorded.backends).toEqual(['local']);
    // The uploaded batch reaches the queue through dispatch's listing only: no S3 event meanwhile.
    expect(recorded.deferIntake).toEqual([true]);
    expect(recorded.collectOptions).toEqual([{ until: 'marker' }]);
    expect(recorded.targets).toEqual([
      { jobPath: 'job.json' },
      { jobPath: 'job.json' },
      { jobPath: 'job.json' },
    ]);
    expect(result.out).toContain(
      'run thumbnails-3f9a0c12: completed, 3 failed — 57 succeeded, 3 failed of 60 inputs in 1m05s',
    );
    expect(result.out).toContain(`results: ${RESULTS}`);
    expect(result.code).toBe(0);
    expect(stderr.join('')).toContain('uploaded 2 file(s), 10 B, to s3://in/photos/');
  });

  it('waits until idle without --upload, and keeps the run with --keep', async () => {
    const { deps, recorded } = fakeDeps();

    const result = await sluice(['run', 'job.json', '--keep', '--until', 'count', '--expected', '60'], deps);

    expect(recorded.steps).toEqual(['provision job.json', 'dispatch', 'collect']);
    // Files come from elsewhere: the notification is installed at once.
    expect(recorded.deferIntake).toEqual([false]);
    expect(recorded.collectOptions).toEqual([{ until: 'count', expectedCount: 60 }]);
    expect(result.code).toBe(0);
  });

  it('keeps a run whose job says keep: true, as --keep does', async () => {
    const { deps, recorded, stderr } = fakeDeps();
    const provision = deps.provision;
    const keeping: StepCommandDeps['provision'] = async (jobPath, context) => ({
      ...(await provision(jobPath, context)),
      keep: true,
    });

    const result = await sluice(['run', 'job.json'], { ...deps, provision: keeping });

    expect(recorded.steps).toEqual(['provision job.json', 'dispatch', 'collect']);
    expect(stderr.join('')).toContain('kept run thumbnails-3f9a0c12');
    expect(result.code).toBe(0);
  });

  it("tears down when a step fails, and fails with that step's error", async () => {
    const refused = new ConfigurationError('job.json $.env.WATERMARK_TOKEN: WATERMARK_TOKEN is not set');
    const { deps, recorded } = fakeDeps({ dispatch: () => Promise.reject(refused) });

    const result = await sluice(['run', 'job.json'], deps);

    expect(recorded.steps).toEqual(['provision job.json', 'teardown']);
    expect(result.error).toBe(refused);
  });

  it('exits 1 when the run did not finish in time, after tearing down', async () => {
    const late = report({
      complete: false,
      timedOut: true,
      counts: { inputs: 60, succeeded: 50, failed: 0, running: 2, pending: 8 },
    });
    const { deps, recorded } = fakeDeps({
      collect: () => Promise.resolve({ report: late, summaryMarkdown: '', summaryOptions: {} }),
    });

    const result = await sluice(['run', 'job.json', '--timeout', '60'], deps);

    expect(recorded.steps).toContain('teardown');
    expect(result.out).toContain('did not finish in time (2 running, 8 not started)');
    expect(result.code).toBe(1);
  });

  it('reports a failed teardown beside the step failure that came first', async () => {
    const fault = new SluiceError('the engine stopped answering');
    const { deps, stderr } = fakeDeps({
      collect: () => Promise.reject(fault),
      teardown: () => Promise.reject(new SluiceError('SQS unreachable')),
    });

    const result = await sluice(['run', 'job.json'], deps);

    expect(result.error).toBe(fault);
    expect(stderr.join('')).toContain('error: teardown failed too (SQS unreachable)');
  });
});

describe('sluice run interrupted (Ctrl-C)', () => {
  function untilAborted(signal: AbortSignal | undefined, during: string): Promise<never> {
    return new Promise((_, reject) => {
      signal?.addEventListener('abort', () => {
        reject(new InterruptedError(during));
      });
    });
  }

  /** An interrupt source the test fires, and what the steps saw of the signal. */
  function interrupts(): {
    onInterrupt: StepCommandDeps['onInterrupt'];
    fire: () => void;
    listening: () => boolean;
  } {
    let listener: ((signal: NodeJS.Signals) => void) | undefined;
    return {
      onInterrupt: (l) => {
        listener = l;
        return () => {
          listener = undefined;
        };
      },
      fire: () => listener?.('SIGINT'),
      listening: () => listener !== undefined,
    };
  }

  it('stops waiting for collect, tears the run down, and fails with an InterruptedError', async () => {
    const ctrlC = interrupts();
    let collectSignal: AbortSignal | undefined;
    const { deps, recorded, stderr } = fakeDeps({
      onInterrupt: ctrlC.onInterrupt,
      // A collect that ends only when interrupted, as the real one stops at its next poll.
      collect: (_target, _options, context) => {
        recorded.steps.push('collect');
        collectSignal = context.signal;
        setTimeout(ctrlC.fire, 10);
        return untilAborted(context.signal, 'collect');
      },
    });

    const result = await sluice(['run', 'job.json'], deps);

    expect(recorded.steps).toEqual(['provision job.json', 'dispatch', 'collect', 'teardown']);
    expect(result.error).toBeInstanceOf(InterruptedError);
    expect((result.error as Error).message).toBe('interrupted during collect');
    expect(collectSignal?.aborted).toBe(true);
    expect(stderr.join('')).toContain('SIGINT: interrupted — stopping the run and tearing it down');
    expect(stderr.join('')).toContain('torn down: 2 resource(s) deleted');
    expect(ctrlC.listening()).toBe(false);
  });

  it('with --keep leaves the run in place and says how to tear it down', async () => {
    const ctrlC = interrupts();
    const { deps, recorded, stderr } = fakeDeps({
      onInterrupt: ctrlC.onInterrupt,
      dispatch: (_target, context) => {
        recorded.steps.push('dispatch');
        setTimeout(ctrlC.fire, 10);
        return untilAborted(context.signal, 'dispatch');
      },
    });

    const result = await sluice(['run', 'job.json', '--keep'], deps);

    expect(recorded.steps).toEqual(['provision job.json', 'dispatch']);
    expect(result.error).toBeInstanceOf(InterruptedError);
    expect(stderr.join('')).toContain(
      'kept run thumbnails-3f9a0c12: tear it down with `sluice teardown job.json`',
    );
  });

  it('lets an interrupted provision finish, then tears down without starting anything', async () => {
    const ctrlC = interrupts();
    const { deps, recorded } = fakeDeps({ onInterrupt: ctrlC.onInterrupt });
    const provision = deps.provision;
    const slowProvision: StepCommandDeps['provision'] = async (jobPath, context) => {
      ctrlC.fire();
      return provision(jobPath, context);
    };

    const result = await sluice(['run', 'job.json', '--upload', '.'], { ...deps, provision: slowProvision });

    expect(recorded.steps).toEqual(['provision job.json', 'teardown']);
    expect((result.error as Error).message).toBe('interrupted during provision');
  });
});

describe('the single steps', () => {
  it('provision prints the run id, queue, upload address and end marker', async () => {
    const { deps } = fakeDeps();

    const result = await sluice(['provision', 'job.json'], deps);

    expect(result.out).toBe(
      'run-id: thumbnails-3f9a0c12\nqueue-url: http://q/sluice-thumbnails-3f9a0c12-tasks\n' +
        'upload-to: s3://in/photos/\nend-marker: s3://in/_sluice/thumbnails-3f9a0c12/end\n',
    );
  });

  it('dispatch --run names the run by id', async () => {
    const { deps, recorded } = fakeDeps();

    const result = await sluice(['dispatch', '--run', 'thumbnails-3f9a0c12'], deps);

    expect(recorded.targets).toEqual([{ runId: 'thumbnails-3f9a0c12' }]);
    expect(result.out).toBe(
      'run thumbnails-3f9a0c12: 60 listed, 60 enqueued, 0 already done, 0 not inputs; 2 worker(s) running\n',
    );
  });

  it('collect exits 0 with failed tasks, and passes its options', async () => {
    const { deps, recorded } = fakeDeps();

    const result = await sluice(
      ['collect', 'job.json', '--until', 'marker', '--retry-failed', '--timeout', '900'],
      deps,
    );

    expect(recorded.collectOptions).toEqual([{ until: 'marker', timeoutSeconds: 900, retryFailed: true }]);
    expect(result.out).toContain('completed, 3 failed');
    expect(result.code).toBe(0);
  });

  it('teardown passes --delete-data and lists what it deleted', async () => {
    const { deps, recorded } = fakeDeps();

    const result = await sluice(['teardown', '--run', 'thumbnails-3f9a0c12', '--delete-data'], deps);

    expect(recorded.steps).toEqual(['teardown --delete-data']);
    expect(result.out).toContain('torn down, 2 deleted, 0 kept\n  deleted: queue a\n');
  });
});

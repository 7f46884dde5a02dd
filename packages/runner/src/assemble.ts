/**
 * Puts a runner together from its settings and its task source: what main does with the real
 * source (direct: S3/SQS clients; sealed: the broker), and what tests do with the test bed's or
 * with fakes.
 */
import { chmod, mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import {
  TaskWorkspace,
  algorithmEnvironment,
  type JsonLog,
  type ObjectStore,
  type TaskQueue,
} from '@sluice/core';
import { TaskControl } from '@sluice/core/broker';

import { ecsSiblingsBusy, type RunnerSettings } from './config/settings.js';
import { Runner } from './runner.js';
import { DirectTaskSource } from './sources/direct-source.js';
import type { TaskSource } from './sources/task-source.js';
import { TaskProcessor } from './tasks/task-processor.js';

/**
 * How long a finished task's message delete waits for others to share a DeleteMessageBatch: a
 * runner finishing several short tasks a second pays one delete for up to 10 of them.
 */
const DELETE_DELAY_MS = 1000;

/** The adapters a direct-mode runner talks to. */
export interface RunnerAdapters {
  readonly store: ObjectStore;
  readonly queue: TaskQueue;
  readonly deadLetter: TaskQueue;
}

/** A runner ready to `run`, and how to tidy up after it. */
export interface AssembledRunner {
  readonly runner: Runner;
  readonly processor: TaskProcessor;
  readonly source: TaskSource;
  /** Stops the port server, sends what the task source still holds, removes the private directory. */
  close(): Promise<void>;
}

/**
 * The runner's private directory (task logs) under the temp directory. A FROM-scratch image has no
 * `/tmp`: the runner then makes it, world-writable with the sticky bit as usual.
 */
async function makeWorkDir(): Promise<string> {
  const prefix = join(tmpdir(), 'sluice-runner-');
  try {
    return await mkdtemp(prefix);
  } catch (thrown) {
    if ((thrown as NodeJS.ErrnoException).code !== 'ENOENT') throw thrown;
    await mkdir(tmpdir(), { recursive: true });
    await chmod(tmpdir(), 0o1777);
    return mkdtemp(prefix);
  }
}

/**
 * The direct-mode task source: the run's task control in this process, over the given adapters.
 *
 * @example
 * const source = directSource(settings, { store, queue, deadLetter }, log);
 * @throws never.
 */
export function directSource(
  settings: RunnerSettings,
  adapters: RunnerAdapters,
  log: JsonLog,
): DirectTaskSource {
  const control = new TaskControl({ settings, ...adapters, log, deleteDelayMs: DELETE_DELAY_MS });
  return new DirectTaskSource(control, adapters.store, settings.config.output.bucket, settings.workerId);
}

/**
 * Builds a runner. `inherited` is the environment the algorithm's is derived from (credentials and
 * SLUICE_* removed, the job's values added).
 */
export async function assembleRunner(
  settings: RunnerSettings,
  source: TaskSource,
  log: JsonLog,
  inherited: Readonly<Record<string, string | undefined>>,
): Promise<AssembledRunner> {
  const workDir = await makeWorkDir();
  // The log holds the secret values the runner knows; its lines, the task records and the task logs
  // all mask with them (JsonLog, TaskLedger, TaskProcessor's TaskLog).
  for (const secret of settings.secrets) log.setSecret(secret);
  const processor = new TaskProcessor({
    settings,
    source,
    log,
    workspace: new TaskWorkspace(settings.manifest, settings.pathRoot),
    workDir,
    env: algorithmEnvironment(inherited, settings.algorithmValues),
  });
  // On ECS, the first runner container of a worker of several tasks stays while its siblings work.
  const siblingsBusy = await ecsSiblingsBusy(inherited);
  const runner = new Runner({
    settings,
    source,
    processor,
    log,
    ...(siblingsBusy !== undefined && { siblingsBusy }),
  });
  return {
    runner,
    processor,
    source,
    close: async () => {
      await processor.shutdown();
      await source.close?.();
      await rm(workDir, { recursive: true, force: true });
    },
  };
}

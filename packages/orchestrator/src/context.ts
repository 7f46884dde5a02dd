// What every step gets from its caller (an action, the CLI, a test), and the small things every step
// does with it: read the job file, tell a user's interrupt, name the user's file in errors.
import { readFile } from 'node:fs/promises';

import {
  ConfigurationError,
  defaultSleep,
  InterruptedError,
  JOB_FILE,
  parseJob,
  toError,
  ValidationError,
  type Job,
  type Logger,
  type Problem,
} from '@sluice/core';
import type { ContainerEngine } from '@sluice/core/compute';

/** Which run a step works on: a job file (the run id is derived from it) or a run id. */
export type RunTarget =
  | { readonly jobPath: string; readonly runId?: undefined }
  | { readonly runId: string; readonly jobPath?: undefined };

/** What every step needs from its caller (an action, the CLI, a test). */
export interface StepContext {
  readonly logger: Logger;
  /** The caller's environment: AWS settings (AWS_ENDPOINT_URL, AWS_REGION, credentials) and `fromEnv` values. */
  readonly env: Readonly<Record<string, string | undefined>>;
  /** Overrides the job's `compute.backend` (action input `backend`, CLI `--backend`). */
  readonly backend?: 'local' | 'ecs';
  /** Where to find the output bucket when only a run id is given (optional; else found by queue tags). */
  readonly outputBucket?: string;
  /**
   * The container engine for the local backend; default `detectContainerEngine` over `env`
   * (`SLUICE_CONTAINER_ENGINE`, then docker when a daemon answers, then podman).
   */
  readonly engine?: ContainerEngine;
  /** Waits between collect's polls (default a timer); tests may shorten them. */
  readonly pollSeconds?: number;
  /**
   * Aborted when the user interrupts (Ctrl-C): dispatch starts no runners and collect stops waiting
   * (and restarts no runner) with an {@link InterruptedError}, so a teardown can follow safely.
   */
  readonly signal?: AbortSignal;
  /**
   * The watcher Lambda's deployment package, which provisioning an ECS run deploys: entry points
   * that carry the bundle give it (`loadWatcherZip(locateWatcherBundle(import.meta.url))`).
   */
  readonly watcherZip?: () => Promise<Uint8Array>;
}

/** A poll's wait, cut short when the user interrupts. */
export async function sleepUnlessAborted(ms: number, signal: AbortSignal | undefined): Promise<void> {
  if (signal === undefined) {
    await defaultSleep(ms);
    return;
  }
  await new Promise<void>((resolve) => {
    const done = (): void => {
      clearTimeout(timer);
      signal.removeEventListener('abort', done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    signal.addEventListener('abort', done, { once: true });
  });
}

export function throwIfInterrupted(context: StepContext, during: string): void {
  if (context.signal?.aborted === true) throw new InterruptedError(during);
}

export async function readJobFile(jobPath: string): Promise<Job> {
  let text: string;
  try {
    text = await readFile(jobPath, 'utf8');
  } catch (thrown: unknown) {
    throw new ConfigurationError(`cannot read the job file ${jobPath}: ${toError(thrown).message}`, {
      cause: thrown,
    });
  }
  return parseJob(text, jobPath);
}

/**
 * Problems about the job that were found below the steps, where the file's name is not known, say
 * `job.json`; the user's file may be called anything. The step knows it: the problems are relabelled
 * (data, not text) and the error rendered again.
 */
export async function namingJobFile<T>(jobPath: string | undefined, step: () => Promise<T>): Promise<T> {
  try {
    return await step();
  } catch (thrown: unknown) {
    if (jobPath === undefined || !(thrown instanceof ValidationError)) throw thrown;
    if (!thrown.problems.some((problem) => problem.file === JOB_FILE)) throw thrown;
    const problems: Problem[] = thrown.problems.map((problem) =>
      problem.file === JOB_FILE ? { ...problem, file: jobPath } : problem,
    );
    throw new ValidationError(problems, { cause: thrown });
  }
}

// The runner's `SLUICE_RUN`, whichever the backend: local runner containers and ECS tasks get the same.
import type { Job, RunnerConfig, RunState } from '@sluice/core';

/**
 * The runner's `SLUICE_RUN` for a run: where its queues and buckets are, its limits, and the job's
 * literal env values (`secretEnv` names the variables the runner reads from its own environment).
 *
 * @example
 * const config = runnerConfigFor(state, job, { literals: { MODE: 'fast' }, secretEnv: ['API_KEY'] });
 * @throws never.
 */
export function runnerConfigFor(
  state: RunState,
  job: Job,
  env: { readonly literals: Record<string, string>; readonly secretEnv: readonly string[] },
): RunnerConfig {
  return {
    runId: state.runId,
    queueUrl: state.queue.url ?? '',
    deadLetterQueueUrl: state.deadLetterQueue.url ?? '',
    input: { bucket: state.input.bucket, prefix: state.input.prefix, include: [...state.input.include] },
    output: { bucket: state.output.bucket, prefix: state.output.prefix },
    maxAttempts: job.retries + 1,
    idleSeconds: job.compute.idleSeconds,
    env: env.literals,
    secretEnv: [...env.secretEnv],
    ...(job.timeoutSeconds !== undefined && { timeoutSeconds: job.timeoutSeconds }),
    ...(state.algorithm.digest !== undefined &&
      /^sha256:[a-f0-9]{64}$/.test(state.algorithm.digest) && { algorithmDigest: state.algorithm.digest }),
  };
}

/**
 * What the task control (the runner's own in direct mode, the broker's in sealed mode) needs to know
 * about a run: its queues, buckets and limits. A runner's settings are one; the broker builds one from
 * the same `SLUICE_RUN` and manifest.
 */
import { createHash } from 'node:crypto';

import { canonicalJson } from '../ids/canonical-json.js';
import type { Manifest } from '../schemas/manifest.js';
import { RUNNER_CONFIG_DEFAULTS, type RunnerConfig } from '../schemas/runner-config.js';

export interface ControlSettings {
  readonly config: RunnerConfig;
  /** The manifest's retry policy: which failures of the control's own steps are retried. */
  readonly manifest: Pick<Manifest, 'retry' | 'allowEmptyOutput'>;
  readonly timeoutSeconds: number;
  readonly heartbeatSeconds: number;
  readonly retryDelaySeconds: number;
  /** Recorded in task records and completion markers. */
  readonly algorithmDigest: string;
}

/**
 * A broker's control settings from its run's `SLUICE_RUN` and the algorithm's manifest, defaulted
 * as a runner defaults them (so a broker records what a direct runner would): the time limit from
 * the manifest, the runner's heartbeat and retry delay, and, without an image digest, the hash of
 * the manifest.
 *
 * @example
 * const settings = brokerControlSettings(runnerConfigFor(state, job, env), manifest);
 * @throws never.
 */
export function brokerControlSettings(config: RunnerConfig, manifest: Manifest): ControlSettings {
  return {
    config,
    manifest: { retry: manifest.retry, allowEmptyOutput: manifest.allowEmptyOutput },
    timeoutSeconds: config.timeoutSeconds ?? manifest.timeoutSeconds,
    heartbeatSeconds: config.heartbeatSeconds ?? RUNNER_CONFIG_DEFAULTS.heartbeatSeconds,
    retryDelaySeconds: config.retryDelaySeconds ?? RUNNER_CONFIG_DEFAULTS.retryDelaySeconds,
    algorithmDigest:
      config.algorithmDigest ??
      `sha256:${createHash('sha256').update(canonicalJson(manifest)).digest('hex')}`,
  };
}

/**
 * What the task control (the runner's own in direct mode, the broker's in sealed mode) needs to know
 * about a run: its queues, buckets and limits. A runner's settings are one; the broker builds one from
 * the same `SLUICE_RUN` and manifest.
 */
import type { Manifest } from '../schemas/manifest.js';
import type { RunnerConfig } from '../schemas/runner-config.js';

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

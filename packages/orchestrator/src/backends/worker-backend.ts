// One interface for a run's workers, whichever the backend; dispatch and collect only see this.
import type { RunState } from '@sluice/core';

/** A run's workers: topped up to what the queue's backlog calls for. */
export interface WorkerBackend {
  /** Starts (or restarts) workers while work remains; returns how many run. */
  ensure(): Promise<number>;
  /** Values to mask in summaries (the secret variables' values this machine knows). */
  readonly secrets: readonly string[];
}

/** The backend a step runs the run's workers on: the caller's override, else the run's. */
export function backendOf(state: RunState, override: 'local' | 'ecs' | undefined): 'local' | 'ecs' {
  return override ?? state.backend;
}

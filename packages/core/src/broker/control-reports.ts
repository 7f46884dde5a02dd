/** Small pure helpers of the task control: what a lease carries on, and reports made of verdicts. */
import { toError } from '../errors.js';
import type { AttemptVerdict } from '../execution/failure.js';
import { outputPrefixFor } from '../ids/ledger-keys.js';
import type { ControlSettings } from './control-settings.js';
import type { FailureReport, Lease } from './control-types.js';

/** The record a lease created, for a conditional rewrite without reading it. */
export function createdRecord(lease: Lease): { created?: { etag: string } } {
  return lease.recordEtag === undefined ? {} : { created: { etag: lease.recordEtag } };
}

/** Why a key cannot become output keys, or undefined when it can. */
export function outputKeysProblem(config: ControlSettings['config'], key: string): string | undefined {
  try {
    outputPrefixFor(config, key);
    return undefined;
  } catch (thrown) {
    return toError(thrown).message;
  }
}

/** A failure verdict as a report's fields. */
export function verdictReport(
  verdict: AttemptVerdict,
): Pick<FailureReport, 'failureClass' | 'retryable' | 'message' | 'exitCode'> {
  if (verdict.ok) throw new Error('a failure report was made from a success');
  return {
    failureClass: verdict.failureClass,
    retryable: verdict.retryable,
    message: verdict.message,
    ...(verdict.exitCode !== undefined && { exitCode: verdict.exitCode }),
  };
}

// How an attempt ended, as one decision table shared by the runner and `sluice try`: which failure
// class it is (the contract's classes, docs/contracts.md "Records") and whether another attempt may
// help, under the manifest's `retry` policy.
import type { Manifest } from '../schemas/manifest.js';
import type { FailureClass } from '../schemas/records.js';

/** What is known about an attempt's end, from the process, the port server, or the runner's steps. */
export type AttemptEvidence =
  /** The algorithm process exited (or was killed); fields as `AlgorithmOutcome` gives them. */
  | {
      readonly kind: 'process';
      readonly exitCode: number | null;
      readonly signal: NodeJS.Signals | null;
      readonly timedOut: boolean;
      readonly outOfMemory: boolean;
      readonly startError?: string;
    }
  /** A port algorithm answered (`status`), died, timed out or did not answer. */
  | {
      readonly kind: 'port';
      readonly status?: number;
      readonly timedOut: boolean;
      readonly serverDied: boolean;
      readonly outOfMemory: boolean;
      readonly message?: string;
    }
  /** The algorithm succeeded but what it left cannot be used. */
  | { readonly kind: 'outputs'; readonly count: number; readonly unsafe?: string }
  /** The input object could not be downloaded; `gone` when it no longer exists or has changed. */
  | { readonly kind: 'input'; readonly gone: boolean; readonly message: string }
  /** Uploading or committing the results failed after the runner's own retries. */
  | { readonly kind: 'upload'; readonly message: string }
  /** Anything else outside the algorithm. */
  | { readonly kind: 'infrastructure'; readonly message: string; readonly retryable?: boolean };

/** The verdict: success, or a failure class with whether to retry and a message for people. */
export type AttemptVerdict =
  | { readonly ok: true; readonly exitCode?: number }
  | {
      readonly ok: false;
      readonly failureClass: FailureClass;
      readonly retryable: boolean;
      readonly exitCode?: number;
      readonly message: string;
    };

type RetryPolicy = Pick<Manifest, 'retry' | 'allowEmptyOutput'>;

function failure(
  failureClass: FailureClass,
  retryable: boolean,
  message: string,
  exitCode?: number | null,
): AttemptVerdict {
  return {
    ok: false,
    failureClass,
    retryable,
    message,
    ...(typeof exitCode === 'number' && { exitCode }),
  };
}

/**
 * Classifies the end of an attempt. The table (docs/contracts.md, "Running an algorithm"):
 *
 * | evidence                                   | class              | retried                         |
 * | ------------------------------------------ | ------------------ | ------------------------------- |
 * | killed for memory (cgroup, or a SIGKILL nobody sent) | `out-of-memory` | with `retryOnOutOfMemory` |
 * | ran past the time limit                    | `timeout`          | unless `retryOnTimeout: false`  |
 * | exit ≠ 0 (or killed by a signal)           | `algorithm-exit`   | unless a `permanentExitCodes`   |
 * | port: answered 4xx                         | `algorithm-exit`   | no (the algorithm refused it)   |
 * | port: answered otherwise, died, no answer  | `algorithm-exit`   | yes                             |
 * | exit 0, nothing under `output`             | `no-output`        | no (unless `allowEmptyOutput`: success) |
 * | an output path that escapes or is unusable | `upload-failed`    | no                              |
 * | input gone or changed since the event      | `input-unreadable` | no                              |
 * | input download failed otherwise            | `input-unreadable` | yes                             |
 * | upload or commit failed                    | `upload-failed`    | yes                             |
 * | the program could not be started           | `infrastructure`   | no (it will not start next time) |
 * | anything else outside the algorithm        | `infrastructure`   | yes                             |
 *
 * @example
 * classifyAttempt({ kind: 'process', exitCode: 3, signal: null, timedOut: false, outOfMemory: false }, manifest);
 * // { ok: false, failureClass: 'algorithm-exit', retryable: true, exitCode: 3, message: 'the algorithm exited with code 3' }
 * @throws never.
 */
export function classifyAttempt(evidence: AttemptEvidence, policy: RetryPolicy): AttemptVerdict {
  const { retry } = policy;
  switch (evidence.kind) {
    case 'process': {
      if (evidence.startError !== undefined) return failure('infrastructure', false, evidence.startError);
      if (evidence.outOfMemory) {
        return failure(
          'out-of-memory',
          retry.retryOnOutOfMemory,
          'the algorithm was killed for using too much memory',
          evidence.exitCode,
        );
      }
      if (evidence.timedOut)
        return failure(
          'timeout',
          retry.retryOnTimeout,
          'the algorithm ran past its time limit',
          evidence.exitCode,
        );
      if (evidence.exitCode === 0) return { ok: true, exitCode: 0 };
      if (evidence.exitCode === null) {
        return failure(
          'algorithm-exit',
          true,
          `the algorithm was killed by ${evidence.signal ?? 'a signal'}`,
        );
      }
      const permanent = retry.permanentExitCodes.includes(evidence.exitCode);
      return failure(
        'algorithm-exit',
        !permanent,
        `the algorithm exited with code ${evidence.exitCode}${permanent ? ' (permanent: not retried)' : ''}`,
        evidence.exitCode,
      );
    }
    case 'port': {
      const said = evidence.message !== undefined ? `: ${evidence.message}` : '';
      if (evidence.outOfMemory) {
        return failure(
          'out-of-memory',
          retry.retryOnOutOfMemory,
          'the algorithm server was killed for using too much memory',
        );
      }
      if (evidence.timedOut)
        return failure(
          'timeout',
          retry.retryOnTimeout,
          'the algorithm server did not answer within the time limit',
        );
      if (evidence.serverDied)
        return failure('algorithm-exit', true, 'the algorithm server died during this task');
      if (evidence.status === undefined)
        return failure('algorithm-exit', true, 'the algorithm server did not answer');
      if (evidence.status >= 200 && evidence.status < 300) return { ok: true };
      const refused = evidence.status >= 400 && evidence.status < 500;
      return failure(
        'algorithm-exit',
        !refused,
        `the algorithm server answered ${evidence.status}${said}${refused ? ' (a 4xx is permanent: not retried)' : ''}`,
      );
    }
    case 'outputs':
      if (evidence.unsafe !== undefined) return failure('upload-failed', false, evidence.unsafe);
      if (evidence.count === 0 && !policy.allowEmptyOutput) {
        return failure('no-output', false, 'the algorithm succeeded but left nothing under its output');
      }
      return { ok: true };
    case 'input':
      return failure('input-unreadable', !evidence.gone, evidence.message);
    case 'upload':
      return failure('upload-failed', true, evidence.message);
    case 'infrastructure':
      return failure('infrastructure', evidence.retryable ?? true, evidence.message);
  }
}

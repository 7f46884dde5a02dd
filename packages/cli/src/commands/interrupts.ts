// Ctrl-C and SIGTERM while a command waits on a step: stop waiting, but not before the step has
// seen the signal and stopped (so nothing it starts outlives the command's own clean-up).
import { InterruptedError } from '@sluice/core';

/** How long an interrupted step may take to notice and stop before the command goes on anyway. */
const SETTLE_MS = 15_000;

/**
 * The step's value, or an InterruptedError once `signal` aborts and the step has stopped (steps see
 * the signal: no runner is started after it) — or after {@link SETTLE_MS}, for a step that cannot
 * stop early (an upload, a long enqueue), which then runs on until the process exits.
 */
export async function unlessInterrupted<T>(
  step: Promise<T>,
  signal: AbortSignal,
  during: string,
): Promise<T> {
  step.catch(() => undefined);
  let onAbort: (() => void) | undefined;
  const interrupted = new Promise<never>((_, reject) => {
    onAbort = () => {
      const gaveUp = new Promise<void>((resolve) => setTimeout(resolve, SETTLE_MS).unref());
      void Promise.race([step.then(noop, noop), gaveUp]).then(() => {
        reject(new InterruptedError(during));
      });
    };
    if (signal.aborted) onAbort();
    else signal.addEventListener('abort', onAbort, { once: true });
  });
  try {
    return await Promise.race([step, interrupted]);
  } finally {
    if (onAbort !== undefined) signal.removeEventListener('abort', onAbort);
  }
}

function noop(): void {
  // Only when the step ends matters here, not how.
}

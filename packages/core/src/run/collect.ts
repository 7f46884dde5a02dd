// collect-results: know when input is complete, wait (bounded, with backoff) until every input has
// a final record and the queue is drained, reconcile the dead-letter queue, optionally re-drive it,
// and write results.json.
import { ConfigurationError, toError } from '../errors.js';
import { endMarkerKey } from '../ids/run-names.js';
import { silentLogger, type Logger } from '../logging/logger.js';
import type { TaskQueue } from '../queue/task-queue.js';
import type { RunState } from '../schemas/run-state.js';
import type { ObjectStore } from '../storage/object-store.js';
import type {
  CollectOptions,
  CollectProgress,
  CollectReport,
  InputCompletion,
  ResultCounts,
} from './collect-report.js';
import { Tracker } from './collect-tracker.js';
import { moveDeadLetters, reconcileDeadLetters } from './dead-letters.js';
import { defaultSleep, type RunDeps } from './lifecycle-deps.js';
import { renderReportHtml } from './report-html.js';
import { writeResults } from './results-file.js';
import { readLogTails, reportKey, RunReportBuilder, type RunReportData } from './run-report.js';

/**
 * Waits for a run to finish and writes its results. First it waits until the input is complete
 * (`until`: an end marker, a count, or quiet for `idleSeconds`), then until every listed input has
 * a final record (succeeded or failed) and the task queue holds nothing, polling with backoff and
 * reporting progress. Tasks found in the dead-letter queue without a final record (their worker
 * was lost on the last attempt) get a failed record, class `infrastructure`, "worker lost"; the
 * dead-letter queue itself is left as it is, unless `retryFailed` moves its messages back to the
 * task queue (once, as fresh task messages) and collect waits again. Finally `results.json` is
 * streamed to `_sluice/<run-id>/results.json` in the output bucket — also after a timeout, with
 * unfinished inputs as `running`/`pending` — and beside it `report.html`, the run in charts and
 * tables (completions over time, time per phase, the slowest tasks, failures by class with the ends
 * of their logs), self-contained and with `options.secrets` masked; a report that cannot be written
 * is a warning, and `report` is then absent.
 *
 * @example
 * const report = await collectResults(state, { until: { until: 'marker' }, timeoutSeconds: 1800 }, deps);
 * console.log(`${report.counts.succeeded} succeeded, ${report.counts.failed} failed: ${report.results}`);
 * @throws {ConfigurationError} when the run has no queue (not provisioned).
 * @throws AwsRequestError for AWS faults.
 */
export async function collectResults(
  run: RunState,
  options: CollectOptions,
  deps: Pick<RunDeps, 'store' | 'queues' | 'logger' | 'now' | 'sleep'>,
): Promise<CollectReport> {
  const { store } = deps;
  const logger = deps.logger ?? silentLogger;
  const now = deps.now ?? Date.now;
  const { url: queueUrl } = run.queue;
  const { url: deadLetterUrl } = run.deadLetterQueue;
  if (queueUrl === undefined || deadLetterUrl === undefined) {
    throw new ConfigurationError(
      `run ${run.runId} has no task queue yet (state ${run.state}); provision it (sluice provision JOB) first.`,
    );
  }
  const wait: Wait = {
    run,
    options,
    store,
    logger,
    now,
    sleep: deps.sleep ?? defaultSleep,
    queue: deps.queues.taskQueue(queueUrl),
    deadLetter: deps.queues.taskQueue(deadLetterUrl),
    tracker: new Tracker(run, store, logger),
    started: now(),
  };
  const { inputComplete, timedOut, reconciled, retried } = await waitForRun(wait);

  options.onProgress?.({
    ...wait.tracker.counts(),
    phase: 'writing-results',
    queued: 0,
    inFlight: 0,
    deadLetter: 0,
    elapsedMs: now() - wait.started,
  });
  const builder = new RunReportBuilder();
  const written = await writeResults(run, wait.tracker, store, now, builder);
  const counts = wait.tracker.counts();
  const complete = inputComplete && !timedOut && counts.running + counts.pending === 0;
  // A view of results.json, which is written: a report that cannot be written is a warning only.
  const report = await writeReport(
    run,
    builder.data({ runId: run.runId, generatedAt: now(), counts, complete, timedOut, results: written.uri }),
    store,
    options.secrets ?? [],
  ).catch((thrown: unknown) => {
    logger.warning(`run ${run.runId}: could not write report.html: ${toError(thrown).message}`);
    return undefined;
  });
  logger.info(
    `run ${run.runId}: ${complete ? 'completed' : 'incomplete'}, ${counts.succeeded} succeeded, ${counts.failed} failed` +
      `${counts.running + counts.pending > 0 ? `, ${counts.running + counts.pending} unfinished` : ''}: ${written.uri}`,
  );
  return {
    runId: run.runId,
    counts,
    complete,
    inputComplete,
    timedOut,
    results: written.uri,
    resultsKey: written.key,
    ...(report !== undefined && { report: report.uri, reportKey: report.key }),
    failures: written.failures,
    slowest: written.slowest,
    reconciled,
    retried,
    elapsedMs: now() - wait.started,
  };
}

/** Renders report.html (with the ends of the shown failures' logs) and puts it beside results.json. */
async function writeReport(
  run: RunState,
  data: RunReportData,
  store: ObjectStore,
  secrets: readonly string[],
): Promise<{ uri: string; key: string }> {
  const key = reportKey(run.runId);
  const html = renderReportHtml(await readLogTails(data, store, run.output.bucket), { secrets });
  await store.put({ bucket: run.output.bucket, key }, html, { contentType: 'text/html; charset=utf-8' });
  return { uri: `s3://${run.output.bucket}/${key}`, key };
}

/** What the wait for a run works with. */
interface Wait {
  readonly run: RunState;
  readonly options: CollectOptions;
  readonly store: ObjectStore;
  readonly logger: Logger;
  readonly now: () => number;
  readonly sleep: (ms: number) => Promise<void>;
  readonly queue: TaskQueue;
  readonly deadLetter: TaskQueue;
  readonly tracker: Tracker;
  readonly started: number;
}

/** How the wait ended. */
interface WaitOutcome {
  readonly inputComplete: boolean;
  readonly timedOut: boolean;
  readonly reconciled: number;
  readonly retried: number;
}

/**
 * Polls until the input is complete, every input is final and the queue is drained (reconciling
 * and, once, re-driving the dead-letter queue on the way), or until the timeout. The wait between
 * polls starts at `pollSeconds` after any change and grows by half while nothing changes.
 */
async function waitForRun(wait: Wait): Promise<WaitOutcome> {
  const { run, options, store, logger, now, tracker } = wait;
  const deadline = wait.started + (options.timeoutSeconds ?? 3600) * 1000;
  const firstPollMs = (options.pollSeconds ?? 2) * 1000;
  const maxPollMs = Math.max(firstPollMs, (options.maxPollSeconds ?? 30) * 1000);
  const idleMs =
    options.until.until === 'idle'
      ? (options.until.idleSeconds ?? run.job.compute?.idleSeconds ?? 60) * 1000
      : 0;
  let inputComplete = false;
  let reconciled = 0;
  let retried = 0;
  let retryDone = options.retryFailed !== true;
  let signature = '';
  let lastChange = wait.started;
  let delay = firstPollMs;

  for (;;) {
    const poll = await pollOnce(wait);
    if (poll.signature !== signature) {
      signature = poll.signature;
      lastChange = now();
      delay = firstPollMs;
    }
    const { summary, queued, inFlight, deadCount } = poll;
    const queueEmpty = queued + inFlight === 0;
    if (!inputComplete) {
      const quietMs = now() - lastChange;
      inputComplete = await isInputComplete(
        options.until,
        run,
        store,
        summary.inputs,
        queueEmpty,
        quietMs,
        idleMs,
      );
      if (inputComplete) {
        logger.info(`run ${run.runId}: input complete (${summary.inputs} inputs)`);
        tracker.inputsComplete();
      }
    }
    const progress = (phase: CollectProgress['phase']): void => {
      options.onProgress?.({
        ...tracker.counts(),
        phase,
        queued,
        inFlight,
        deadLetter: deadCount,
        elapsedMs: now() - wait.started,
      });
    };
    const unfinished = summary.running + summary.pending;
    if (inputComplete && queueEmpty && unfinished > 0 && deadCount > 0) {
      progress('reconciling');
      const written = await reconcileDeadLetters(run, wait.deadLetter, tracker, store, now);
      reconciled += written;
      if (written > 0) continue;
    }
    if (inputComplete && queueEmpty && unfinished === 0) {
      if (retryDone || deadCount === 0) return { inputComplete, timedOut: false, reconciled, retried };
      progress('retrying');
      retryDone = true;
      retried += await retryDeadLetters(wait);
      continue;
    }
    progress(inputComplete ? 'draining' : 'waiting-for-input');
    if (now() >= deadline) {
      logger.warning(
        `run ${run.runId}: gave up waiting after ${Math.round((now() - wait.started) / 1000)} s ` +
          `(${unfinished} inputs unfinished, ${queued + inFlight} messages queued or in flight)`,
      );
      return { inputComplete, timedOut: true, reconciled, retried };
    }
    await wait.sleep(Math.max(0, Math.min(delay, deadline - now())));
    delay = Math.min(maxPollMs, Math.round(delay * 1.5));
  }
}

/** One look at the ledger and the queues; `signature` changes whenever anything moved. */
async function pollOnce(wait: Wait): Promise<{
  readonly summary: ResultCounts;
  readonly queued: number;
  readonly inFlight: number;
  readonly deadCount: number;
  readonly signature: string;
}> {
  await wait.tracker.scan();
  const [counts, dead] = await Promise.all([wait.queue.counts(), wait.deadLetter.counts()]);
  const queued = counts.visible + counts.delayed;
  const deadCount = dead.visible + dead.inFlight + dead.delayed;
  const summary = wait.tracker.counts();
  const signature = [
    summary.inputs,
    summary.succeeded,
    summary.failed,
    summary.running,
    queued,
    counts.inFlight,
    deadCount,
  ].join();
  return { summary, queued, inFlight: counts.inFlight, deadCount, signature };
}

/** Moves the dead-letter messages back (`retryFailed`); their tasks count as unfinished again. */
async function retryDeadLetters(wait: Wait): Promise<number> {
  const moved = await moveDeadLetters(wait.run, wait.deadLetter, wait.queue);
  for (const task of moved.tasks) wait.tracker.retrying(task);
  wait.logger.info(`run ${wait.run.runId}: moved ${moved.tasks.length} failed tasks back to the task queue`);
  return moved.tasks.length;
}

async function isInputComplete(
  until: InputCompletion,
  run: RunState,
  store: ObjectStore,
  inputs: number,
  queueEmpty: boolean,
  quietMs: number,
  idleMs: number,
): Promise<boolean> {
  switch (until.until) {
    case 'count':
      return inputs >= until.expected;
    case 'marker':
      return (await store.head({ bucket: run.input.bucket, key: endMarkerKey(run.runId) })) !== undefined;
    case 'idle':
      return queueEmpty && quietMs >= idleMs;
  }
}

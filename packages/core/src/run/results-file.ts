// results.json: one line per input, streamed through a temporary file so a run of millions of
// inputs never holds them all in memory, then uploaded to the output bucket.
import { createWriteStream } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { once } from 'node:events';

import { resultsKey } from '../ids/ledger-keys.js';
import { completedRecord, type TaskOutput } from '../schemas/records.js';
import type { RunState } from '../schemas/run-state.js';
import type { ObjectStore } from '../storage/object-store.js';
import { MAX_REPORTED_FAILURES, type TaskResult } from './collect-report.js';
import { readCompletionMarker } from './completion-marker.js';
import { READS_IN_FLIGHT, type Tracked, type Tracker } from './collect-tracker.js';
import { mapBounded } from './concurrency.js';
import { isoTime } from './lifecycle-deps.js';
import type { RunReportBuilder } from './run-report.js';

const SLOWEST = 10;
/** Entries made (their records read) and written at a time. */
const RESULTS_WINDOW = 256;

/**
 * Streams results.json through a temporary file (one line per input) and uploads it; `report` sees
 * every entry on the way (report.html's aggregates). Memory stays bounded whatever the number of
 * inputs: entries are made and written {@link RESULTS_WINDOW} at a time, and only the first failures
 * and the slowest tasks are kept.
 */
export async function writeResults(
  run: RunState,
  tracker: Tracker,
  store: ObjectStore,
  now: () => number,
  report?: RunReportBuilder,
): Promise<{ uri: string; key: string; failures: TaskResult[]; slowest: TaskResult[] }> {
  const directory = await mkdtemp(join(tmpdir(), 'sluice-results-'));
  const file = join(directory, 'results.json');
  const failures: TaskResult[] = [];
  let slowest: TaskResult[] = [];
  const key = resultsKey(run.runId);
  try {
    const out = createWriteStream(file, { encoding: 'utf8' });
    const write = async (text: string): Promise<void> => {
      if (!out.write(text)) await once(out, 'drain');
    };
    const counts = tracker.counts();
    await write(
      `{"schemaVersion":1,"runId":${JSON.stringify(run.runId)},"generatedAt":"${isoTime(now())}",` +
        `"input":${JSON.stringify({ bucket: run.input.bucket, prefix: run.input.prefix })},` +
        `"output":${JSON.stringify(run.output)},"counts":${JSON.stringify(counts)},"tasks":[`,
    );
    let first = true;
    for (const window of windows(tracker.tasks, RESULTS_WINDOW)) {
      const results = await mapBounded(window, READS_IN_FLIGHT, ([id, tracked]) =>
        resultOf(run, id, tracked, tracker, store),
      );
      for (const result of results) {
        await write(`${first ? '\n' : ',\n'}${JSON.stringify(result)}`);
        first = false;
        report?.add(result);
        if (result.status === 'failed' && failures.length < MAX_REPORTED_FAILURES) failures.push(result);
        if (result.wallMs !== undefined) {
          slowest.push(result);
          if (slowest.length > SLOWEST * 4) slowest = topSlowest(slowest);
        }
      }
    }
    await write('\n]}\n');
    out.end();
    await once(out, 'finish');
    await store.upload({ bucket: run.output.bucket, key }, file, { contentType: 'application/json' });
  } finally {
    await rm(directory, { recursive: true, force: true });
  }
  return { uri: `s3://${run.output.bucket}/${key}`, key, failures, slowest: topSlowest(slowest) };
}

/** The map's entries, `size` at a time, without copying the map. */
function* windows<K, V>(map: ReadonlyMap<K, V>, size: number): Iterable<[K, V][]> {
  let window: [K, V][] = [];
  for (const entry of map) {
    window.push(entry);
    if (window.length >= size) {
      yield window;
      window = [];
    }
  }
  if (window.length > 0) yield window;
}

function topSlowest(results: TaskResult[]): TaskResult[] {
  return [...results].sort((a, b) => (b.wallMs ?? 0) - (a.wallMs ?? 0)).slice(0, SLOWEST);
}

async function resultOf(
  run: RunState,
  id: string,
  tracked: Tracked,
  tracker: Tracker,
  store: ObjectStore,
): Promise<TaskResult> {
  const base = { key: tracked.key, taskId: id, etag: tracked.etag, size: tracked.size };
  // A succeeded task's marker is its final word (attempts and outputs): one read. The record is
  // read too only for a marker written before markers carried the attempts.
  const marker = tracked.status === 'succeeded' ? await readCompletionMarker(store, run, id) : undefined;
  const record =
    tracked.status === 'pending'
      ? undefined
      : marker?.attempts !== undefined
        ? completedRecord(undefined, marker)
        : completedRecord(await tracker.record(id), marker);
  const outputs: readonly TaskOutput[] = record?.outputs ?? [];
  if (record === undefined) return { ...base, status: tracked.status, attempts: 0, outputs, phases: {} };
  const last = record.attempts.at(-1);
  let wallMs = 0;
  let timed = false;
  for (const attempt of record.attempts) {
    if (attempt.endedAt === undefined) continue;
    wallMs += Math.max(0, Date.parse(attempt.endedAt) - Date.parse(attempt.startedAt));
    timed = true;
  }
  const startedAt = record.attempts[0]?.startedAt;
  return {
    ...base,
    status: tracked.status,
    attempts: record.attempts.length,
    outputs,
    phases: last?.phases ?? {},
    ...(timed && { wallMs }),
    ...(startedAt !== undefined && { startedAt }),
    ...(last?.endedAt !== undefined && { endedAt: last.endedAt }),
    ...(tracked.status === 'failed' &&
      last?.failureClass !== undefined && { failureClass: last.failureClass }),
    ...(tracked.status === 'failed' && last?.message !== undefined && { message: last.message }),
    ...(last?.logKey !== undefined && { logKey: last.logKey }),
    // Only a failure's: results.json lists every task, and a success's log is rarely wanted there.
    ...(tracked.status === 'failed' && last?.log !== undefined && { log: last.log }),
    ...(last?.exitCode !== undefined && { exitCode: last.exitCode }),
  };
}

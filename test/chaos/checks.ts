// What the chaos suite checks after each run, read straight from the buckets (moto, not through the
// fault proxy) with the AWS SDK: the guarantees of docs/contracts.md, per input.
// - succeeded inputs: a completion marker and a `succeeded` record; the objects under the input's
//   output folder are exactly the marker's (keys, sizes, ETags) and hold what the algorithm must
//   have written (expectedOutputs) — a missing, extra or different object is a wrong output;
// - failing inputs: a `failed` record whose last attempt has the input's true class, no marker, no
//   object under its folder, and at most the attempts the job allows;
// - an input with no final record is lost; two attempts of one task running at the same time, a
//   second record or marker, or a results.json entry given twice is a duplicate;
// - nothing under `staging/` or `claims/`; results.json's counts match the inputs.
import { GetObjectCommand, ListObjectsV2Command, type S3Client } from '@aws-sdk/client-s3';
import { taskId } from '@sluice/core';

import { EXPECTED_FAILURE, expectedOutputs, type ChaosInput } from './chaos-algorithm.js';

/** One property that failed, for the report and the findings file. */
export interface Violation {
  readonly input: string;
  readonly property:
    | 'lost'
    | 'duplicate'
    | 'wrong-output'
    | 'failure-class'
    | 'attempts'
    | 'leftover'
    | 'results'
    | 'stale-record'
    | 'false-record';
  readonly detail: string;
}

/** The outcome of the checks of one run. */
export interface RunCheck {
  readonly inputs: number;
  readonly succeeded: number;
  readonly failed: number;
  readonly lost: number;
  readonly duplicates: number;
  readonly wrongOutputs: number;
  readonly violations: readonly Violation[];
  /** Attempts per input beyond the first, summed (what the faults cost). */
  readonly extraAttempts: number;
}

interface ListedObject {
  readonly key: string;
  readonly size: number;
  readonly etag: string;
}

interface Attempt {
  readonly attempt: number;
  readonly workerId?: string;
  readonly startedAt: string;
  readonly endedAt?: string;
  readonly failureClass?: string;
  readonly exitCode?: number;
  readonly message?: string;
}

interface TaskRecord {
  readonly taskId: string;
  readonly input: { readonly key: string };
  readonly status: string;
  readonly attempts: readonly Attempt[];
}

interface Marker {
  readonly taskId: string;
  readonly outputs: readonly { readonly key: string; readonly size: number; readonly etag: string }[];
  /** Every attempt, the committing one last: the task's final word, after which the record is not rewritten (newer markers). */
  readonly attempts?: readonly Attempt[];
}

interface ResultsJson {
  readonly counts: Record<string, number>;
  readonly tasks: readonly { readonly key: string; readonly status: string }[];
}

const unquote = (etag: string): string => etag.replaceAll('"', '').toLowerCase();

/** Every object under `prefix`. */
export async function listAll(s3: S3Client, bucket: string, prefix: string): Promise<ListedObject[]> {
  const objects: ListedObject[] = [];
  let token: string | undefined;
  do {
    const page = await s3.send(
      new ListObjectsV2Command({
        Bucket: bucket,
        Prefix: prefix,
        ...(token !== undefined && { ContinuationToken: token }),
      }),
    );
    for (const o of page.Contents ?? []) {
      objects.push({ key: o.Key ?? '', size: o.Size ?? 0, etag: unquote(o.ETag ?? '') });
    }
    token = page.NextContinuationToken;
  } while (token !== undefined);
  return objects;
}

async function getText(s3: S3Client, bucket: string, key: string): Promise<string | undefined> {
  try {
    const got = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
    return await got.Body?.transformToString();
  } catch (error: unknown) {
    if ((error as { name?: string }).name === 'NoSuchKey') return undefined;
    throw error;
  }
}

async function mapLimit<T, R>(items: readonly T[], limit: number, fn: (item: T) => Promise<R>): Promise<R[]> {
  const results: R[] = new Array<R>(items.length);
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(limit, items.length) }, async () => {
      while (next < items.length) {
        const i = next;
        next += 1;
        results[i] = await fn(items[i] as T);
      }
    }),
  );
  return results;
}

/** The run's layout, as the checks need it. */
export interface CheckedRun {
  readonly runId: string;
  readonly inputBucket: string;
  readonly inputPrefix: string;
  readonly outputBucket: string;
  readonly outputPrefix: string;
  /** The job's retries + 1. */
  readonly maxAttempts: number;
  readonly inputs: readonly ChaosInput[];
}

/** Checks one finished run; never throws for a violated property (it is returned). */
export async function checkRun(s3: S3Client, run: CheckedRun): Promise<RunCheck> {
  const violations: Violation[] = [];
  const ledger = `_sluice/${run.runId}/`;
  const [inputObjects, ledgerObjects, outputObjects] = await Promise.all([
    listAll(s3, run.inputBucket, run.inputPrefix),
    listAll(s3, run.outputBucket, ledger),
    listAll(s3, run.outputBucket, run.outputPrefix),
  ]);
  const etagOf = new Map(inputObjects.map((o) => [o.key, o.etag]));

  for (const o of ledgerObjects) {
    if (/\/(staging|claims)\//.test(o.key)) {
      violations.push({ input: '-', property: 'leftover', detail: `${o.key} is left in the ledger` });
    }
  }
  const recordKeys = new Set(
    ledgerObjects.filter((o) => o.key.startsWith(`${ledger}tasks/`)).map((o) => o.key),
  );
  const markerKeys = new Set(
    ledgerObjects.filter((o) => o.key.startsWith(`${ledger}done/`)).map((o) => o.key),
  );
  const outputsUnder = new Map<string, ListedObject[]>();
  for (const o of outputObjects) {
    const folder = o.key.slice(run.outputPrefix.length).split('/')[0] ?? '';
    outputsUnder.set(folder, [...(outputsUnder.get(folder) ?? []), o]);
  }

  let succeeded = 0;
  let failed = 0;
  let lost = 0;
  let duplicates = 0;
  let wrongOutputs = 0;
  let extraAttempts = 0;
  const known = new Set<string>();

  await mapLimit(run.inputs, 8, async (input) => {
    const key = `${run.inputPrefix}${input.name}`;
    known.add(input.name);
    const etag = etagOf.get(key);
    if (etag === undefined) {
      violations.push({ input: key, property: 'lost', detail: 'the input is not in the bucket' });
      lost += 1;
      return;
    }
    const id = taskId({ bucket: run.inputBucket, key, etag });
    const recordText = recordKeys.has(`${ledger}tasks/${id}.json`)
      ? await getText(s3, run.outputBucket, `${ledger}tasks/${id}.json`)
      : undefined;
    const written = recordText === undefined ? undefined : (JSON.parse(recordText) as TaskRecord);
    const markerText = markerKeys.has(`${ledger}done/${id}.json`)
      ? await getText(s3, run.outputBucket, `${ledger}done/${id}.json`)
      : undefined;
    const marker = markerText === undefined ? undefined : (JSON.parse(markerText) as Marker);
    // A marker that carries the attempts is the final record of a done task (its record is not
    // rewritten after it); an older marker leaves that to the record.
    const record: TaskRecord | undefined =
      marker?.attempts !== undefined
        ? { taskId: id, input: { key }, status: 'succeeded', attempts: marker.attempts }
        : written;
    const present = outputsUnder.get(input.name) ?? [];
    const expected = expectedOutputs(input);

    if (
      record !== undefined &&
      record.status === 'running' &&
      marker !== undefined &&
      expected !== undefined
    ) {
      // Done by its marker (collect counts it succeeded), but the record was never finished.
      violations.push({
        input: key,
        property: 'stale-record',
        detail: `the marker exists but the record still says running: ${describeAttempts(record)}`,
      });
    } else if (record === undefined || (record.status !== 'succeeded' && record.status !== 'failed')) {
      lost += 1;
      violations.push({
        input: key,
        property: 'lost',
        detail: `no final record (${record === undefined ? 'none' : `status ${record.status}, ${record.attempts.length} attempt(s): ${describeAttempts(record)}`}); marker ${marker === undefined ? 'absent' : 'present'}`,
      });
      return;
    }
    extraAttempts += Math.max(0, record.attempts.length - 1);
    // Two attempts of one task at the same time: a duplicate delivery ran it twice.
    const ended = [...record.attempts].sort((a, b) => Date.parse(a.startedAt) - Date.parse(b.startedAt));
    for (let i = 1; i < ended.length; i += 1) {
      const before = ended[i - 1];
      const current = ended[i];
      if (
        before?.endedAt !== undefined &&
        current !== undefined &&
        Date.parse(current.startedAt) < Date.parse(before.endedAt)
      ) {
        duplicates += 1;
        violations.push({
          input: key,
          property: 'duplicate',
          detail: `attempt ${current.attempt} (${current.workerId ?? '?'}) started before attempt ${before.attempt} (${before.workerId ?? '?'}) ended: ${describeAttempts(record)}`,
        });
      }
    }
    const successes = record.attempts.filter((a) => a.endedAt !== undefined && a.failureClass === undefined);
    for (const a of record.attempts) {
      if (a.message?.includes('another attempt committed this task first') !== true) continue;
      if (successes.length > 1) {
        duplicates += 1;
        violations.push({
          input: key,
          property: 'duplicate',
          detail: `attempt ${a.attempt} ran beside the one that committed: ${describeAttempts(record)}`,
        });
      } else {
        violations.push({
          input: key,
          property: 'false-record',
          detail: `attempt ${a.attempt} says another attempt committed first, but it is the only one that ran to the end (its own marker write's answer was lost?): ${describeAttempts(record)}`,
        });
      }
    }
    const counted = record.attempts.filter((a) => a.message?.startsWith('released:') !== true).length;
    if (counted > run.maxAttempts) {
      violations.push({
        input: key,
        property: 'attempts',
        detail: `${counted} attempts, ${run.maxAttempts} allowed: ${describeAttempts(record)}`,
      });
    }

    if (expected === undefined) {
      const want = EXPECTED_FAILURE[input.kind];
      const last = record.attempts.at(-1);
      if (record.status !== 'failed' || last?.failureClass !== want) {
        violations.push({
          input: key,
          property: 'failure-class',
          detail: `expected failed with ${want ?? '?'}, found ${record.status}: ${describeAttempts(record)}`,
        });
      } else {
        failed += 1;
      }
      if (marker !== undefined) {
        violations.push({
          input: key,
          property: 'wrong-output',
          detail: 'a failing input has a completion marker',
        });
        wrongOutputs += 1;
      }
      if (present.length > 0) {
        wrongOutputs += present.length;
        violations.push({
          input: key,
          property: 'wrong-output',
          detail: `a failing input has ${present.length} object(s) under its folder: ${present
            .slice(0, 5)
            .map((o) => o.key)
            .join(', ')}`,
        });
      }
      return;
    }

    if (marker === undefined || record.status === 'failed') {
      lost += 1;
      violations.push({
        input: key,
        property: record.status === 'failed' ? 'failure-class' : 'lost',
        detail: `expected succeeded with a marker, found ${record.status}, marker ${marker === undefined ? 'absent' : 'present'}: ${describeAttempts(record)}`,
      });
      if (marker === undefined) return;
    } else {
      succeeded += 1;
    }
    // Exactly one attempt's outputs, as the marker names them, with the expected content.
    const named = new Map(marker.outputs.map((o) => [o.key, o]));
    const folder = `${run.outputPrefix}${input.name}/`;
    const wrong: string[] = [];
    for (const o of present) {
      const want = named.get(o.key);
      if (want === undefined) wrong.push(`${o.key} is not in the marker`);
      else if (want.size !== o.size || unquote(want.etag) !== o.etag)
        wrong.push(`${o.key} differs from the marker`);
    }
    const presentKeys = new Set(present.map((o) => o.key));
    for (const k of named.keys()) if (!presentKeys.has(k)) wrong.push(`${k} named by the marker is missing`);
    for (const relative of expected.keys()) {
      if (!named.has(`${folder}${relative}`)) wrong.push(`${folder}${relative} expected, not in the marker`);
    }
    for (const k of named.keys()) {
      if (!expected.has(k.slice(folder.length))) {
        const text = await getText(s3, run.outputBucket, k).catch(() => undefined);
        wrong.push(
          `${k} was not written by the algorithm for this input (it holds ${JSON.stringify(text?.slice(0, 80))})`,
        );
      }
    }
    const toRead = present.filter((o) => expected.has(o.key.slice(folder.length)));
    const contents = await mapLimit(
      toRead,
      8,
      async (o) => [o.key, await getText(s3, run.outputBucket, o.key)] as const,
    );
    for (const [k, text] of contents) {
      if (text !== expected.get(k.slice(folder.length)))
        wrong.push(`${k} holds other content (${JSON.stringify(text?.slice(0, 60))})`);
    }
    if (wrong.length > 0) {
      wrongOutputs += wrong.length;
      violations.push({
        input: key,
        property: 'wrong-output',
        detail: `${wrong.length} wrong: ${wrong.slice(0, 6).join('; ')}; attempts: ${describeAttempts(record)}`,
      });
    }
  });

  // Objects under folders no input owns.
  for (const [folder, objects] of outputsUnder) {
    if (!known.has(folder)) {
      wrongOutputs += objects.length;
      violations.push({
        input: folder,
        property: 'wrong-output',
        detail: `${objects.length} object(s) under a folder of no input`,
      });
    }
  }

  const resultsText = await getText(s3, run.outputBucket, `${ledger}results.json`);
  if (resultsText === undefined) {
    violations.push({ input: '-', property: 'results', detail: 'results.json is missing' });
  } else {
    const results = JSON.parse(resultsText) as ResultsJson;
    const keys = results.tasks.map((t) => t.key);
    const twice = keys.length - new Set(keys).size;
    if (twice > 0) {
      duplicates += twice;
      violations.push({
        input: '-',
        property: 'duplicate',
        detail: `results.json lists ${twice} input(s) twice`,
      });
    }
    const wantSucceeded = run.inputs.filter((i) => expectedOutputs(i) !== undefined).length;
    const wantFailed = run.inputs.length - wantSucceeded;
    const counts = results.counts;
    if (
      keys.length !== run.inputs.length ||
      counts.succeeded !== wantSucceeded ||
      counts.failed !== wantFailed
    ) {
      violations.push({
        input: '-',
        property: 'results',
        detail: `results.json: ${keys.length} tasks, counts ${JSON.stringify(counts)}; expected ${run.inputs.length} tasks, ${wantSucceeded} succeeded, ${wantFailed} failed`,
      });
    }
  }
  return {
    inputs: run.inputs.length,
    succeeded,
    failed,
    lost,
    duplicates,
    wrongOutputs,
    violations,
    extraAttempts,
  };
}

/** A record's attempts in one line: `#1 worker-1 algorithm-exit(7) …`. */
export function describeAttempts(record: TaskRecord): string {
  return record.attempts
    .map(
      (a) =>
        `#${a.attempt} ${a.workerId ?? '?'} ${a.startedAt.slice(11, 23)}–${a.endedAt?.slice(11, 23) ?? '…'} ${a.failureClass ?? (a.endedAt === undefined ? 'open' : 'ok')}${a.exitCode === undefined ? '' : `(${a.exitCode})`}${a.message === undefined ? '' : ` "${a.message.slice(0, 120)}"`}`,
    )
    .join(' | ');
}

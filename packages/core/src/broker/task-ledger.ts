/**
 * The run's ledger in the output bucket, as the task control writes it (in the runner in direct mode,
 * in the broker in sealed mode): completion markers, task records
 * (read-modify-write conditional on what was read, every attempt kept), commit claims and rejected
 * messages. Every call retries transient AWS faults. What it writes is masked with the secret values
 * the runner's log holds: task records and rejected messages never carry them.
 */
import { withRetries } from '../aws/retry.js';
import { safeFileName } from '../execution/safe-name.js';
import { completionMarkerKey, ledgerPrefix, taskRecordKey } from '../ids/ledger-keys.js';
import type { JsonLog } from '../logging/json-log.js';
import {
  validateCompletionMarker,
  validateTaskRecord,
  type CompletionMarker,
  type TaskAttempt,
  type TaskHolder,
  type TaskOutput,
  type TaskRecord,
  type TaskStatus,
} from '../schemas/records.js';
import type { ObjectStore } from '../storage/object-store.js';
import { ObjectNotFoundError, PreconditionFailedError } from '../storage/errors.js';
import { updateJson, type JsonSnapshot } from '../storage/update-json.js';
import { toError } from '../errors.js';
import type { TaskRef } from './message-decision.js';

/** What the record said when a lease asked for the task (see {@link TaskLedger.leaseRecord}). */
export type RecordLease =
  /** Leased: the record now holds this attempt; `earlier` when attempts before it are recorded. */
  | { readonly kind: 'leased'; readonly earlier: boolean }
  | { readonly kind: 'succeeded' }
  | { readonly kind: 'failed' }
  /** Another message holds the task: this one is a duplicate. */
  | { readonly kind: 'held'; readonly by: TaskHolder }
  /** No attempts left (the last one's worker was lost): nothing written, the caller ends the task. */
  | { readonly kind: 'exhausted' };

/** How a record's writer treats its holder: set it, clear it (the task ended or was handed back), keep it. */
type HolderChange = TaskHolder | 'clear' | 'keep';

/** Largest message body kept in a rejected-message object. */
const REJECTED_BODY_LIMIT = 256 * 1024;

export class TaskLedger {
  private readonly bucket: string;

  constructor(
    private readonly store: ObjectStore,
    private readonly runId: string,
    outputBucket: string,
    private readonly algorithmDigest: string,
    private readonly log: JsonLog,
  ) {
    this.bucket = outputBucket;
  }

  /** The completion marker, when the task is done. */
  async marker(taskId: string): Promise<CompletionMarker | undefined> {
    const key = completionMarkerKey(this.runId, taskId);
    const found = await withRetries(() => this.store.getJson({ bucket: this.bucket, key }));
    return found === undefined
      ? undefined
      : validateCompletionMarker(found.value, `s3://${this.bucket}/${key}`);
  }

  /**
   * True when the task's record says it failed for good. A duplicate message for such a task (a
   * second dispatch, a repeated S3 event) is dropped; only a re-drive (`retryFrom`) runs it again.
   */
  async failedForGood(taskId: string): Promise<boolean> {
    return (await this.record(taskId))?.status === 'failed';
  }

  /** The task's record as stored; undefined when there is none or it is unreadable (logged). */
  async record(taskId: string): Promise<TaskRecord | undefined> {
    const key = taskRecordKey(this.runId, taskId);
    const found = await withRetries(() => this.store.getJson({ bucket: this.bucket, key }));
    return this.readable(found, key, taskId);
  }

  /**
   * Creates the task's record with its first lease's attempt (`running`), only if there is none
   * (`If-None-Match: *`): the ETag written, or undefined when a record exists — the task was leased
   * before (a retry, a duplicate message, a re-dispatch), and the caller reads what it says. How a
   * fresh task's lease costs one request instead of reading the marker and the record first: a
   * marker is only ever written after its task's record.
   */
  async createRecord(
    task: TaskRef,
    taskId: string,
    attempt: TaskAttempt,
    holder: TaskHolder,
  ): Promise<string | undefined> {
    const ref = { bucket: this.bucket, key: taskRecordKey(this.runId, taskId) };
    const record = this.withAttempt(undefined, task, taskId, this.masked(attempt), 'running', [], holder);
    const put = await withRetries(() =>
      this.store.putIfAbsent(ref, JSON.stringify(record), { contentType: 'application/json' }),
    );
    return put?.etag;
  }

  /**
   * Leases a task whose record may exist: reads it and, unless it says the task succeeded, failed
   * for good (and this is no re-drive), is held by another message (and this is no re-drive) or has
   * no attempts left, puts this attempt in as the holder — conditionally on what was read, again on a
   * lost race. A re-drive (`redrive`) takes the task whatever an earlier round said.
   */
  async leaseRecord(
    task: TaskRef,
    taskId: string,
    attempt: TaskAttempt,
    holder: TaskHolder,
    options: { readonly redrive: boolean; readonly exhausted: boolean },
  ): Promise<RecordLease> {
    const ref = { bucket: this.bucket, key: taskRecordKey(this.runId, taskId) };
    const entry = this.masked(attempt);
    let decision: RecordLease = { kind: 'leased', earlier: false };
    await withRetries(() =>
      updateJson(this.store, ref, (existing) => {
        const previous = this.readable(existing, ref.key, taskId);
        const by = previous?.heldBy;
        if (previous?.status === 'succeeded') decision = { kind: 'succeeded' };
        else if (previous?.status === 'failed' && !options.redrive) decision = { kind: 'failed' };
        else if (by !== undefined && by.message !== holder.message && !options.redrive)
          decision = { kind: 'held', by };
        else if (options.exhausted) decision = { kind: 'exhausted' };
        else {
          const earlier = (previous?.attempts ?? []).some((a) => a.attempt !== entry.attempt);
          decision = { kind: 'leased', earlier };
          return this.withAttempt(previous, task, taskId, entry, 'running', undefined, holder);
        }
        return undefined;
      }),
    );
    return decision;
  }

  /**
   * Records an attempt: reads the task record, puts this attempt in (replacing this worker's entry
   * with the same number: a released attempt is re-run under its number; a duplicate delivery run
   * by another worker at the same time keeps its own entry), sets the status and writes it back —
   * only if nobody wrote it in between, else it does all that again on their version.
   * When a marker is known the task is `succeeded` with the marker's outputs, whoever writes last.
   */
  async recordAttempt(
    task: TaskRef,
    taskId: string,
    attempt: TaskAttempt,
    status: TaskStatus,
    options: {
      readonly outputs?: readonly TaskOutput[];
      /** The record this attempt's lease created (only this attempt in it), to rewrite without reading. */
      readonly created?: { readonly etag: string };
      /** The holder after this write: cleared when the task ends or is handed back, else set (or kept). */
      readonly holder: HolderChange;
    },
  ): Promise<TaskRecord> {
    const { outputs, created, holder } = options;
    const ref = { bucket: this.bucket, key: taskRecordKey(this.runId, taskId) };
    const entry = this.masked(attempt);
    if (created !== undefined) {
      // The record as this lease created it holds only this attempt (same number, same worker), so
      // the new one is known without reading it; anyone's write since makes the put fail, and then
      // the read-modify-write below keeps their change.
      const record = this.withAttempt(undefined, task, taskId, entry, status, outputs, holder);
      try {
        await withRetries(() => this.store.putJson(ref, record, { ifMatch: created.etag }));
        return record;
      } catch (thrown) {
        if (!(thrown instanceof PreconditionFailedError || thrown instanceof ObjectNotFoundError))
          throw thrown;
      }
    }
    const updated = await withRetries(() =>
      updateJson(this.store, ref, (existing) =>
        this.withAttempt(
          this.readable(existing, ref.key, taskId),
          task,
          taskId,
          entry,
          status,
          outputs,
          holder,
        ),
      ),
    );
    // `withAttempt` always gives a record, so updateJson always writes.
    if (updated === undefined) throw new Error(`task record ${ref.key} was not written`);
    return updated.value;
  }

  /**
   * Every attempt's message is masked here, on its way into the record, whatever it came from: the
   * algorithm's answer, a thrown error, the runner's own words. The other fields are the runner's
   * own numbers, times and ids.
   */
  private masked(attempt: TaskAttempt): TaskAttempt {
    const { message, log } = attempt;
    return {
      ...attempt,
      ...(message !== undefined && { message: this.log.mask(message) }),
      // The worker masked its log already; masked again here, a worker that missed one is covered.
      ...(log !== undefined && { log: this.log.mask(log) }),
    };
  }

  /** The record as read, or undefined (with a warning) when it does not pass its schema. */
  private readable(existing: JsonSnapshot, key: string, taskId: string): TaskRecord | undefined {
    if (existing === undefined) return undefined;
    try {
      return validateTaskRecord(existing.value, `s3://${this.bucket}/${key}`);
    } catch (thrown) {
      this.log.warning('task-record-unreadable', { taskId, message: toError(thrown).message });
      return undefined;
    }
  }

  private withAttempt(
    previous: TaskRecord | undefined,
    task: TaskRef,
    taskId: string,
    attempt: TaskAttempt,
    status: TaskStatus,
    outputs: readonly TaskOutput[] | undefined,
    holder: HolderChange,
  ): TaskRecord {
    const heldBy = holder === 'keep' ? previous?.heldBy : holder === 'clear' ? undefined : holder;
    const attempts = (previous?.attempts ?? []).filter(
      (a) => !(a.attempt === attempt.attempt && a.workerId === attempt.workerId),
    );
    attempts.push(attempt);
    attempts.sort((a, b) => a.attempt - b.attempt || a.startedAt.localeCompare(b.startedAt));
    return {
      schemaVersion: 1,
      runId: this.runId,
      taskId,
      input: {
        bucket: task.bucket,
        key: task.key,
        etag: task.etag,
        ...(task.versionId !== undefined && { versionId: task.versionId }),
        size: task.size,
      },
      // A task once succeeded stays succeeded: a late duplicate's attempt does not undo it.
      status: previous?.status === 'succeeded' ? 'succeeded' : status,
      algorithmDigest: this.algorithmDigest,
      attempts,
      outputs: [...(outputs ?? previous?.outputs ?? [])],
      ...(heldBy !== undefined && { heldBy }),
      updatedAt: new Date().toISOString(),
    };
  }

  /** Writes the completion marker; false when another commit wrote it first. */
  async writeMarker(marker: CompletionMarker): Promise<boolean> {
    const key = completionMarkerKey(this.runId, marker.taskId);
    const masked =
      marker.attempts === undefined
        ? marker
        : { ...marker, attempts: marker.attempts.map((attempt) => this.masked(attempt)) };
    const put = await withRetries(() =>
      this.store.putIfAbsent({ bucket: this.bucket, key }, JSON.stringify(masked), {
        contentType: 'application/json',
      }),
    );
    return put !== undefined;
  }

  /**
   * Sets a malformed message aside: `_sluice/<run-id>/rejected/<message-id>.json` with the reason,
   * secret values masked.
   */
  async reject(messageId: string, reason: string, body: string, receivedAt: Date): Promise<string> {
    const key = `${ledgerPrefix(this.runId)}rejected/${safeFileName(messageId)}.json`;
    const truncated = body.length > REJECTED_BODY_LIMIT;
    await withRetries(() =>
      this.store.putJson(
        { bucket: this.bucket, key },
        this.log.mask({
          messageId,
          reason,
          receivedAt: receivedAt.toISOString(),
          body: truncated ? body.slice(0, REJECTED_BODY_LIMIT) : body,
          ...(truncated && { bodyTruncated: true }),
        }),
      ),
    );
    return key;
  }
}

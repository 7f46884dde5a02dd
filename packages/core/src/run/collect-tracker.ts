// What collect knows of every input of a run: listed from the input prefix, marked by the completion
// markers, and read from the task records that changed since the last poll.
import { toError } from '../errors.js';
import { ledgerPrefix, taskRecordKey } from '../ids/ledger-keys.js';
import { taskId } from '../ids/task-id.js';
import type { Logger } from '../logging/logger.js';
import { validateTaskRecord, type TaskRecord } from '../schemas/records.js';
import type { RunState } from '../schemas/run-state.js';
import type { ObjectStore } from '../storage/object-store.js';
import type { JsonSnapshot } from '../storage/update-json.js';
import type { ResultCounts, ResultStatus } from './collect-report.js';
import { BoundedPool } from './concurrency.js';
import { inputFilter } from '../ids/input-selection.js';

/** Reads (records, dead-letter messages) collect keeps in flight at once. */
export const READS_IN_FLIGHT = 16;

/** One input as collect tracks it. */
export interface Tracked {
  readonly key: string;
  readonly etag: string;
  readonly size: number;
  status: ResultStatus;
  /** ETag of the record last read, so an unchanged record is not read again. */
  recordEtag?: string;
}

/** Every input of the run, with what its ledger says; one small entry per input. */
export class Tracker {
  readonly tasks = new Map<string, Tracked>();
  private readonly isInput;

  constructor(
    private readonly run: RunState,
    private readonly store: ObjectStore,
    private readonly logger: Logger,
  ) {
    this.isInput = inputFilter(run);
  }

  /** Lists the inputs, the completion markers and the records; reads records that changed. */
  async scan(): Promise<void> {
    const { run, store } = this;
    for await (const page of store.list(run.input.bucket, run.input.prefix)) {
      for (const object of page) {
        if (!this.isInput(run.input.bucket, object.key).input) continue;
        const id = taskId({ bucket: run.input.bucket, key: object.key, etag: object.etag });
        if (!this.tasks.has(id)) {
          this.tasks.set(id, { key: object.key, etag: object.etag, size: object.size, status: 'pending' });
        }
      }
    }
    const ledger = ledgerPrefix(run.runId);
    for await (const page of store.list(run.output.bucket, `${ledger}done/`)) {
      for (const object of page) {
        const tracked = this.tasks.get(idOf(object.key));
        if (tracked !== undefined) tracked.status = 'succeeded';
      }
    }
    const changed: { id: string; tracked: Tracked; etag: string }[] = [];
    for await (const page of store.list(run.output.bucket, `${ledger}tasks/`)) {
      for (const object of page) {
        const id = idOf(object.key);
        const tracked = this.tasks.get(id);
        if (tracked === undefined || tracked.status === 'succeeded' || tracked.recordEtag === object.etag)
          continue;
        changed.push({ id, tracked, etag: object.etag });
      }
    }
    const pool = new BoundedPool(READS_IN_FLIGHT);
    for (const { id, tracked, etag } of changed) {
      await pool.run(async () => {
        const record = await this.record(id);
        tracked.recordEtag = etag;
        if (record === undefined) return;
        tracked.status = record.status === 'running' ? 'running' : record.status;
      });
    }
    await pool.drain();
  }

  /** Reads and checks a task record; `undefined` when missing or unreadable (logged). */
  async record(id: string): Promise<TaskRecord | undefined> {
    const key = taskRecordKey(this.run.runId, id);
    let found: JsonSnapshot;
    try {
      found = await this.store.getJson({ bucket: this.run.output.bucket, key });
    } catch (thrown: unknown) {
      this.logger.warning(`ignoring task record ${key}: ${toError(thrown).message}`);
      return undefined;
    }
    return this.checked(found, key);
  }

  /** A task record as read, checked; `undefined` when missing or not a record (logged). */
  checked(found: JsonSnapshot, key: string): TaskRecord | undefined {
    if (found === undefined) return undefined;
    try {
      return validateTaskRecord(found.value, `s3://${this.run.output.bucket}/${key}`);
    } catch (thrown: unknown) {
      this.logger.warning(`ignoring task record ${key}: ${toError(thrown).message}`);
      return undefined;
    }
  }

  /** A re-driven task is unfinished until its record changes or its marker appears. */
  retrying(id: string): void {
    const tracked = this.tasks.get(id);
    if (tracked !== undefined && tracked.status === 'failed') tracked.status = 'running';
  }

  counts(): ResultCounts {
    let succeeded = 0;
    let failed = 0;
    let running = 0;
    let pending = 0;
    for (const tracked of this.tasks.values()) {
      if (tracked.status === 'succeeded') succeeded += 1;
      else if (tracked.status === 'failed') failed += 1;
      else if (tracked.status === 'running') running += 1;
      else pending += 1;
    }
    return { inputs: this.tasks.size, succeeded, failed, running, pending };
  }
}

function idOf(key: string): string {
  return key.slice(key.lastIndexOf('/') + 1).replace(/\.json$/, '');
}

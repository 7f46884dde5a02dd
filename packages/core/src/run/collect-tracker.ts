// What collect knows of every input of a run: listed from the input prefix, marked by the completion
// markers, and read from the task records that changed since the last poll.
import { toError } from '../errors.js';
import { completionMarkerKey, ledgerPrefix, taskRecordKey } from '../ids/ledger-keys.js';
import { taskId } from '../ids/task-id.js';
import type { Logger } from '../logging/logger.js';
import { validateTaskRecord, type TaskRecord } from '../schemas/records.js';
import type { RunState } from '../schemas/run-state.js';
import type { ObjectStore, ObjectSummary } from '../storage/object-store.js';
import type { JsonSnapshot } from '../storage/update-json.js';
import type { ResultCounts, ResultStatus } from './collect-report.js';
import { mapBounded } from './concurrency.js';
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

/**
 * Pages of `tasks/` a poll lists at most (10,000 records), with the `done/` markers of the same task
 * ids (no more pages: a task has its record before its marker). A run of up to that many tasks is
 * listed whole on every poll; a larger one in a window that goes on where the last poll stopped
 * (S3's `StartAfter`) and starts again from the beginning after the end, so a poll's cost stays the
 * same as the run grows, and every key is seen within one pass.
 */
export const LEDGER_PAGES_PER_POLL = 10;

/**
 * Every input of the run, with what its ledger says; one small entry per input. A poll costs a
 * bounded number of requests however large the run: the input prefix is listed until the input is
 * complete (and once more), the ledger in windows of {@link LEDGER_PAGES_PER_POLL} pages, only the
 * records that changed are read, and when few tasks are unfinished (reading each one's marker and
 * record costs less than a pass over the listings) those tasks are looked at one by one instead.
 */
export class Tracker {
  readonly tasks = new Map<string, Tracked>();
  private readonly isInput;
  /** `open`: list the input prefix every poll; `last`: once more; `closed`: no more. */
  private inputListing: 'open' | 'last' | 'closed' = 'open';
  /** The task id where the next poll's ledger window starts (after it); absent: from the start. */
  private cursor: string | undefined;

  constructor(
    private readonly run: RunState,
    private readonly store: ObjectStore,
    private readonly logger: Logger,
  ) {
    this.isInput = inputFilter(run);
  }

  /**
   * The input is complete: the next scan lists the input prefix once more (an object uploaded just
   * before the input was declared complete is not missed), and later scans no more.
   */
  inputsComplete(): void {
    if (this.inputListing === 'open') this.inputListing = 'last';
  }

  /** Lists the inputs (until complete) and the ledger (in windows, or task by task); reads records that changed. */
  async scan(): Promise<void> {
    if (this.inputListing !== 'closed') {
      await this.listInputs();
      if (this.inputListing === 'last') this.inputListing = 'closed';
    }
    const unfinished = this.unfinished();
    if (unfinished !== undefined) {
      await mapBounded(unfinished, READS_IN_FLIGHT, ([id, tracked]) => this.lookAt(id, tracked));
      return;
    }
    // Records first, then the markers of the same stretch of task ids (a task has its record before
    // its marker, so that is no more pages): a task whose marker is there is not read.
    const ledger = ledgerPrefix(this.run.runId);
    const from = this.cursor;
    const seen: { id: string; etag: string }[] = [];
    const end = await this.listWindow(`${ledger}tasks/`, from, LEDGER_PAGES_PER_POLL, (id, object) => {
      seen.push({ id, etag: object.etag });
      return true;
    });
    await this.listWindow(`${ledger}done/`, from, Number.POSITIVE_INFINITY, (id) => {
      if (end !== undefined && id > end) return false;
      const tracked = this.tasks.get(id);
      if (tracked !== undefined) tracked.status = 'succeeded';
      return true;
    });
    // At the end of the listing (`undefined`) the next poll starts again from the beginning.
    this.cursor = end;
    const changed = seen.flatMap(({ id, etag }) => {
      const tracked = this.tasks.get(id);
      if (tracked === undefined || tracked.status === 'succeeded' || tracked.recordEtag === etag) return [];
      return [{ id, tracked, etag }];
    });
    await mapBounded(changed, READS_IN_FLIGHT, async ({ id, tracked, etag }) => {
      const record = await this.record(id);
      tracked.recordEtag = etag;
      if (record === undefined) return;
      tracked.status = record.status;
    });
  }

  private async listInputs(): Promise<void> {
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
  }

  /**
   * The unfinished tasks when looking at each (a marker HEAD and a record GET) costs less than a
   * pass over both ledger listings (a page per 1,000 keys); otherwise `undefined`.
   */
  private unfinished(): [string, Tracked][] | undefined {
    const counts = this.counts();
    const unfinished = counts.running + counts.pending;
    const passPages = pages(counts.succeeded) + pages(counts.inputs - counts.pending);
    if (unfinished * 2 >= passPages) return undefined;
    return [...this.tasks].filter(
      ([, tracked]) => tracked.status === 'running' || tracked.status === 'pending',
    );
  }

  /** One unfinished task: succeeded when its marker exists, else what its record says (read when changed). */
  private async lookAt(id: string, tracked: Tracked): Promise<void> {
    const bucket = this.run.output.bucket;
    if ((await this.store.head({ bucket, key: completionMarkerKey(this.run.runId, id) })) !== undefined) {
      tracked.status = 'succeeded';
      return;
    }
    const key = taskRecordKey(this.run.runId, id);
    let found: JsonSnapshot;
    try {
      found = await this.store.getJson({ bucket, key });
    } catch (thrown: unknown) {
      this.logger.warning(`ignoring task record ${key}: ${toError(thrown).message}`);
      return;
    }
    if (found === undefined || found.etag === tracked.recordEtag) return;
    tracked.recordEtag = found.etag;
    const record = this.checked(found, key);
    if (record !== undefined) tracked.status = record.status;
  }

  /**
   * Lists a ledger prefix after task id `from` (from the start when absent) for up to `maxPages`
   * pages, or until `visit` returns false; the task id it stopped at, or `undefined` at the end.
   */
  private async listWindow(
    prefix: string,
    from: string | undefined,
    maxPages: number,
    visit: (id: string, object: ObjectSummary) => boolean,
  ): Promise<string | undefined> {
    let read = 0;
    let last: string | undefined;
    const options = from === undefined ? {} : { startAfter: `${prefix}${from}.json` };
    for await (const page of this.store.list(this.run.output.bucket, prefix, options)) {
      for (const object of page) {
        const id = idOf(object.key);
        if (!visit(id, object)) return id;
        last = id;
      }
      read += 1;
      if (read >= maxPages) return last;
    }
    return undefined;
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

/** Listing pages of `keys` keys (at least one: an empty listing is still a request). */
function pages(keys: number): number {
  return Math.max(1, Math.ceil(keys / 1000));
}

function idOf(key: string): string {
  return key.slice(key.lastIndexOf('/') + 1).replace(/\.json$/, '');
}

// The key scheme of the output bucket: where results go, and the reserved ledger prefix
// `_sluice/<run-id>/` that holds task records, completion markers, logs and staged outputs.
import { createHash } from 'node:crypto';

import { ConfigurationError, SluiceError } from '../errors.js';
import { isRunId } from './run-id.js';
import { isTaskId } from './task-id.js';

/** The root of sluice's own objects in the output bucket. Input listing skips keys under it. */
export const LEDGER_ROOT = '_sluice/';

/** S3's limit on key length, in UTF-8 bytes. */
export const MAX_KEY_BYTES = 1024;

function checkIds(runId: string, taskId?: string, attempt?: number): void {
  if (!isRunId(runId)) throw new SluiceError(`not a run id: ${JSON.stringify(runId)}`);
  if (taskId !== undefined && !isTaskId(taskId))
    throw new SluiceError(`not a task id: ${JSON.stringify(taskId)}`);
  if (attempt !== undefined && !(Number.isInteger(attempt) && attempt >= 1)) {
    throw new SluiceError(`not an attempt number: ${attempt}`);
  }
}

/**
 * The ledger prefix of a run: `_sluice/<run-id>/`.
 *
 * @example
 * ledgerPrefix('thumbnails-3f9a0c12'); // '_sluice/thumbnails-3f9a0c12/'
 * @throws {SluiceError} when the run id is malformed.
 */
export function ledgerPrefix(runId: string): string {
  checkIds(runId);
  return `${LEDGER_ROOT}${runId}/`;
}

/**
 * The task record's key: `_sluice/<run-id>/tasks/<task-id>.json`.
 *
 * @example
 * taskRecordKey('thumbnails-3f9a0c12', '0123456789abcdef01234567'); // '_sluice/thumbnails-3f9a0c12/tasks/0123456789abcdef01234567.json'
 * @throws {SluiceError} when an id is malformed.
 */
export function taskRecordKey(runId: string, taskId: string): string {
  checkIds(runId, taskId);
  return `${ledgerPrefix(runId)}tasks/${taskId}.json`;
}

/**
 * The completion marker's key: `_sluice/<run-id>/done/<task-id>.json`, written after the outputs.
 *
 * @example
 * completionMarkerKey('thumbnails-3f9a0c12', '0123456789abcdef01234567'); // '_sluice/thumbnails-3f9a0c12/done/0123456789abcdef01234567.json'
 * @throws {SluiceError} when an id is malformed.
 */
export function completionMarkerKey(runId: string, taskId: string): string {
  checkIds(runId, taskId);
  return `${ledgerPrefix(runId)}done/${taskId}.json`;
}

/**
 * An attempt's log key: `_sluice/<run-id>/logs/<task-id>/<attempt>.log` (attempts count from 1).
 *
 * @example
 * taskLogKey('thumbnails-3f9a0c12', '0123456789abcdef01234567', 2); // '_sluice/thumbnails-3f9a0c12/logs/0123456789abcdef01234567/2.log'
 * @throws {SluiceError} when an id or the attempt number is malformed.
 */
export function taskLogKey(runId: string, taskId: string, attempt: number): string {
  checkIds(runId, taskId, attempt);
  return `${ledgerPrefix(runId)}logs/${taskId}/${attempt}.log`;
}

/**
 * Where an attempt stages its outputs before they are committed:
 * `_sluice/<run-id>/staging/<task-id>/<attempt>/`.
 *
 * @example
 * stagingPrefix('thumbnails-3f9a0c12', '0123456789abcdef01234567', 1); // '_sluice/thumbnails-3f9a0c12/staging/0123456789abcdef01234567/1/'
 * @throws {SluiceError} when an id or the attempt number is malformed.
 */
export function stagingPrefix(runId: string, taskId: string, attempt: number): string {
  checkIds(runId, taskId, attempt);
  return `${ledgerPrefix(runId)}staging/${taskId}/${attempt}/`;
}

/**
 * A short tag of a message id (12 hex of its sha256): names the message that holds a task in its
 * record without keeping the id itself.
 *
 * @example
 * messageTag('f3c1…'); // '5e0c9a1b2d3f'
 * @throws never.
 */
export function messageTag(messageId: string): string {
  return createHash('sha256').update(messageId).digest('hex').slice(0, 12);
}

/**
 * The run's results manifest, written by collect-results: `_sluice/<run-id>/results.json`.
 *
 * @example
 * resultsKey('thumbnails-3f9a0c12'); // '_sluice/thumbnails-3f9a0c12/results.json'
 * @throws {SluiceError} when the run id is malformed.
 */
export function resultsKey(runId: string): string {
  return `${ledgerPrefix(runId)}results.json`;
}

/**
 * True for keys under the reserved prefix: they are never inputs, so sluice's own writes never
 * trigger tasks even when input and output share a bucket.
 *
 * @example
 * isLedgerKey('_sluice/thumbnails-3f9a0c12/done/x.json'); // true
 */
export function isLedgerKey(key: string): boolean {
  return key.startsWith(LEDGER_ROOT);
}

/**
 * Checks one `/`-separated relative path and returns it: no empty, `.` or `..` segment, no NUL, no
 * leading `/`. Keys are not host paths, but the runner maps them to and from files, and a `..`
 * would make the mapping ambiguous.
 */
function safeRelative(path: string, what: string): string {
  const segments = path.split('/');
  if (path === '' || path.includes('\u0000') || segments.some((s) => s === '' || s === '.' || s === '..')) {
    throw new ConfigurationError(
      `${what} ${JSON.stringify(path)} is not a safe relative path (empty, ".", ".." segments, a leading "/" or NUL)`,
    );
  }
  return path;
}

function checkLength(key: string): string {
  const bytes = Buffer.byteLength(key, 'utf8');
  if (bytes > MAX_KEY_BYTES) {
    throw new ConfigurationError(
      `output key is ${bytes} bytes long; S3 allows ${MAX_KEY_BYTES}. Use shorter prefixes or names`,
    );
  }
  return key;
}

/** The prefixes an output key is built from (a normalised job has both, ending in `/` or empty). */
export interface KeyPrefixes {
  readonly input: { readonly prefix: string };
  readonly output: { readonly prefix: string };
}

/**
 * The input key relative to `input.prefix`.
 *
 * @example
 * relativeInputKey('photos/', 'photos/2024/cat.jpg'); // '2024/cat.jpg'
 * @throws {SluiceError} when the key is not under the prefix.
 * @throws {ConfigurationError} when the rest is not a safe relative path (a "folder" key ending in `/`, `..` segments).
 */
export function relativeInputKey(inputPrefix: string, key: string): string {
  if (!key.startsWith(inputPrefix)) {
    throw new SluiceError(
      `input key ${JSON.stringify(key)} is not under the input prefix ${JSON.stringify(inputPrefix)}`,
    );
  }
  return safeRelative(key.slice(inputPrefix.length), 'input key');
}

/**
 * The prefix all results of one input go under: `<output.prefix><input key relative to input.prefix>/`.
 * Each input gets its own "folder", so two inputs never write the same key.
 *
 * @example
 * outputPrefixFor({ input: { prefix: 'photos/' }, output: { prefix: 'thumbs/' } }, 'photos/2024/cat.jpg'); // 'thumbs/2024/cat.jpg/'
 * @throws {SluiceError} when the key is not under the input prefix.
 * @throws {ConfigurationError} when the relative key is not safe or the result is too long.
 */
export function outputPrefixFor(prefixes: KeyPrefixes, inputKey: string): string {
  return checkLength(`${prefixes.output.prefix}${relativeInputKey(prefixes.input.prefix, inputKey)}/`);
}

/**
 * The key of one result: `<output.prefix><input key relative to input.prefix>/<relative output path>`.
 *
 * @example
 * outputKey({ input: { prefix: 'photos/' }, output: { prefix: 'thumbs/' } }, 'photos/cat.jpg', 'small/cat.png'); // 'thumbs/cat.jpg/small/cat.png'
 * @throws {ConfigurationError} when a part is not a safe relative path or the key is too long.
 */
export function outputKey(prefixes: KeyPrefixes, inputKey: string, relativeOutputPath: string): string {
  return checkLength(outputKeyUnder(outputPrefixFor(prefixes, inputKey), relativeOutputPath));
}

/**
 * The key of one result under its input's output prefix (from {@link outputPrefixFor}): what a
 * worker that knows only the prefix (sealed mode) builds, with the same checks as {@link outputKey}.
 *
 * @example
 * outputKeyUnder('thumbs/cat.jpg/', 'small/cat.png'); // 'thumbs/cat.jpg/small/cat.png'
 * @throws {ConfigurationError} when the path is not a safe relative path or the key is too long.
 */
export function outputKeyUnder(outputPrefix: string, relativeOutputPath: string): string {
  return checkLength(`${outputPrefix}${safeRelative(relativeOutputPath, 'output path')}`);
}

/**
 * The relative output path of a file the algorithm left, given the manifest's `output`: for a
 * directory output, the file's path below the directory (sub-directories kept); for a file output,
 * the file's base name (so `/data/out/result.json` becomes `result.json`).
 *
 * @example
 * relativeOutputPath({ path: '/data/out', kind: 'directory' }, '/data/out/small/cat.png'); // 'small/cat.png'
 * relativeOutputPath({ path: '/data/out/result.json', kind: 'file' }, '/data/out/result.json'); // 'result.json'
 * @throws {ConfigurationError} when the file is not the output file or not under the output directory.
 */
export function relativeOutputPath(
  output: { readonly path: string; readonly kind: 'file' | 'directory' },
  containerFile: string,
): string {
  if (output.kind === 'file') {
    if (containerFile !== output.path) {
      throw new ConfigurationError(`${containerFile} is not the manifest's output file ${output.path}`);
    }
    return safeRelative(output.path.slice(output.path.lastIndexOf('/') + 1), 'output file name');
  }
  const directory = `${output.path}/`;
  if (!containerFile.startsWith(directory)) {
    throw new ConfigurationError(
      `${containerFile} is not under the manifest's output directory ${directory}`,
    );
  }
  return safeRelative(containerFile.slice(directory.length), 'output path');
}

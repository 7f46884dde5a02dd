// Which objects are inputs of a run. S3 notification filters allow one prefix and one suffix only,
// so the job's `include` globs are applied by whoever reads an event or a listing (the runner,
// dispatch-tasks), with this one function, so both agree on every key.
import picomatch from 'picomatch';

import { isLedgerKey } from './ledger-keys.js';

/** Where a run's inputs are and where its results go: the parts of a job the selection needs. */
export interface InputSelection {
  readonly input: { readonly bucket: string; readonly prefix: string; readonly include: readonly string[] };
  readonly output: { readonly bucket: string; readonly prefix: string };
}

/** Why an object is not an input of the run. */
export type SkipReason =
  | 'other-bucket'
  | 'outside-prefix'
  | 'folder'
  | 'ledger'
  | 'result-in-ledger'
  | 'output-prefix'
  | 'not-included';

/** The verdict on one object: an input, or the reason it is not one. */
export type InputVerdict = { readonly input: true } | { readonly input: false; readonly reason: SkipReason };

/**
 * Builds the run's input filter, compiling the globs once. A key is an input when it is in the input
 * bucket, under `input.prefix`, not a "folder" (ending in `/`), not under sluice's reserved
 * `_sluice/` prefix, not one whose results (`<output.prefix><relative key>/…`) would land under
 * `_sluice/` (where collect would take them for ledger objects, and the task role may not write), not under `output.prefix` when input and output share a bucket (so results
 * never become inputs), and its key relative to `input.prefix` matches one of the `include` globs.
 * Globs follow picomatch with `dot: true`: `**` matches every key, dot-files included.
 *
 * @example
 * const isInput = inputFilter({ input: { bucket: 'b', prefix: 'in/', include: ['**\/*.jpg'] }, output: { bucket: 'b', prefix: 'out/' } });
 * isInput('b', 'in/2024/cat.jpg'); // { input: true }
 * isInput('b', 'in/notes.txt');    // { input: false, reason: 'not-included' }
 * @throws {Error} from picomatch when a glob cannot be compiled (the job schema has checked them).
 */
export function inputFilter(selection: InputSelection): (bucket: string, key: string) => InputVerdict {
  const matches = picomatch([...selection.input.include], { dot: true });
  const { input, output } = selection;
  const outputInsideInput =
    input.bucket === output.bucket &&
    output.prefix.startsWith(input.prefix) &&
    output.prefix !== input.prefix;
  return (bucket, key) => {
    if (bucket !== input.bucket) return { input: false, reason: 'other-bucket' };
    if (!key.startsWith(input.prefix)) return { input: false, reason: 'outside-prefix' };
    if (key.endsWith('/')) return { input: false, reason: 'folder' };
    if (isLedgerKey(key)) return { input: false, reason: 'ledger' };
    if (isLedgerKey(`${output.prefix}${key.slice(input.prefix.length)}/`)) {
      return { input: false, reason: 'result-in-ledger' };
    }
    // When the output prefix holds the input prefix (or is empty) every input is "under" it, so it
    // cannot tell results apart; such a job is the validator's to refuse, not the filter's to guess.
    if (outputInsideInput && key.startsWith(output.prefix)) return { input: false, reason: 'output-prefix' };
    return matches(key.slice(input.prefix.length))
      ? { input: true }
      : { input: false, reason: 'not-included' };
  };
}

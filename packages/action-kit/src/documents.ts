import { readFile } from 'node:fs/promises';

import {
  ValidationError,
  checkDocuments,
  toError,
  type CheckedDocument,
  type DocumentKind,
} from '@sluice/core';

import { InputError } from './errors.js';

/** What {@link checkDocumentFile} needs to know. */
export interface DocumentFileRequest {
  /** The file, as the workflow named it (relative paths are read from the working directory). */
  readonly path: string;
  /** The input that named the file, for messages, e.g. `manifest`. */
  readonly input: string;
  /** The contract the file must follow. */
  readonly kind: DocumentKind;
}

const KIND_NAMES: Readonly<Record<DocumentKind, string>> = {
  manifest: 'an algorithm manifest (algorithm.json)',
  job: 'a job file (job.json)',
};

/**
 * Reads a manifest or job file named by an action input and checks it with core's validator.
 *
 * @example
 * await checkDocumentFile({ path: inputs.job, input: Inputs.job, kind: 'job' });
 * @throws {InputError} when the file does not exist or cannot be read.
 * @throws {ValidationError} listing every problem when the document is invalid or of the other kind;
 *   `runAction` turns each problem into an annotation on the file.
 */
export async function checkDocumentFile(request: DocumentFileRequest): Promise<CheckedDocument> {
  const { path, input, kind } = request;
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (thrown) {
    const code = (thrown as NodeJS.ErrnoException | undefined)?.code;
    const reason =
      code === 'ENOENT' ? 'does not exist' : `cannot be read (${code ?? toError(thrown).message})`;
    throw new InputError(
      input,
      `Input \`${input}\` names ${JSON.stringify(path)}, which ${reason} in ${process.cwd()}. ` +
        `Check out the repository first (actions/checkout) or set \`${input}\` to the file's path.`,
      { cause: thrown },
    );
  }
  const report = checkDocuments([{ file: path, text }]);
  if (report.problems.length > 0) throw new ValidationError(report.problems);
  const document = report.documents[0];
  if (document?.kind !== kind) {
    throw new ValidationError([
      {
        file: path,
        path: '$',
        message: `input \`${input}\` expects ${KIND_NAMES[kind]}`,
        expected: KIND_NAMES[kind],
        found: document?.kind === undefined ? 'neither kind of document' : KIND_NAMES[document.kind],
        hint: `Set \`${input}\` to the right file`,
      },
    ]);
  }
  return document;
}

// PLACEHOLDER written by the lead so other packages can compile against the API; the schemas helper
// replaces the body (keep these exported names and shapes).
import type { Problem } from '../errors.js';

/** Which contract a document follows. */
export type DocumentKind = 'manifest' | 'job';

/** One file to check: its name as the user gave it, and its raw text. */
export interface DocumentSource {
  readonly file: string;
  readonly text: string;
}

/** The outcome for one file. */
export interface CheckedDocument {
  readonly file: string;
  /** Undefined when the kind could not be told (not JSON, or neither contract). */
  readonly kind: DocumentKind | undefined;
  readonly problems: readonly Problem[];
}

/** The outcome for all files given together, including cross-checks between a job and a manifest. */
export interface CheckReport {
  readonly documents: readonly CheckedDocument[];
  /** Every problem: each document's own, then the cross-checks. Empty means all valid. */
  readonly problems: readonly Problem[];
}

/**
 * Checks documents given together: detects each one's kind, validates it, and cross-checks a job
 * against a manifest when both are given.
 */
export function checkDocuments(sources: readonly DocumentSource[]): CheckReport {
  throw new Error(`checkDocuments: not written yet (${sources.length} documents)`);
}

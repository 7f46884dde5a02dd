import { formatProblem, type CheckReport, type DocumentKind, type Problem } from '@sluice/core';

import { ExitCode } from '../exit-codes.js';

/** One file's outcome in `sluice validate --json`. `kind` is null when it could not be told. */
export interface FileReport {
  readonly file: string;
  readonly kind: DocumentKind | null;
  readonly problems: readonly Problem[];
}

/** The whole of `sluice validate --json`: a stable, machine-readable shape. */
export interface ValidationReport {
  readonly valid: boolean;
  readonly documents: readonly FileReport[];
}

/**
 * Puts together, per file and in the order given, what could not be read and what core found
 * (each document's own problems and the cross-checks that name it).
 */
export function buildReport(
  files: readonly string[],
  unreadable: readonly Problem[],
  checked: CheckReport,
): ValidationReport {
  const documents = [...new Set(files)].map((file): FileReport => {
    const document = checked.documents.find((d) => d.file === file);
    const candidates = [
      ...unreadable.filter((p) => p.file === file),
      ...(document?.problems ?? []),
      ...checked.problems.filter((p) => p.file === file),
    ];
    // A document's own problems appear in both lists: keep each once.
    const seen = new Set<string>();
    const problems = candidates.filter((p) => {
      const key = formatProblem(p);
      if (seen.has(key)) return false;
      seen.add(key);
      return true;
    });
    return { file, kind: document?.kind ?? null, problems };
  });
  return { valid: documents.every((d) => d.problems.length === 0), documents };
}

/** 0 when every file is valid, 2 otherwise (faults never reach a report). */
export function exitCodeFor(report: ValidationReport): ExitCode {
  return report.valid ? ExitCode.ok : ExitCode.invalid;
}

const KIND_LABELS: Readonly<Record<DocumentKind, string>> = { manifest: 'manifest', job: 'job' };

function plural(count: number, word: string): string {
  return `${count} ${word}${count === 1 ? '' : 's'}`;
}

/** The text `sluice validate` prints: each file with its problems, then a summary line. */
export function renderText(report: ValidationReport): string {
  const lines: string[] = [];
  for (const { file, kind, problems } of report.documents) {
    const what = kind === null ? 'document' : KIND_LABELS[kind];
    if (problems.length === 0) {
      lines.push(`${file}: valid ${what}`);
      continue;
    }
    lines.push(`${file}: invalid ${what}, ${plural(problems.length, 'problem')}:`);
    for (const problem of problems) lines.push(`  ${formatProblem(problem)}`);
  }
  lines.push('', summaryLine(report));
  return `${lines.join('\n')}\n`;
}

/** E.g. "2 files checked: 1 valid, 1 with 3 problems". */
export function summaryLine(report: ValidationReport): string {
  const invalid = report.documents.filter((d) => d.problems.length > 0);
  const problemCount = invalid.reduce((sum, d) => sum + d.problems.length, 0);
  const valid = report.documents.length - invalid.length;
  const parts = [`${valid} valid`];
  if (invalid.length > 0) parts.push(`${invalid.length} with ${plural(problemCount, 'problem')}`);
  return `${plural(report.documents.length, 'file')} checked: ${parts.join(', ')}`;
}

/** The JSON `sluice validate --json` prints. */
export function renderJson(report: ValidationReport): string {
  return `${JSON.stringify(report, null, 2)}\n`;
}

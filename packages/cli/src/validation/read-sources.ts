import { toError, type DocumentSource, type Problem } from '@sluice/core';

/** The files that could be read, and a problem for each one that could not. */
export interface ReadSources {
  readonly sources: readonly DocumentSource[];
  readonly unreadable: readonly Problem[];
}

/**
 * Reads every file named on the command line, once each (in the order given). A file that cannot be
 * read is the user's problem with that file, reported like any other, not a crash.
 */
export async function readSources(
  files: readonly string[],
  readFile: (path: string) => Promise<string>,
): Promise<ReadSources> {
  const sources: DocumentSource[] = [];
  const unreadable: Problem[] = [];
  for (const file of new Set(files)) {
    try {
      sources.push({ file, text: await readFile(file) });
    } catch (thrown) {
      unreadable.push(unreadableProblem(file, thrown));
    }
  }
  return { sources, unreadable };
}

function unreadableProblem(file: string, thrown: unknown): Problem {
  const code = (thrown as NodeJS.ErrnoException | undefined)?.code;
  const reasons: Partial<Record<string, string>> = {
    ENOENT: 'the file does not exist',
    EISDIR: 'this is a directory, not a file',
    EACCES: 'permission denied',
  };
  return {
    file,
    path: '$',
    message: `cannot read the file: ${(code !== undefined ? reasons[code] : undefined) ?? toError(thrown).message}`,
    hint: 'Check the path (it is relative to the current directory)',
  };
}

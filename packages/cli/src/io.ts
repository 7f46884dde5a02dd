import { readFile } from 'node:fs/promises';

/** What the CLI touches outside itself, so commands can be tested without a terminal or files. */
export interface CliIo {
  /** Writes to standard output: a command's result. */
  readonly out: (text: string) => void;
  /** Writes to standard error: usage errors and faults. */
  readonly err: (text: string) => void;
  /** Reads a text file (UTF-8). */
  readonly readFile: (path: string) => Promise<string>;
}

/** The real process: stdout, stderr and the file system. */
export const processIo: CliIo = {
  out: (text) => {
    process.stdout.write(text);
  },
  err: (text) => {
    process.stderr.write(text);
  },
  readFile: (path) => readFile(path, 'utf8'),
};

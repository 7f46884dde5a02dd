// The shell commands in the docs, found by their markers: every ```sh (bash, shell, console) block in
// README.md, docs/ and the examples' READMEs follows a line
//
//   <!-- commands: <id>; run by <file> [and <file> …] -->
//
// naming the block and the test (or CI script) that runs it. test/docs/doc-commands.test.ts checks
// that every block has one and that each file named exists and names the block; the tests run the
// block's text as it stands in the doc (runDocCommands), so a command that drifts fails there.
import { spawn } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';

import { REPOSITORY_ROOT } from '@sluice/testing';

/** One shell block of a doc. */
export interface DocCommandBlock {
  /** The doc, relative to the repository root. */
  readonly file: string;
  /** 1-based line of the opening fence. */
  readonly line: number;
  /** From the marker; undefined when the block has none. */
  readonly id: string | undefined;
  /** Files (relative to the root) the marker says run the block. */
  readonly runners: readonly string[];
  /** The block's text, its fence's indentation removed. */
  readonly text: string;
}

const SHELL_FENCE = /^(\s*)```(sh|bash|shell|console)\s*$/;
const MARKER = /^\s*<!-- commands: ([a-z0-9-]+); run by (.+?) -->\s*$/;

/** The docs whose shell blocks count: README.md, docs/*.md and every README under examples/. */
export function docFiles(): string[] {
  const files = ['README.md', ...readdirSync(join(REPOSITORY_ROOT, 'docs')).map((name) => `docs/${name}`)];
  const walk = (dir: string): void => {
    for (const entry of readdirSync(join(REPOSITORY_ROOT, dir), { withFileTypes: true })) {
      const path = `${dir}/${entry.name}`;
      if (entry.isDirectory() && entry.name !== 'node_modules') walk(path);
      else if (entry.name.endsWith('.md')) files.push(path);
    }
  };
  walk('examples');
  return files.filter((file) => file.endsWith('.md')).sort();
}

/** Every shell block of one doc, with its marker when it has one. */
export function shellBlocks(file: string): DocCommandBlock[] {
  const lines = readFileSync(join(REPOSITORY_ROOT, file), 'utf8').split('\n');
  const blocks: DocCommandBlock[] = [];
  for (let i = 0; i < lines.length; i++) {
    const fence = SHELL_FENCE.exec(lines[i] ?? '');
    if (fence === null) continue;
    const indent = fence[1]?.length ?? 0;
    let previous = i - 1;
    while (previous >= 0 && (lines[previous] ?? '').trim() === '') previous--;
    const marker = MARKER.exec(lines[previous] ?? '');
    const body: string[] = [];
    let end = i + 1;
    for (; end < lines.length && !/^\s*```\s*$/.test(lines[end] ?? ''); end++) {
      body.push((lines[end] ?? '').slice(indent));
    }
    blocks.push({
      file,
      line: i + 1,
      id: marker?.[1],
      // "run by A (what) and B (what)": the files are the first word of each part.
      runners: (marker?.[2] ?? '')
        .split(/\s+and\s+/)
        .map((part) => part.trim().split(/\s+/)[0] ?? '')
        .filter((runner) => runner !== ''),
      text: `${body.join('\n')}\n`,
    });
    i = end;
  }
  return blocks;
}

/** Every shell block of every doc. */
export function allShellBlocks(): DocCommandBlock[] {
  return docFiles().flatMap(shellBlocks);
}

/**
 * The block a test runs, by doc and id.
 * @throws when the doc has no block with that id (the doc changed: update the test).
 */
export function docBlock(file: string, id: string): DocCommandBlock {
  const block = shellBlocks(file).find((b) => b.id === id);
  if (block === undefined) throw new Error(`${file} has no shell block marked "commands: ${id}"`);
  return block;
}

/** Blocks run one after the other in one shell, as a reader goes through a page (`a+b` for an id). */
export function joinBlocks(...blocks: DocCommandBlock[]): DocCommandBlock {
  const [first] = blocks;
  if (first === undefined) throw new Error('joinBlocks needs a block');
  return {
    ...first,
    id: blocks.map((b) => b.id ?? '?').join('+'),
    text: blocks.map((b) => b.text).join(''),
  };
}

/** What running a block left. */
export interface DocCommandsRun {
  readonly code: number | null;
  readonly output: string;
  readonly ms: number;
}

/** The end of a run's output, for an assertion's message. */
export function outputTail(run: DocCommandsRun): string {
  return run.output.split('\n').slice(-40).join('\n');
}

/**
 * Runs a block as a user pastes it into bash — `set -euo pipefail`, so the first command that fails
 * stops it — in `cwd`, with `env`. `replace` swaps what cannot be reached from here for a stand-in
 * (GitHub's URL for a local mirror), each pair applied to the block's text and required to match.
 */
export function runDocCommands(
  block: DocCommandBlock,
  options: {
    readonly cwd: string;
    readonly env: NodeJS.ProcessEnv;
    readonly timeoutMs?: number;
    readonly replace?: readonly (readonly [string, string])[];
  },
): Promise<DocCommandsRun> {
  let text = block.text;
  for (const [from, to] of options.replace ?? []) {
    if (!text.includes(from)) throw new Error(`${block.file}#${block.id ?? '?'} no longer says ${from}`);
    text = text.split(from).join(to);
  }
  const started = Date.now();
  return new Promise((resolve, reject) => {
    const child = spawn('bash', ['-c', `set -euo pipefail\n${text}`], {
      cwd: options.cwd,
      env: options.env,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    const timer = setTimeout(() => child.kill('SIGTERM'), options.timeoutMs ?? 300_000);
    child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.on('error', (error) => {
      clearTimeout(timer);
      reject(error);
    });
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, output, ms: Date.now() - started });
    });
  });
}

/** The aws CLI scripts/bootstrap.sh installs; the tests fail loudly without it. */
export function awsCliBin(): string {
  const bin = join(REPOSITORY_ROOT, '.venv-aws', 'bin');
  if (!existsSync(join(bin, 'aws'))) {
    throw new Error(
      `${relative(process.cwd(), bin)}/aws is missing: run scripts/bootstrap.sh (make bootstrap)`,
    );
  }
  return bin;
}

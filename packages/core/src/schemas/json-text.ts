// Reading a document's text as JSON, before anything else looks at it. JSON.parse on Node 20 does
// not say where a syntax error is, keeps only the last of two equal keys, and the readers after it
// (the literal-secret scan, Ajv) recurse once per level; so a small scanner reads the text first:
// it finds the first offending character (line and column), every key given twice in one object
// (the value dropped would never be checked), and nesting deeper than MAX_DEPTH, which it refuses
// before any recursive reader runs.
import type { Problem } from '../errors.js';
import { jsonPath, type PathSegment } from './json-path.js';

/**
 * The deepest nesting of objects and arrays a document may have. A manifest or a job needs four
 * levels (`$.env.NAME.fromSecret`); 64 leaves room for anything written by hand, and keeps every
 * recursive reader (this scanner, the literal-secret scan, Ajv, the explanations) thousands of
 * frames away from the stack limit.
 */
const MAX_DEPTH = 64;

/** The outcome of reading a document's text as JSON. */
export type JsonTextResult = { ok: true; value: unknown } | { ok: false; problems: Problem[] };

/**
 * Parses JSON text (a leading byte-order mark is ignored), or explains where and why it is not
 * JSON, which keys it gives twice, or where it is nested too deep.
 */
export function parseJsonText(text: string, file: string): JsonTextResult {
  const body = text.startsWith('\uFEFF') ? text.slice(1) : text;
  const scan = scanJson(body);
  if (scan.kind === 'syntax') return { ok: false, problems: [syntaxProblem(body, file, scan)] };
  if (scan.kind === 'deep') return { ok: false, problems: [depthProblem(body, file, scan)] };
  if (scan.duplicates.length > 0) {
    return {
      ok: false,
      problems: scan.duplicates.map((duplicate) => duplicateProblem(body, file, duplicate)),
    };
  }
  try {
    return { ok: true, value: JSON.parse(body) as unknown };
  } catch {
    // JSON.parse refused what the scanner accepts: report the start rather than guess.
    return { ok: false, problems: [syntaxProblem(body, file, { offset: 0, reason: 'unreadable JSON' })] };
  }
}

function syntaxProblem(body: string, file: string, at: { offset: number; reason: string }): Problem {
  return {
    file,
    path: '$',
    message: `is not valid JSON: ${at.reason} at ${place(body, at.offset)}`,
    expected: 'a JSON object',
    hint: 'Check for a missing comma or quote, a trailing comma, or a comment (JSON allows none)',
  };
}

function depthProblem(body: string, file: string, at: { offset: number; segments: PathSegment[] }): Problem {
  return {
    file,
    path: jsonPath(at.segments),
    message: `is nested more than ${MAX_DEPTH} levels deep (the level past the limit opens at ${place(body, at.offset)}); sluice reads no deeper document`,
    expected: `at most ${MAX_DEPTH} levels of objects and arrays (a manifest or a job needs four)`,
    found: `more than ${MAX_DEPTH} levels`,
    hint: 'Check the file is the manifest or job you meant, not generated or corrupted output',
  };
}

function duplicateProblem(body: string, file: string, duplicate: Duplicate): Problem {
  const places = duplicate.offsets.map((offset) => place(body, offset));
  const listed = `${places.slice(0, -1).join(', ')} and ${places[places.length - 1] ?? ''}`;
  return {
    file,
    path: jsonPath(duplicate.segments),
    message: `is given ${places.length} times in the same object, at ${listed}: JSON would keep only the last, and the others would go unchecked`,
    expected: 'each key once per object',
    found: `${places.length} keys ${JSON.stringify(duplicate.segments[duplicate.segments.length - 1])}`,
    hint: 'Keep the one you mean and delete the others; if a deleted one held a credential, rotate it',
  };
}

/** `line L, column C` of an offset (both counted from 1). */
function place(text: string, offset: number): string {
  let line = 1;
  let lineStart = 0;
  for (let i = 0; i < offset && i < text.length; i++) {
    if (text[i] === '\n') {
      line++;
      lineStart = i + 1;
    }
  }
  return `line ${line}, column ${offset - lineStart + 1}`;
}

/** A key given more than once in one object: the path of the key and where each one starts. */
interface Duplicate {
  readonly segments: PathSegment[];
  readonly offsets: number[];
}

type Scan =
  | { kind: 'ok'; duplicates: Duplicate[] }
  | { kind: 'syntax'; offset: number; reason: string }
  | { kind: 'deep'; offset: number; segments: PathSegment[] };

class SyntaxAt extends Error {
  constructor(
    readonly offset: number,
    readonly reason: string,
  ) {
    super(reason);
  }
}

class TooDeep extends Error {
  constructor(
    readonly offset: number,
    readonly segments: PathSegment[],
  ) {
    super('nesting too deep');
  }
}

/** Scans the whole text: the first syntax error, the first level too deep, or the keys given twice. */
function scanJson(text: string): Scan {
  const scanner = new JsonScanner(text);
  try {
    scanner.value([]);
    scanner.ws();
    if (scanner.i < text.length) {
      return {
        kind: 'syntax',
        offset: scanner.i,
        reason: `${scanner.describe(scanner.i)} after the end of the document`,
      };
    }
    return { kind: 'ok', duplicates: scanner.duplicates };
  } catch (thrown: unknown) {
    if (thrown instanceof SyntaxAt) return { kind: 'syntax', offset: thrown.offset, reason: thrown.reason };
    if (thrown instanceof TooDeep) return { kind: 'deep', offset: thrown.offset, segments: thrown.segments };
    throw thrown;
  }
}

/**
 * A recursive-descent reading of JSON that only checks, throwing {@link SyntaxAt} at the first
 * fault and {@link TooDeep} at the first container past {@link MAX_DEPTH} (so it never recurses
 * deeper than that), and collecting the keys given twice.
 */
class JsonScanner {
  /** The offset read up to. */
  i = 0;
  readonly duplicates: Duplicate[] = [];

  constructor(private readonly text: string) {}

  describe(at: number): string {
    return at >= this.text.length ? 'the text ends too early' : `unexpected ${JSON.stringify(this.text[at])}`;
  }

  ws(): void {
    while (this.i < this.text.length && ' \t\n\r'.includes(this.text[this.i] ?? '')) this.i++;
  }

  /** Reads one value at `segments` (its path; its container depth is `segments.length`). */
  value(segments: PathSegment[]): void {
    this.ws();
    const c = this.text[this.i];
    if ((c === '{' || c === '[') && segments.length >= MAX_DEPTH) throw new TooDeep(this.i, segments);
    if (c === '{') this.object(segments);
    else if (c === '[') this.array(segments);
    else if (c === '"') this.string();
    else if (c === 't') this.expect('true');
    else if (c === 'f') this.expect('false');
    else if (c === 'n') this.expect('null');
    else this.number();
  }

  private object(segments: PathSegment[]): void {
    const { text } = this;
    const keys = new Map<string, number[]>();
    this.i++;
    this.ws();
    if (text[this.i] === '}') {
      this.i++;
      return;
    }
    for (;;) {
      this.ws();
      if (text[this.i] !== '"')
        throw new SyntaxAt(this.i, `${this.describe(this.i)} where a property name in double quotes belongs`);
      const start = this.i;
      this.string();
      // The scanner checked the string, so JSON.parse reads it (escapes decoded: "a" is "\u0061").
      const key = JSON.parse(text.slice(start, this.i)) as string;
      keys.set(key, [...(keys.get(key) ?? []), start]);
      this.ws();
      if (text[this.i] !== ':') throw new SyntaxAt(this.i, `${this.describe(this.i)} where ":" belongs`);
      this.i++;
      this.value([...segments, key]);
      this.ws();
      if (text[this.i] === ',') {
        this.i++;
        continue;
      }
      if (text[this.i] === '}') {
        this.i++;
        break;
      }
      throw new SyntaxAt(this.i, `${this.describe(this.i)} where "," or "}" belongs`);
    }
    for (const [key, offsets] of keys) {
      if (offsets.length > 1) this.duplicates.push({ segments: [...segments, key], offsets });
    }
  }

  private array(segments: PathSegment[]): void {
    const { text } = this;
    this.i++;
    this.ws();
    if (text[this.i] === ']') {
      this.i++;
      return;
    }
    for (let index = 0; ; index++) {
      this.value([...segments, index]);
      this.ws();
      if (text[this.i] === ',') {
        this.i++;
        continue;
      }
      if (text[this.i] === ']') {
        this.i++;
        return;
      }
      throw new SyntaxAt(this.i, `${this.describe(this.i)} where "," or "]" belongs`);
    }
  }

  private string(): void {
    const { text } = this;
    this.i++; // opening quote
    for (;;) {
      const c = text[this.i];
      if (c === undefined) throw new SyntaxAt(this.i, 'a string is not closed');
      if (c === '"') {
        this.i++;
        return;
      }
      if (c < ' ') throw new SyntaxAt(this.i, 'a control character (such as a line break) inside a string');
      if (c === '\\') {
        const e = text[this.i + 1];
        if (e !== undefined && '"\\/bfnrt'.includes(e)) this.i += 2;
        else if (e === 'u' && /^[0-9a-fA-F]{4}$/.test(text.slice(this.i + 2, this.i + 6))) this.i += 6;
        else throw new SyntaxAt(this.i, 'an invalid escape in a string');
      } else this.i++;
    }
  }

  private number(): void {
    // Sticky: matched where the reading is, without copying the rest of the text each time.
    const pattern = /-?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?/y;
    pattern.lastIndex = this.i;
    const match = pattern.exec(this.text);
    if (!match) throw new SyntaxAt(this.i, this.describe(this.i));
    this.i += match[0].length;
  }

  private expect(literal: string): void {
    if (this.text.startsWith(literal, this.i)) this.i += literal.length;
    else throw new SyntaxAt(this.i, this.describe(this.i));
  }
}

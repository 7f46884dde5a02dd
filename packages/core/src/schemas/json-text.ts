// JSON.parse on Node 20 does not say where a syntax error is, so a small scanner finds the first
// offending character and the problem gives its line and column.
import type { Problem } from '../errors.js';

/** The outcome of reading a document's text as JSON. */
export type JsonTextResult = { ok: true; value: unknown } | { ok: false; problem: Problem };

/**
 * Parses JSON text (a leading byte-order mark is ignored), or explains where and why it is not JSON.
 */
export function parseJsonText(text: string, file: string): JsonTextResult {
  const body = text.startsWith('\uFEFF') ? text.slice(1) : text;
  try {
    return { ok: true, value: JSON.parse(body) as unknown };
  } catch {
    const { offset, reason } = locateSyntaxError(body);
    const { line, column } = lineAndColumn(body, offset);
    return {
      ok: false,
      problem: {
        file,
        path: '$',
        message: `is not valid JSON: ${reason} at line ${line}, column ${column}`,
        expected: 'a JSON object',
        hint: 'Check for a missing comma or quote, a trailing comma, or a comment (JSON allows none)',
      },
    };
  }
}

function lineAndColumn(text: string, offset: number): { line: number; column: number } {
  let line = 1;
  let lineStart = 0;
  for (let i = 0; i < offset && i < text.length; i++) {
    if (text[i] === '\n') {
      line++;
      lineStart = i + 1;
    }
  }
  return { line, column: offset - lineStart + 1 };
}

class SyntaxAt extends Error {
  constructor(
    readonly offset: number,
    readonly reason: string,
  ) {
    super(reason);
  }
}

/** Scans text that JSON.parse refused and returns the offset and reason of the first error. */
function locateSyntaxError(text: string): { offset: number; reason: string } {
  const scanner = new JsonScanner(text);
  try {
    scanner.value(0);
    scanner.ws();
    if (scanner.i < text.length) {
      return { offset: scanner.i, reason: `${scanner.describe(scanner.i)} after the end of the document` };
    }
    // JSON.parse refused what the scanner accepts: report the start rather than guess.
    return { offset: 0, reason: 'unreadable JSON' };
  } catch (thrown: unknown) {
    if (thrown instanceof SyntaxAt) return { offset: thrown.offset, reason: thrown.reason };
    return { offset: 0, reason: 'unreadable JSON' };
  }
}

/** A recursive-descent reading of JSON that only checks, throwing {@link SyntaxAt} at the first fault. */
class JsonScanner {
  /** The offset read up to. */
  i = 0;

  constructor(private readonly text: string) {}

  describe(at: number): string {
    return at >= this.text.length ? 'the text ends too early' : `unexpected ${JSON.stringify(this.text[at])}`;
  }

  ws(): void {
    while (this.i < this.text.length && ' \t\n\r'.includes(this.text[this.i] ?? '')) this.i++;
  }

  value(depth: number): void {
    if (depth > 512) throw new SyntaxAt(this.i, 'nesting too deep');
    this.ws();
    const c = this.text[this.i];
    if (c === '{') this.object(depth);
    else if (c === '[') this.array(depth);
    else if (c === '"') this.string();
    else if (c === 't') this.expect('true');
    else if (c === 'f') this.expect('false');
    else if (c === 'n') this.expect('null');
    else this.number();
  }

  private object(depth: number): void {
    const { text } = this;
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
      this.string();
      this.ws();
      if (text[this.i] !== ':') throw new SyntaxAt(this.i, `${this.describe(this.i)} where ":" belongs`);
      this.i++;
      this.value(depth + 1);
      this.ws();
      if (text[this.i] === ',') {
        this.i++;
        continue;
      }
      if (text[this.i] === '}') {
        this.i++;
        return;
      }
      throw new SyntaxAt(this.i, `${this.describe(this.i)} where "," or "}" belongs`);
    }
  }

  private array(depth: number): void {
    const { text } = this;
    this.i++;
    this.ws();
    if (text[this.i] === ']') {
      this.i++;
      return;
    }
    for (;;) {
      this.value(depth + 1);
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
    const match = /^-?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?/.exec(this.text.slice(this.i));
    if (!match) throw new SyntaxAt(this.i, this.describe(this.i));
    this.i += match[0].length;
  }

  private expect(literal: string): void {
    if (this.text.startsWith(literal, this.i)) this.i += literal.length;
    else throw new SyntaxAt(this.i, this.describe(this.i));
  }
}

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
  let i = 0;
  const describe = (at: number): string =>
    at >= text.length ? 'the text ends too early' : `unexpected ${JSON.stringify(text[at])}`;
  const ws = (): void => {
    while (i < text.length && ' \t\n\r'.includes(text[i] ?? '')) i++;
  };
  const expect = (literal: string): void => {
    if (text.startsWith(literal, i)) i += literal.length;
    else throw new SyntaxAt(i, describe(i));
  };
  const string = (): void => {
    i++; // opening quote
    for (;;) {
      const c = text[i];
      if (c === undefined) throw new SyntaxAt(i, 'a string is not closed');
      if (c === '"') {
        i++;
        return;
      }
      if (c < ' ') throw new SyntaxAt(i, 'a control character (such as a line break) inside a string');
      if (c === '\\') {
        const e = text[i + 1];
        if (e !== undefined && '"\\/bfnrt'.includes(e)) i += 2;
        else if (e === 'u' && /^[0-9a-fA-F]{4}$/.test(text.slice(i + 2, i + 6))) i += 6;
        else throw new SyntaxAt(i, 'an invalid escape in a string');
      } else i++;
    }
  };
  const number = (): void => {
    const match = /^-?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?/.exec(text.slice(i));
    if (!match) throw new SyntaxAt(i, describe(i));
    i += match[0].length;
  };
  const value = (depth: number): void => {
    if (depth > 512) throw new SyntaxAt(i, 'nesting too deep');
    ws();
    const c = text[i];
    if (c === '{') {
      i++;
      ws();
      if (text[i] === '}') {
        i++;
        return;
      }
      for (;;) {
        ws();
        if (text[i] !== '"')
          throw new SyntaxAt(i, `${describe(i)} where a property name in double quotes belongs`);
        string();
        ws();
        if (text[i] !== ':') throw new SyntaxAt(i, `${describe(i)} where ":" belongs`);
        i++;
        value(depth + 1);
        ws();
        if (text[i] === ',') {
          i++;
          continue;
        }
        if (text[i] === '}') {
          i++;
          return;
        }
        throw new SyntaxAt(i, `${describe(i)} where "," or "}" belongs`);
      }
    }
    if (c === '[') {
      i++;
      ws();
      if (text[i] === ']') {
        i++;
        return;
      }
      for (;;) {
        value(depth + 1);
        ws();
        if (text[i] === ',') {
          i++;
          continue;
        }
        if (text[i] === ']') {
          i++;
          return;
        }
        throw new SyntaxAt(i, `${describe(i)} where "," or "]" belongs`);
      }
    }
    if (c === '"') string();
    else if (c === 't') expect('true');
    else if (c === 'f') expect('false');
    else if (c === 'n') expect('null');
    else number();
  };
  try {
    value(0);
    ws();
    if (i < text.length) return { offset: i, reason: `${describe(i)} after the end of the document` };
    // JSON.parse refused what the scanner accepts: report the start rather than guess.
    return { offset: 0, reason: 'unreadable JSON' };
  } catch (thrown: unknown) {
    if (thrown instanceof SyntaxAt) return { offset: thrown.offset, reason: thrown.reason };
    return { offset: 0, reason: 'unreadable JSON' };
  }
}

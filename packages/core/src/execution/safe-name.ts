import { ConfigurationError } from '../errors.js';

/** NUL and the other C0 control characters, and DEL. */
// eslint-disable-next-line no-control-regex -- control characters are exactly what we look for
const CONTROL_CHARACTERS = /[\u0000-\u001f\u007f]/g;

/** Longest file name most Linux filesystems accept, in bytes. */
const MAX_NAME_BYTES = 255;

/**
 * Why a key cannot be used as a file name, or undefined when it can be used as is.
 * Object keys come from whoever uploads: they are never trusted as paths.
 */
function unsafeReason(name: string): string | undefined {
  if (name.length === 0) return 'it is empty';
  if (name === '.' || name === '..') return `it is "${name}"`;
  if (name.includes('/')) return 'it contains "/"';
  if (name.includes('\0')) return 'it contains a NUL byte';
  if (new RegExp(CONTROL_CHARACTERS.source).test(name)) return 'it contains control characters';
  if (Buffer.byteLength(name, 'utf8') > MAX_NAME_BYTES) return `it is longer than ${MAX_NAME_BYTES} bytes`;
  return undefined;
}

/** Cuts a UTF-8 string to at most `maxBytes` bytes without splitting a character. */
function truncateUtf8(text: string, maxBytes: number): string {
  let out = '';
  let bytes = 0;
  for (const char of text) {
    const size = Buffer.byteLength(char, 'utf8');
    if (bytes + size > maxBytes) break;
    out += char;
    bytes += size;
  }
  return out;
}

/**
 * The file name an input object gets inside the algorithm's input directory: the last segment of
 * its key, with anything that could escape the directory or confuse a program replaced, cut to
 * 255 bytes while keeping the extension (algorithms often dispatch on it). The result is always a
 * single, non-empty path segment other than `.` and `..`.
 *
 * @example
 * safeFileName('photos/2026/cat 1.jpg'); // 'cat 1.jpg'
 * safeFileName('../../etc/passwd');      // 'passwd'
 * safeFileName('a/..');                  // '_..'
 */
export function safeFileName(key: string): string {
  const lastSegment =
    key
      .split('/')
      .filter((segment) => segment.length > 0)
      .pop() ?? '';
  let name = lastSegment.replace(CONTROL_CHARACTERS, '_');
  if (name === '') name = '_';
  if (name === '.' || name === '..') name = `_${name}`;
  if (Buffer.byteLength(name, 'utf8') > MAX_NAME_BYTES) {
    const dot = name.lastIndexOf('.');
    const extension = dot > 0 && name.length - dot <= 16 ? name.slice(dot) : '';
    name =
      truncateUtf8(
        name.slice(0, name.length - extension.length),
        MAX_NAME_BYTES - Buffer.byteLength(extension, 'utf8'),
      ) + extension;
  }
  return name;
}

/**
 * Checks a relative path written by an algorithm (or derived from a key) before it becomes part of
 * an object key or a host path: no absolute paths, no `..`, no empty or over-long segments, no NUL
 * or control characters. Returns the path's segments.
 *
 * @example
 * relativePathSegments('thumbs/small.png'); // ['thumbs', 'small.png']
 * @throws {ConfigurationError} when the path is unsafe; the message says which rule it broke.
 */
export function relativePathSegments(path: string): string[] {
  if (path.startsWith('/')) throw new ConfigurationError(`unsafe path "${printable(path)}": it is absolute`);
  const segments = path.split('/');
  for (const segment of segments) {
    const reason = unsafeReason(segment);
    if (reason !== undefined) {
      throw new ConfigurationError(
        `unsafe path "${printable(path)}": a segment is unusable because ${reason}`,
      );
    }
  }
  return segments;
}

/** Renders a string for an error message with control characters escaped. */
function printable(text: string): string {
  return truncateUtf8(text, 200).replace(
    CONTROL_CHARACTERS,
    (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`,
  );
}

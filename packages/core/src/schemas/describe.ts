// Words for problems: how to show a found value without leaking a secret, and "did you mean".
import type { PathSegment } from './json-path.js';

/** Names that say their value is a credential. */
export const SENSITIVE_NAME = /secret|key|token|passw(or)?d|credential/i;

const ACCESS_KEY_ID = /(?:AKIA|ASIA)[A-Z0-9]{16}/;

/**
 * Describes a found value in a few words. Strings are quoted only when nothing suggests a secret:
 * a value under `env` (job variables may be secret), under a sensitive name, or shaped like a key.
 */
export function describeFound(value: unknown, segments: readonly PathSegment[]): string {
  if (value === undefined) return 'nothing';
  if (value === null) return 'null';
  if (typeof value === 'boolean') return String(value);
  if (typeof value === 'number') return String(value);
  if (Array.isArray(value)) return `an array of ${value.length} item${value.length === 1 ? '' : 's'}`;
  if (typeof value === 'object') return 'an object';
  if (typeof value !== 'string') return typeof value;
  const sensitive =
    segments[0] === 'env' ||
    segments.some((segment) => typeof segment === 'string' && SENSITIVE_NAME.test(segment)) ||
    ACCESS_KEY_ID.test(value) ||
    /[A-Za-z0-9/+=]{40}/.test(value);
  if (sensitive) return `a string of ${value.length} character${value.length === 1 ? '' : 's'}`;
  return JSON.stringify(value.length > 60 ? `${value.slice(0, 57)}...` : value);
}

/** What a JSON type is called in a sentence. */
export function typeWords(type: string): string {
  switch (type) {
    case 'integer':
      return 'a whole number';
    case 'number':
      return 'a number';
    case 'string':
      return 'a string';
    case 'boolean':
      return 'true or false';
    case 'array':
      return 'an array';
    case 'object':
      return 'an object';
    case 'null':
      return 'null';
    default:
      return type;
  }
}

function distance(a: string, b: string): number {
  const previous = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    let diagonal = previous[0] ?? 0;
    previous[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const above = previous[j] ?? 0;
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      previous[j] = Math.min(above + 1, (previous[j - 1] ?? 0) + 1, diagonal + cost);
      diagonal = above;
    }
  }
  return previous[b.length] ?? 0;
}

/**
 * The known name closest to `given`, when it is close enough to be a typo: same letters in another
 * case or spelling, or within a third of its length in edits.
 */
export function closestName(given: string, known: readonly string[]): string | undefined {
  let best: { name: string; score: number } | undefined;
  const lower = given.toLowerCase().replace(/[-_]/g, '');
  for (const name of known) {
    const score =
      name.toLowerCase().replace(/[-_]/g, '') === lower
        ? 0
        : distance(given.toLowerCase(), name.toLowerCase());
    if (best === undefined || score < best.score) best = { name, score };
  }
  if (best === undefined) return undefined;
  const allowed = Math.max(1, Math.floor(Math.max(given.length, best.name.length) / 3));
  return best.score <= allowed ? best.name : undefined;
}

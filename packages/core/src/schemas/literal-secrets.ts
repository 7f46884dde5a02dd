// Literal AWS credentials in a document are refused. They are recognised by shape, as DESIGN.md
// asks: access key ids anywhere; 40-character secrets only where a name says "secret", "key",
// "token", "password" or "credential", so a 40-hex git SHA in `algorithm` or `commit` passes.
import type { Problem } from '../errors.js';
import { SENSITIVE_NAME } from './describe.js';
import { jsonPath, type PathSegment } from './json-path.js';

/** How to pass credentials instead of writing them into a file. */
export const CREDENTIALS_HINT =
  'Remove it and rotate the key. Pass credentials instead: as environment variables (AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_SESSION_TOKEN set from GitHub secrets) with "aws": {"credentials": "environment"}, a named profile ("credentials": "profile"), a role to assume ("credentials": "roleArn" with "roleArn"), or OIDC ("credentials": "oidc", or aws-actions/configure-aws-credentials before this step)';

const ACCESS_KEY_ID = /(?<![A-Z0-9])(?:AKIA|ASIA)[A-Z0-9]{16}(?![A-Z0-9])/;
/** Runs of the characters a secret access key is made of (base64). */
const TOKEN = /[A-Za-z0-9/+=]+/g;

/**
 * Finds literal AWS credentials anywhere in a parsed document: access key ids (`AKIA…`/`ASIA…` and
 * 16 upper-case letters or digits) in any string or property name, and 40-character secrets in a
 * property whose name (or an enclosing property's name, or the text just before them in the same
 * string) says secret, key, token, password or credential. Each problem gives the path and never the value, not even in part.
 *
 * @example
 * findLiteralSecrets({ aws: { secret: 'wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY' } }, 'job.json');
 * // [{ file: 'job.json', path: '$.aws.secret', message: 'holds a literal AWS secret key', ... }]
 * findLiteralSecrets({ algorithm: 'x@0123456789abcdef0123456789abcdef01234567' }, 'job.json'); // []
 */
export function findLiteralSecrets(value: unknown, file: string): Problem[] {
  const problems: Problem[] = [];
  const visit = (node: unknown, segments: PathSegment[], named: boolean): void => {
    if (typeof node === 'string') {
      const kind = secretKind(node, named);
      if (kind !== undefined) problems.push(secretProblem(file, segments, kind));
      return;
    }
    if (Array.isArray(node)) {
      node.forEach((item, index) => {
        visit(item, [...segments, index], named);
      });
      return;
    }
    if (node === null || typeof node !== 'object') return;
    for (const [key, child] of Object.entries(node)) {
      if (ACCESS_KEY_ID.test(key)) {
        // The path would repeat the key, so the problem points at the object holding it.
        problems.push(secretProblem(file, segments, 'a property name that is an access key id'));
        continue;
      }
      visit(child, [...segments, key], named || SENSITIVE_NAME.test(key));
    }
  };
  visit(value, [], false);
  return problems;
}

function secretKind(text: string, named: boolean): string | undefined {
  if (ACCESS_KEY_ID.test(text)) return 'a literal AWS access key id';
  for (const match of text.matchAll(TOKEN)) {
    const token = match[0];
    // "aws_secret_access_key=…" inside one string: the value follows the first "=".
    const equals = token.indexOf('=');
    const value = token.length === 40 ? token : equals > 0 ? token.slice(equals + 1) : '';
    if (value.length !== 40) continue;
    const before = text.slice(Math.max(0, match.index - 40), match.index + token.length - value.length);
    if (named || SENSITIVE_NAME.test(before)) return 'a literal secret (a 40-character key)';
  }
  return undefined;
}

function secretProblem(file: string, segments: readonly PathSegment[], kind: string): Problem {
  return {
    file,
    path: jsonPath(segments),
    message: `holds ${kind}; a literal credential was found, and files must not contain credentials`,
    expected: 'no credentials in the file',
    found: 'a literal credential (not shown)',
    hint: CREDENTIALS_HINT,
  };
}

/**
 * Replaces anything shaped like an access key id in a text with `<redacted>`: a last guard so no
 * problem ever repeats one, whatever produced it.
 */
export function redactKeyIds(text: string): string {
  return text.replace(new RegExp(ACCESS_KEY_ID.source, 'g'), '<redacted>');
}

import { describe, expect, test } from '@jest/globals';
import { checkDocuments } from './documents.js';
import { findLiteralSecrets } from './literal-secrets.js';

// Built from parts so no scanner flags this file itself.
const KEY_ID = ['AKIA', 'IOSFODNN7', 'EXAMPLE'].join('');
const SESSION_KEY_ID = ['ASIA', 'Y34FZKBOKMUTVV7A'].join('');
const SECRET = ['wJalrXUtnFEMI', '/K7MDENG/bPxRfiCY', 'EXAMPLEKEY'].join('');
const SHA = '0123456789abcdef0123456789abcdef01234567';

describe('findLiteralSecrets', () => {
  test.each([
    ['a key id in any field', { description: `key ${KEY_ID} here` }, '$.description'],
    ['a session key id deep in an array', { a: [{ b: [SESSION_KEY_ID] }] }, '$.a[0].b[0]'],
    ['a key id as a property name', { env: { [KEY_ID]: 'x' } }, '$.env'],
    ['a secret under a secret name', { aws: { secretAccessKey: SECRET } }, '$.aws.secretAccessKey'],
    ['a secret under a token name', { env: { API_TOKEN: SECRET } }, '$.env.API_TOKEN'],
    ['a secret under a credentials object', { credentials: { value: SECRET } }, '$.credentials.value'],
    ['a secret after its name in one string', { note: `aws_secret_access_key=${SECRET}` }, '$.note'],
  ] as const)('refuses %s', (_name, document, path) => {
    const problems = findLiteralSecrets(document, 'job.json');
    expect(problems.map((p) => p.path)).toEqual([path]);
    const printed = JSON.stringify(problems);
    expect(printed).not.toContain(KEY_ID);
    expect(printed).not.toContain(SESSION_KEY_ID);
    expect(printed).not.toContain(SECRET);
    expect(printed).not.toContain(SECRET.slice(0, 8));
    expect(problems[0]?.message).toContain('literal credential');
    expect(problems[0]?.hint).toEqual(expect.stringContaining('configure-aws-credentials'));
  });

  test.each([
    ['a git SHA as the algorithm version', { algorithm: `thumbnails@${SHA}` }],
    ['a git SHA in a commit field', { commit: SHA }],
    ['a 40-character base64 text without a name', { description: SECRET }],
    ['a key id lookalike in lower case', { description: KEY_ID.toLowerCase() }],
    ['a longer upper-case run', { description: `${KEY_ID}XYZ` }],
  ] as const)('accepts %s', (_name, document) => {
    expect(findLiteralSecrets(document, 'job.json')).toEqual([]);
  });

  test('a job naming its algorithm by a git SHA validates clean', () => {
    const job = {
      name: 'sha',
      algorithm: `thumbnails@${SHA}`,
      input: { bucket: 'in-bucket' },
      output: { bucket: 'out-bucket' },
    };
    expect(checkDocuments([{ file: 'job.json', text: JSON.stringify(job) }]).problems).toEqual([]);
  });

  test('an AKIA key in a job is refused without repeating it', () => {
    const job = {
      name: 'leak',
      algorithm: 'thumbnails@1',
      input: { bucket: 'in-bucket', prefix: `x/${KEY_ID}/` },
      output: { bucket: 'out-bucket' },
    };
    const report = checkDocuments([{ file: 'job.json', text: JSON.stringify(job) }]);
    expect(report.problems.map((p) => p.path)).toEqual(['$.input.prefix']);
    expect(JSON.stringify(report)).not.toContain(KEY_ID);
  });
});

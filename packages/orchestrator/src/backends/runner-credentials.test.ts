// The credential files of local runner containers: private to their owner, written once per set,
// a set per AWS session, and gone after teardown.
import { mkdtemp, readFile, readdir, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { afterEach, beforeEach, describe, expect, it } from '@jest/globals';

import {
  brokerTokenCredentials,
  removeRunnerCredentials,
  sessionCredentials,
  writeRunnerCredentials,
} from './runner-credentials.js';

const RUN = 'thumbs-3f9a0c12';

function session(n: number): Record<string, string> {
  return {
    AWS_ACCESS_KEY_ID: `ASIA${n}`,
    AWS_SECRET_ACCESS_KEY: `secret-${n}`,
    AWS_SESSION_TOKEN: `token-${n}`,
  };
}

describe('runner credential files', () => {
  let state = '';
  let env: Record<string, string> = {};

  beforeEach(async () => {
    state = await mkdtemp(join(tmpdir(), 'sluice-credentials-'));
    env = { SLUICE_STATE_DIR: state };
  });

  afterEach(async () => {
    await rm(state, { recursive: true, force: true });
  });

  it('writes the broker token into a directory of 0700 as a file of 0400, under the run', async () => {
    const dir = await brokerTokenCredentials(RUN, 'the-token', env);

    expect(dir).toBe(join(state, 'runners', RUN, 'broker'));
    expect((await stat(dir)).mode & 0o777).toBe(0o700);
    expect((await stat(join(state, 'runners', RUN))).mode & 0o777).toBe(0o700);
    const file = join(dir, 'broker-token');
    expect((await stat(file)).mode & 0o777).toBe(0o400);
    expect(await readFile(file, 'utf8')).toBe('the-token\n');
    expect(await readdir(join(state, 'runners', RUN))).toEqual(['broker']);
  });

  it('writes a session as the [default] profile of an AWS shared credentials file', async () => {
    const dir = await sessionCredentials(RUN, session(1), env);

    const file = join(dir, 'aws-credentials');
    expect((await stat(file)).mode & 0o777).toBe(0o400);
    expect(await readFile(file, 'utf8')).toBe(
      '[default]\naws_access_key_id = ASIA1\naws_secret_access_key = secret-1\naws_session_token = token-1\n',
    );
  });

  it('gives each session a directory of its own and keeps one already written', async () => {
    const first = await sessionCredentials(RUN, session(1), env);
    const again = await sessionCredentials(RUN, session(1), env);
    const second = await sessionCredentials(RUN, session(2), env);

    expect(again).toBe(first);
    expect(second).not.toBe(first);
    expect(await readFile(join(first, 'aws-credentials'), 'utf8')).toContain('secret-1');
    expect(await readFile(join(second, 'aws-credentials'), 'utf8')).toContain('secret-2');
  });

  it('lets concurrent writers of one set agree on one directory, leaving no staging behind', async () => {
    const dirs = await Promise.all(
      [1, 2, 3].map(() => writeRunnerCredentials(RUN, 'broker', { 'broker-token': 'same\n' }, env)),
    );

    expect(new Set(dirs).size).toBe(1);
    expect(await readdir(join(state, 'runners', RUN))).toEqual(['broker']);
  });

  it('removes every set of the run at teardown, once', async () => {
    await brokerTokenCredentials(RUN, 'the-token', env);
    await sessionCredentials(RUN, session(1), env);

    expect(await removeRunnerCredentials(RUN, env)).toBe(true);
    expect(await removeRunnerCredentials(RUN, env)).toBe(false);
    expect(await readdir(join(state, 'runners'))).toEqual([]);
  });
});

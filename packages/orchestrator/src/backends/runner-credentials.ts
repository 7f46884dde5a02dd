// The credential files of a local run's runner containers, kept out of the containers' variables
// (which `docker inspect`/`podman inspect` show, and child processes and crash dumps carry): a
// directory per credential set in this machine's sluice state directory, private to its owner
// (0700, files 0400), which LocalWorkers mounts read-only at RUNNER_CREDENTIALS_DIRECTORY. The
// algorithm, under another uid than the runner (root), cannot read it.
//
// A set's directory is written once, complete (made under a temporary name, then renamed), and never
// changed: a direct run's fresh session gets a directory of its own, so a running container keeps
// the session it was started with (the SDK reads a shared credentials file once anyway). teardown
// removes the run's directories with its containers.
import { createHash } from 'node:crypto';
import { mkdir, mkdtemp, rename, rm, stat, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';

import { RUNNER_CREDENTIAL_FILES } from '@sluice/core/compute';

import type { StepContext } from '../context.js';
import { stateDirectory } from './local-broker.js';

/** The directory of a run's credential sets: `<state directory>/runners/<run-id>`. */
function runDirectory(runId: string, env: StepContext['env']): string {
  return join(resolve(stateDirectory(env)), 'runners', runId);
}

/**
 * Writes a credential set of a run's runners (file name → content) once and returns its directory:
 * 0700, each file 0400. `name` tells sets apart; a set already written under it is kept as it is.
 *
 * @example
 * const dir = await writeRunnerCredentials('thumbs-3f9a0c12', 'broker', { 'broker-token': token }, context.env);
 * @throws Error when the state directory cannot be written.
 */
export async function writeRunnerCredentials(
  runId: string,
  name: string,
  files: Readonly<Record<string, string>>,
  env: StepContext['env'],
): Promise<string> {
  const parent = runDirectory(runId, env);
  const dir = join(parent, name);
  if (await exists(dir)) return dir;
  await mkdir(parent, { recursive: true, mode: 0o700 });
  // mkdtemp makes it 0700; its files are complete before the set appears under its name.
  const staging = await mkdtemp(join(parent, `.${name}-`));
  try {
    for (const [file, content] of Object.entries(files)) {
      await writeFile(join(staging, file), content, { mode: 0o400, flag: 'wx' });
    }
    await rename(staging, dir);
  } catch (thrown) {
    await rm(staging, { recursive: true, force: true });
    // Another process of the run wrote the same set first: use theirs.
    if (await exists(dir)) return dir;
    throw thrown;
  }
  return dir;
}

/**
 * The run's broker token as a credential set (sealed mode): one per run, as the token is.
 *
 * @example
 * const dir = await brokerTokenCredentials('thumbs-3f9a0c12', broker.token, context.env);
 * @throws Error when the state directory cannot be written.
 */
export function brokerTokenCredentials(
  runId: string,
  token: string,
  env: StepContext['env'],
): Promise<string> {
  return writeRunnerCredentials(
    runId,
    'broker',
    { [RUNNER_CREDENTIAL_FILES.brokerToken]: `${token}\n` },
    env,
  );
}

/**
 * An AWS session as a credential set (direct mode): a shared credentials file with the session in its
 * `[default]` profile, in a directory named after the session's key id, so every session has its own.
 *
 * @example
 * const dir = await sessionCredentials('thumbs-3f9a0c12', session.env, context.env);
 * @throws Error when the state directory cannot be written.
 */
export function sessionCredentials(
  runId: string,
  session: Readonly<Record<string, string>>,
  env: StepContext['env'],
): Promise<string> {
  const keyId = session.AWS_ACCESS_KEY_ID ?? '';
  const name = `session-${createHash('sha256').update(keyId).digest('hex').slice(0, 16)}`;
  const lines = [
    '[default]',
    `aws_access_key_id = ${keyId}`,
    `aws_secret_access_key = ${session.AWS_SECRET_ACCESS_KEY ?? ''}`,
    ...(session.AWS_SESSION_TOKEN !== undefined ? [`aws_session_token = ${session.AWS_SESSION_TOKEN}`] : []),
    '',
  ];
  return writeRunnerCredentials(
    runId,
    name,
    { [RUNNER_CREDENTIAL_FILES.awsCredentials]: lines.join('\n') },
    env,
  );
}

/**
 * Removes every credential set of the run (teardown, once its containers are gone). Idempotent.
 *
 * @example
 * await removeRunnerCredentials('thumbs-3f9a0c12', context.env);
 * @throws Error when a directory cannot be removed.
 */
export async function removeRunnerCredentials(runId: string, env: StepContext['env']): Promise<boolean> {
  const dir = runDirectory(runId, env);
  const found = await exists(dir);
  // Files of 0400 in directories of 0700: the owner may remove them.
  await rm(dir, { recursive: true, force: true });
  return found;
}

async function exists(path: string): Promise<boolean> {
  try {
    await stat(path);
    return true;
  } catch (thrown) {
    if ((thrown as NodeJS.ErrnoException).code === 'ENOENT') return false;
    throw thrown;
  }
}

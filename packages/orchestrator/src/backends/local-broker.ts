// The broker of a sealed local run: the run's task control behind a loopback HTTP listener, served
// by whichever sluice process tops up the run's runners (`sluice run`, `serve`, `dispatch`,
// `collect`). Runner containers hold only its address and the run's bearer token.
//
// The port, token and lease key are kept per run in a private file (mode 0600) of this machine's
// sluice state directory, so every process of the run serves the same broker: runners started by
// `sluice dispatch` keep working when `sluice collect` takes over, and leases granted before a
// broker restart stay valid. Nothing of it goes to run.json (a record in the output bucket).
import { chmod, mkdir, readFile, writeFile } from 'node:fs/promises';
import { homedir } from 'node:os';
import { join } from 'node:path';

import { S3Client } from '@aws-sdk/client-s3';
import { SQSClient } from '@aws-sdk/client-sqs';
import {
  JsonLog,
  S3ObjectStore,
  S3Presigner,
  SqsTaskQueue,
  toError,
  type Logger,
  type Manifest,
  type RunnerConfig,
} from '@sluice/core';
import {
  BrokerService,
  TaskControl,
  brokerControlSettings,
  listenBroker,
  newBrokerKey,
  newBrokerToken,
} from '@sluice/core/broker';

import type { AwsContext } from '../aws-context.js';
import type { StepContext } from '../context.js';

/** Where runners reach a run's local broker, and the token they present. */
export interface LocalBrokerAddress {
  /** `http://127.0.0.1:<port>` (rewritten for the container by the backend). */
  readonly url: string;
  readonly token: string;
}

interface BrokerFile {
  readonly port: number;
  readonly token: string;
  readonly key: string;
}

/** A broker this process started: its address, and how to stop serving (nothing when another process serves it). */
interface ServedBroker extends LocalBrokerAddress {
  close(): Promise<void>;
}

/** This process's brokers, by run id: one listener per run per process. */
const serving = new Map<string, Promise<ServedBroker>>();

/**
 * sluice's state directory on this machine: `SLUICE_STATE_DIR`, else `$XDG_STATE_HOME/sluice`,
 * else `~/.local/state/sluice`.
 */
export function stateDirectory(env: StepContext['env']): string {
  if (env.SLUICE_STATE_DIR !== undefined && env.SLUICE_STATE_DIR !== '') return env.SLUICE_STATE_DIR;
  const xdg = env.XDG_STATE_HOME;
  return join(
    xdg !== undefined && xdg !== '' ? xdg : join(env.HOME ?? homedir(), '.local', 'state'),
    'sluice',
  );
}

/** The run's broker file, made on first use with a fresh token and key. */
async function brokerFile(
  runId: string,
  env: StepContext['env'],
): Promise<{ path: string; file: BrokerFile }> {
  const dir = join(stateDirectory(env), 'brokers');
  const path = join(dir, `${runId}.json`);
  try {
    return { path, file: JSON.parse(await readFile(path, 'utf8')) as BrokerFile };
  } catch (thrown) {
    if ((thrown as NodeJS.ErrnoException).code !== 'ENOENT') throw thrown;
  }
  await mkdir(dir, { recursive: true, mode: 0o700 });
  const file: BrokerFile = { port: 0, token: newBrokerToken(), key: newBrokerKey() };
  await writeFile(path, JSON.stringify(file), { mode: 0o600, flag: 'wx' }).catch((thrown: unknown) => {
    // Another process of the run made it first: use theirs.
    if ((thrown as NodeJS.ErrnoException).code !== 'EEXIST') throw thrown;
  });
  return { path, file: JSON.parse(await readFile(path, 'utf8')) as BrokerFile };
}

async function startBroker(
  config: RunnerConfig,
  manifest: Manifest,
  aws: AwsContext,
  context: StepContext,
  reachable: (url: string) => string,
): Promise<ServedBroker> {
  const { path, file } = await brokerFile(config.runId, context.env);
  const logger: Logger = context.logger;
  logger.setSecret(file.token);
  // Clients of its own: the broker outlives the step whose context started it (`sluice run`).
  const s3 = new S3Client(aws.config.s3);
  const sqs = new SQSClient(aws.config.base);
  // A presigned request is signed for its host: on a loopback endpoint (the test bed), sign for the
  // address the runner containers use (the engine's host alias), which forwards to the same server.
  const presignS3 =
    aws.endpoint === undefined ? s3 : new S3Client({ ...aws.config.s3, endpoint: reachable(aws.endpoint) });
  const log = new JsonLog({ runId: config.runId, role: 'broker' }, [file.token], (line) => {
    logger.debug(line.trimEnd());
  });
  const settings = brokerControlSettings(config, manifest);
  const control = new TaskControl({
    settings,
    store: new S3ObjectStore(s3),
    queue: new SqsTaskQueue(sqs, config.queueUrl),
    deadLetter: new SqsTaskQueue(sqs, config.deadLetterQueueUrl),
    log,
    // This process lives on and flushes at its end: deletes of several runners share a batch.
    deleteDelayMs: 1000,
  });
  const service = new BrokerService({
    settings,
    control,
    presigner: new S3Presigner(presignS3),
    key: file.key,
    log,
  });
  try {
    const listener = await listenBroker(service, {
      token: file.token,
      host: '127.0.0.1',
      port: file.port,
      log,
      unref: true,
    });
    if (listener.port !== file.port) {
      await writeFile(path, JSON.stringify({ ...file, port: listener.port }), { mode: 0o600 });
      await chmod(path, 0o600);
    }
    logger.info(`run ${config.runId}: broker listening on ${listener.url} (sealed mode)`);
    return {
      url: listener.url,
      token: file.token,
      close: async () => {
        await listener.close();
        await control.flush();
        s3.destroy();
        sqs.destroy();
        presignS3.destroy();
      },
    };
  } catch (thrown) {
    s3.destroy();
    sqs.destroy();
    presignS3.destroy();
    if ((thrown as NodeJS.ErrnoException).code === 'EADDRINUSE') {
      // Another sluice process of this run serves it (e.g. `sluice dispatch` still running).
      logger.debug(
        `run ${config.runId}: broker port ${file.port} is in use: another sluice process serves it`,
      );
      return { url: `http://127.0.0.1:${file.port}`, token: file.token, close: () => Promise.resolve() };
    }
    throw new Error(`could not start the run's broker: ${toError(thrown).message}`, { cause: thrown });
  }
}

/**
 * The run's local broker, started in this process on first use (later calls get the same one).
 * `reachable` turns a loopback URL into the one runner containers use (presigned requests are
 * signed for that host).
 *
 * @example
 * const broker = await localBroker(config, manifest, aws, context, (url) => containerReachableUrl(url, 'podman'));
 * @throws Error when the broker cannot listen (other than its port being served by another sluice process).
 */
export function localBroker(
  config: RunnerConfig,
  manifest: Manifest,
  aws: AwsContext,
  context: StepContext,
  reachable: (url: string) => string,
): Promise<LocalBrokerAddress> {
  let started = serving.get(config.runId);
  if (started === undefined) {
    started = startBroker(config, manifest, aws, context, reachable);
    started.catch(() => serving.delete(config.runId));
    serving.set(config.runId, started);
  }
  return started.then(({ url, token }) => ({ url, token }));
}

/**
 * Stops serving every broker this process started, when its command or action ends: the runners'
 * long polls would otherwise keep the process alive for as long as they run. The runners wait for
 * the next sluice process of their run (it serves the same broker from the run's broker file), or
 * go idle.
 *
 * @example
 * try { await dispatchStep(job, context); } finally { await closeLocalBrokers(); }
 * @throws never.
 */
export async function closeLocalBrokers(): Promise<void> {
  const started = [...serving.values()];
  serving.clear();
  await Promise.all(
    started.map(async (broker) => {
      await (await broker.catch(() => undefined))?.close();
    }),
  );
}

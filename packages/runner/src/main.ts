/**
 * The runner process: read the settings, connect to its task source (S3 and SQS in direct mode, the
 * run's broker in sealed mode), run the loop, and exit 0 when idle or stopped (SIGTERM, SIGINT), 2
 * when the configuration is wrong, 1 on a fault.
 */
import { readFileSync } from 'node:fs';

import {
  ConfigurationError,
  JsonLog,
  RUNNER_BROKER_TOKEN_FILE_VARIABLE,
  RUNNER_BROKER_TOKEN_VARIABLE,
  S3ObjectStore,
  SqsTaskQueue,
  isConfigurationError,
  toError,
} from '@sluice/core';

import { assembleRunner, directSource, type AssembledRunner } from './assemble.js';
import { awsClients, iamBrokerAuthorizer } from './aws/clients.js';
import { loadSettings, type RunnerSettings } from './config/settings.js';
import { BrokerTaskSource, bearerToken } from './sources/broker-source.js';
import type { TaskSource } from './sources/task-source.js';

/** Exit codes: a user's mistake (2) apart from a fault (1), as the CLI does. */
export const RUNNER_EXIT = { ok: 0, fault: 1, configuration: 2 } as const;

/**
 * The run's bearer token for a local broker: read from the file `SLUICE_BROKER_TOKEN_FILE` names
 * (how the local backend passes it: mounted read-only and private to root, never in the container's
 * variables), else from `SLUICE_BROKER_TOKEN`.
 */
function brokerToken(env: Readonly<Record<string, string | undefined>>): string {
  const file = env[RUNNER_BROKER_TOKEN_FILE_VARIABLE];
  let token = env[RUNNER_BROKER_TOKEN_VARIABLE];
  if (file !== undefined && file !== '') {
    try {
      token = readFileSync(file, 'utf8').trim();
    } catch (thrown) {
      throw new ConfigurationError(
        `${RUNNER_BROKER_TOKEN_FILE_VARIABLE} names ${file}, which cannot be read (${toError(thrown).message}): start runners with sluice run (it mounts the run's token there)`,
        { cause: thrown },
      );
    }
  }
  if (token === undefined || token === '') {
    throw new ConfigurationError(
      `SLUICE_RUN names a broker with token auth, but neither ${RUNNER_BROKER_TOKEN_FILE_VARIABLE} nor ${RUNNER_BROKER_TOKEN_VARIABLE} gives a token: start runners with sluice run (it passes the run's token)`,
    );
  }
  return token;
}

/** The task source the settings ask for, and what to close when the runner ends. */
function taskSource(
  settings: RunnerSettings,
  env: Readonly<Record<string, string | undefined>>,
  log: JsonLog,
): { source: TaskSource; close: () => void } {
  const { broker } = settings.config;
  if (broker !== undefined) {
    if (broker.auth === 'iam') {
      return {
        source: new BrokerTaskSource(
          broker.url,
          iamBrokerAuthorizer(env, broker.url),
          settings.workerId,
          log,
        ),
        close: () => undefined,
      };
    }
    const token = brokerToken(env);
    log.setSecret(token);
    return {
      source: new BrokerTaskSource(broker.url, bearerToken(token), settings.workerId, log),
      close: () => undefined,
    };
  }
  const { s3, sqs } = awsClients(env, settings.config.queueUrl);
  const source = directSource(
    settings,
    {
      store: new S3ObjectStore(s3),
      queue: new SqsTaskQueue(sqs, settings.config.queueUrl),
      deadLetter: new SqsTaskQueue(sqs, settings.config.deadLetterQueueUrl),
    },
    log,
  );
  // Keep-alive sockets would hold the process open after the loop ends.
  return {
    source,
    close: () => {
      s3.destroy();
      sqs.destroy();
    },
  };
}

/** Runs the runner in this process and resolves to its exit code. */
export async function main(env: NodeJS.ProcessEnv = process.env): Promise<number> {
  let log = new JsonLog({});
  const stop = new AbortController();
  const onSignal = (signal: NodeJS.Signals): void => {
    log.info('stopping', { signal });
    stop.abort();
  };
  process.on('SIGTERM', onSignal);
  process.on('SIGINT', onSignal);
  let assembled: AssembledRunner | undefined;
  let closeSource: (() => void) | undefined;
  try {
    const settings = await loadSettings(env);
    log = new JsonLog({ runId: settings.config.runId, workerId: settings.workerId }, [...settings.secrets]);
    const { source, close } = taskSource(settings, env, log);
    closeSource = close;
    assembled = await assembleRunner(settings, source, log, env);
    log.info('runner-started', {
      algorithm: `${settings.manifest.name}@${settings.manifest.version}`,
      mode: settings.config.broker === undefined ? 'direct' : 'sealed',
      ...(settings.config.broker === undefined
        ? { queueUrl: settings.config.queueUrl }
        : { brokerUrl: settings.config.broker.url }),
      idleSeconds: settings.config.idleSeconds,
    });
    const exit = await assembled.runner.run(stop.signal);
    log.info('runner-exiting', { reason: exit, ...assembled.runner.stats, control: source.stats });
    return RUNNER_EXIT.ok;
  } catch (thrown) {
    const error = toError(thrown);
    if (isConfigurationError(thrown)) {
      log.error('configuration-error', { message: error.message });
      return RUNNER_EXIT.configuration;
    }
    log.error('runner-fault', { message: error.message, stack: error.stack });
    return RUNNER_EXIT.fault;
  } finally {
    await assembled?.close();
    closeSource?.();
    process.off('SIGTERM', onSignal);
    process.off('SIGINT', onSignal);
  }
}

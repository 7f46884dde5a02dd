/**
 * The runner process: read the settings, connect to S3 and SQS, run the loop, and exit 0 when idle
 * or stopped (SIGTERM, SIGINT), 2 when the configuration is wrong, 1 on a fault.
 */
import { S3ObjectStore, SqsTaskQueue, isConfigurationError, toError } from '@sluice/core';

import { assembleRunner, type AssembledRunner } from './assemble.js';
import { awsClients } from './aws/clients.js';
import { loadSettings } from './config/settings.js';
import { JsonLog } from './logging/json-log.js';

/** Exit codes: a user's mistake (2) apart from a fault (1), as the CLI does. */
export const RUNNER_EXIT = { ok: 0, fault: 1, configuration: 2 } as const;

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
  let clients: ReturnType<typeof awsClients> | undefined;
  try {
    const settings = await loadSettings(env);
    log = new JsonLog({ runId: settings.config.runId, workerId: settings.workerId }, [...settings.secrets]);
    clients = awsClients(env, settings.config.queueUrl);
    const { s3, sqs } = clients;
    assembled = await assembleRunner(
      settings,
      {
        store: new S3ObjectStore(s3),
        queue: new SqsTaskQueue(sqs, settings.config.queueUrl),
        deadLetter: new SqsTaskQueue(sqs, settings.config.deadLetterQueueUrl),
      },
      log,
      env,
    );
    log.info('runner-started', {
      algorithm: `${settings.manifest.name}@${settings.manifest.version}`,
      queueUrl: settings.config.queueUrl,
      idleSeconds: settings.config.idleSeconds,
    });
    const exit = await assembled.runner.run(stop.signal);
    log.info('runner-exiting', { reason: exit, ...assembled.runner.stats });
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
    // Keep-alive sockets would hold the process open after the loop ends.
    clients?.s3.destroy();
    clients?.sqs.destroy();
    process.off('SIGTERM', onSignal);
    process.off('SIGINT', onSignal);
  }
}

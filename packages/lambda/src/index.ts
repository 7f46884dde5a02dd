// The Lambda bundle's entry, one bundle for two functions of a run: the watcher (handler
// `index.handler`), whose ports are wired to SQS and ECS here, and sealed mode's broker (handler
// `index.brokerHandler`), core's BrokerService behind a function URL. Clients are made once per
// execution environment and reused by every invocation it serves.
import { ECSClient, RunTaskCommand, paginateListTasks } from '@aws-sdk/client-ecs';
import { S3Client } from '@aws-sdk/client-s3';
import { GetQueueAttributesCommand, SQSClient } from '@aws-sdk/client-sqs';
import { awsClientConfig, classifyAwsError, describeAwsError } from '@sluice/core/aws';
import { RUN_TASK_BATCH_SIZE, runTaskDefinitionFamily } from '@sluice/core/ecs';
import { JsonLog, type WatcherLaunch } from '@sluice/core';

import {
  brokerEnvironment,
  brokerService,
  handleBrokerEvent,
  type BrokerHandlerDeps,
  type FunctionUrlEvent,
  type FunctionUrlResult,
} from './broker.js';
import { handleWatcherEvent, type StartFailure, type WatcherOutcome, type WatcherPorts } from './watcher.js';

/**
 * The watcher's ports over real clients: SQS GetQueueAttributes for the backlog, ECS ListTasks
 * (by the run's task definition family, desired status RUNNING, which includes tasks still
 * starting) for the running count, ECS RunTask in batches of {@link RUN_TASK_BATCH_SIZE} for starting.
 *
 * @example
 * const ports = awsWatcherPorts({ sqs: new SQSClient({}), ecs: new ECSClient({}) });
 * @throws never itself; the ports throw ConfigurationError or AwsRequestError for failed reads.
 */
export function awsWatcherPorts(clients: { readonly sqs: SQSClient; readonly ecs: ECSClient }): WatcherPorts {
  const { sqs, ecs } = clients;
  return {
    async backlog(queueUrl) {
      try {
        const { Attributes } = await sqs.send(
          new GetQueueAttributesCommand({
            QueueUrl: queueUrl,
            AttributeNames: [
              'ApproximateNumberOfMessages',
              'ApproximateNumberOfMessagesNotVisible',
              'ApproximateNumberOfMessagesDelayed',
            ],
          }),
        );
        return {
          visible: Number(Attributes?.ApproximateNumberOfMessages ?? '0'),
          inFlight: Number(Attributes?.ApproximateNumberOfMessagesNotVisible ?? '0'),
          delayed: Number(Attributes?.ApproximateNumberOfMessagesDelayed ?? '0'),
        };
      } catch (thrown: unknown) {
        throw classifyAwsError(thrown, 'SQS.GetQueueAttributes', queueUrl);
      }
    },

    async running({ cluster, runId }) {
      // The family ecs-workers lists by too: the run's own task definition.
      const family = runTaskDefinitionFamily(runId);
      let count = 0;
      try {
        // By family, not startedBy: ECS allows no other filter beside startedBy, and desiredStatus
        // (RUNNING is AWS's default) must be given for moto, which lists stopped tasks too.
        for await (const page of paginateListTasks(
          { client: ecs },
          { cluster, family, desiredStatus: 'RUNNING' },
        )) {
          count += page.taskArns?.length ?? 0;
        }
      } catch (thrown: unknown) {
        throw classifyAwsError(thrown, 'ECS.ListTasks', `${cluster} (family ${family})`);
      }
      return count;
    },

    async start(launch, count) {
      return startTasks(ecs, launch, count);
    },
  };
}

/**
 * Starts `count` tasks in RunTask calls of at most 10, collecting ECS's failures (capacity, limits).
 * A call that throws (throttled, denied) is a failure too, and ends this round: the next minute's
 * invocation asks again.
 */
async function startTasks(
  ecs: ECSClient,
  launch: WatcherLaunch,
  count: number,
): Promise<{ started: number; failures: StartFailure[] }> {
  let started = 0;
  const failures: StartFailure[] = [];
  for (let remaining = count; remaining > 0; remaining -= RUN_TASK_BATCH_SIZE) {
    const batch = Math.min(RUN_TASK_BATCH_SIZE, remaining);
    try {
      const result = await ecs.send(new RunTaskCommand({ ...launch, count: batch }));
      started += result.tasks?.length ?? 0;
      for (const failure of result.failures ?? []) {
        failures.push({
          reason: failure.reason ?? 'unknown',
          ...(failure.detail !== undefined && { detail: failure.detail }),
        });
      }
    } catch (thrown: unknown) {
      const error = classifyAwsError(thrown, 'ECS.RunTask', launch.taskDefinition);
      failures.push({ reason: describeAwsError(thrown).code, detail: error.message });
      break;
    }
  }
  return { started, failures };
}

let ports: WatcherPorts | undefined;

/**
 * The Lambda handler: EventBridge invokes it every minute with the run's watcher event.
 *
 * @example
 * // Lambda: runtime nodejs22.x, handler "index.handler", package.json {"type":"module"} next to index.js
 * await handler({ sluice: 'watcher/1', runId, queueUrl, maxWorkers: 4, minWorkers: 0, launch });
 * @throws the fault when the queue or the tasks cannot be read (Lambda records the error).
 */
export const handler = async (event: unknown): Promise<WatcherOutcome> => {
  if (ports === undefined) {
    // The Lambda's region and role credentials are in its environment; AWS_ENDPOINT_URL for moto.
    const config = awsClientConfig(process.env);
    ports = awsWatcherPorts({ sqs: new SQSClient(config.sqs), ecs: new ECSClient(config.base) });
  }
  return handleWatcherEvent(event, ports);
};

let broker: BrokerHandlerDeps | undefined;

/** Leaves this much of the invocation's time to answer after the service gives up waiting. */
const ANSWER_MARGIN_MS = 3000;

/**
 * The broker's Lambda handler: its function URL (IAM auth) invokes it with each runner request.
 *
 * @example
 * // Lambda: handler "index.brokerHandler", SLUICE_BROKER and SLUICE_BROKER_KEY in its environment
 * await brokerHandler({ rawPath: '/v1/lease', body: '{"workerId":"w","waitSeconds":20}', requestContext: { http: { method: 'POST' } } });
 * @throws {ConfigurationError} when its environment lacks the run's settings (Lambda records the error).
 */
export const brokerHandler = async (
  event: FunctionUrlEvent,
  context?: { getRemainingTimeInMillis?: () => number },
): Promise<FunctionUrlResult> => {
  if (broker === undefined) {
    const environment = brokerEnvironment(process.env);
    // The function's region, role credentials and (moto) AWS_ENDPOINT_URL are in its environment.
    const config = awsClientConfig(process.env);
    const log = new JsonLog({ runId: environment.settings.config.runId, component: 'broker' });
    broker = {
      service: brokerService(
        environment,
        { s3: new S3Client(config.s3), sqs: new SQSClient(config.sqs) },
        log,
      ),
      log,
    };
  }
  const remaining = context?.getRemainingTimeInMillis?.();
  const signal =
    remaining === undefined ? undefined : AbortSignal.timeout(Math.max(1000, remaining - ANSWER_MARGIN_MS));
  return handleBrokerEvent(event, broker, signal);
};

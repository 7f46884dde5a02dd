// The broker Lambda (sealed mode on ECS, handler `index.brokerHandler`): a function URL with IAM auth
// in front of core's BrokerService. Lambda has authenticated the caller (SigV4, the run's task role)
// before the handler runs; the handler maps the function URL event (`POST /v1/<operation>`, the body
// possibly base64) to `BrokerService.handle` and its answer back to an HTTP response. The service is
// stateless between requests (the lease travels in its signed token), so any number of concurrent
// instances serve one run.
import {
  ConfigurationError,
  JsonLog,
  parseRunnerConfig,
  S3ObjectStore,
  S3Presigner,
  SqsTaskQueue,
  toError,
} from '@sluice/core';
import { BROKER_PROTOCOL, BROKER_PROTOCOL_HEADER, BrokerService, TaskControl } from '@sluice/core/broker';
import { BROKER_KEY_VARIABLE, BROKER_SETTINGS_VARIABLE, type BrokerFunctionSettings } from '@sluice/core/ecs';

/** The part of a function URL event (payload format 2.0) the broker reads. */
export interface FunctionUrlEvent {
  readonly rawPath?: string;
  readonly body?: string;
  readonly isBase64Encoded?: boolean;
  readonly requestContext?: { readonly http?: { readonly method?: string } };
}

/** A function URL response. */
export interface FunctionUrlResult {
  readonly statusCode: number;
  readonly headers: Readonly<Record<string, string>>;
  readonly body: string;
}

/** What the broker's handler needs: the service, built once per execution environment. */
export interface BrokerHandlerDeps {
  readonly service: Pick<BrokerService, 'handle'>;
  readonly log?: JsonLog;
}

function answer(statusCode: number, body: unknown): FunctionUrlResult {
  return {
    statusCode,
    headers: { 'content-type': 'application/json', [BROKER_PROTOCOL_HEADER]: BROKER_PROTOCOL },
    body: JSON.stringify(body),
  };
}

function refusal(statusCode: number, code: string, message: string): FunctionUrlResult {
  return answer(statusCode, { error: { code, message } });
}

/**
 * Answers one function URL request with the broker service: 404 for another method or path, 400 for
 * a body that is not JSON, else whatever `BrokerService.handle` answers (it never throws).
 *
 * @example
 * const result = await handleBrokerEvent({ rawPath: '/v1/lease', body, requestContext: { http: { method: 'POST' } } }, { service });
 * @throws never.
 */
export async function handleBrokerEvent(
  event: FunctionUrlEvent,
  deps: BrokerHandlerDeps,
  signal?: AbortSignal,
): Promise<FunctionUrlResult> {
  const method = event.requestContext?.http?.method ?? '';
  const match = /^\/v1\/([a-z]+)$/.exec(event.rawPath ?? '');
  if (method !== 'POST' || match?.[1] === undefined) {
    return refusal(404, 'no-such-operation', `no ${method} ${event.rawPath ?? ''}`);
  }
  const text =
    event.isBase64Encoded === true
      ? Buffer.from(event.body ?? '', 'base64').toString('utf8')
      : (event.body ?? '');
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {
    return refusal(400, 'bad-request', 'the request body is not JSON');
  }
  const result = await deps.service.handle(match[1], body, signal);
  return answer(result.status, result.body);
}

/**
 * The broker's settings and key from its environment (written by provision-run, `ensureBroker`).
 *
 * @example
 * const { settings, key } = brokerEnvironment(process.env);
 * @throws {ConfigurationError} when a variable is missing or its settings are not a valid run.
 */
export function brokerEnvironment(env: Readonly<Record<string, string | undefined>>): {
  readonly settings: BrokerFunctionSettings;
  readonly key: string;
} {
  const text = env[BROKER_SETTINGS_VARIABLE];
  const key = env[BROKER_KEY_VARIABLE];
  if (text === undefined || key === undefined || key === '') {
    throw new ConfigurationError(
      `the broker function needs ${BROKER_SETTINGS_VARIABLE} and ${BROKER_KEY_VARIABLE} in its environment: provision the run again`,
    );
  }
  let parsed: BrokerFunctionSettings;
  try {
    parsed = JSON.parse(text) as BrokerFunctionSettings;
  } catch (thrown: unknown) {
    throw new ConfigurationError(`${BROKER_SETTINGS_VARIABLE} is not JSON: ${toError(thrown).message}`);
  }
  const config = parseRunnerConfig(JSON.stringify(parsed.config), BROKER_SETTINGS_VARIABLE);
  return { settings: { ...parsed, config }, key };
}

/**
 * The broker service over real clients: the run's task control on S3 and SQS, presigning with the
 * function's own role.
 *
 * @example
 * const service = brokerService(brokerEnvironment(process.env), { s3, sqs }, log);
 * @throws never.
 */
export function brokerService(
  environment: { readonly settings: BrokerFunctionSettings; readonly key: string },
  clients: {
    readonly s3: ConstructorParameters<typeof S3ObjectStore>[0];
    readonly sqs: ConstructorParameters<typeof SqsTaskQueue>[0];
  },
  log: JsonLog,
): BrokerService {
  const { settings, key } = environment;
  const control = new TaskControl({
    settings,
    store: new S3ObjectStore(clients.s3),
    queue: new SqsTaskQueue(clients.sqs, settings.config.queueUrl),
    deadLetter: new SqsTaskQueue(clients.sqs, settings.config.deadLetterQueueUrl),
    log,
  });
  return new BrokerService({ settings, control, presigner: new S3Presigner(clients.s3), key, log });
}

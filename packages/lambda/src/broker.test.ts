// The broker Lambda's handler: a function URL event becomes a BrokerService request and its answer an
// HTTP response; its environment becomes the service's settings and key.
import { describe, expect, it } from '@jest/globals';
import type { BrokerAnswer } from '@sluice/core/broker';
import { BROKER_KEY_VARIABLE, BROKER_SETTINGS_VARIABLE } from '@sluice/core/ecs';

import { brokerEnvironment, handleBrokerEvent, type FunctionUrlEvent } from './broker.js';

/** A service that answers every request with what it was asked, as BrokerService answers 200. */
function echoService(seen: { operation: string; body: unknown }[]) {
  return {
    handle(operation: string, body: unknown): Promise<BrokerAnswer> {
      seen.push({ operation, body });
      return Promise.resolve({ status: operation === 'lease' ? 200 : 410, body: { operation } });
    },
  };
}

const post = (path: string, body: string, base64 = false): FunctionUrlEvent => ({
  rawPath: path,
  body: base64 ? Buffer.from(body).toString('base64') : body,
  isBase64Encoded: base64,
  requestContext: { http: { method: 'POST' } },
});

describe('handleBrokerEvent', () => {
  it('hands POST /v1/<operation> to the service, decoding a base64 body, and answers with its status', async () => {
    const seen: { operation: string; body: unknown }[] = [];
    const service = echoService(seen);

    const lease = await handleBrokerEvent(post('/v1/lease', '{"workerId":"w-1","waitSeconds":20}', true), {
      service,
    });
    const heartbeat = await handleBrokerEvent(post('/v1/heartbeat', '{"token":"t"}'), { service });

    expect(seen).toEqual([
      { operation: 'lease', body: { workerId: 'w-1', waitSeconds: 20 } },
      { operation: 'heartbeat', body: { token: 't' } },
    ]);
    expect(lease).toEqual({
      statusCode: 200,
      headers: { 'content-type': 'application/json', 'x-sluice-protocol': 'sluice-broker/1' },
      body: '{"operation":"lease"}',
    });
    expect(heartbeat.statusCode).toBe(410);
  });

  it('refuses another method or path (404) and a body that is not JSON (400), without asking the service', async () => {
    const seen: { operation: string; body: unknown }[] = [];
    const service = echoService(seen);

    const get = await handleBrokerEvent(
      { ...post('/v1/lease', '{}'), requestContext: { http: { method: 'GET' } } },
      { service },
    );
    const other = await handleBrokerEvent(post('/admin', '{}'), { service });
    const garbled = await handleBrokerEvent(post('/v1/lease', 'not json'), { service });

    expect([get.statusCode, other.statusCode, garbled.statusCode]).toEqual([404, 404, 400]);
    expect(JSON.parse(garbled.body)).toEqual({
      error: { code: 'bad-request', message: 'the request body is not JSON' },
    });
    expect(seen).toEqual([]);
  });
});

describe('brokerEnvironment', () => {
  const config = {
    runId: 'thumbs-3f9a0c12',
    queueUrl: 'https://sqs.eu-west-1.amazonaws.com/123456789012/sluice-thumbs-3f9a0c12-tasks',
    deadLetterQueueUrl: 'https://sqs.eu-west-1.amazonaws.com/123456789012/sluice-thumbs-3f9a0c12-tasks-dlq',
    input: { bucket: 'photos', prefix: 'in/', include: ['**'] },
    output: { bucket: 'thumbs', prefix: 'out/' },
    maxAttempts: 3,
    idleSeconds: 60,
    env: {},
    secretEnv: [],
  };
  const settings = {
    config,
    manifest: {},
    timeoutSeconds: 600,
    heartbeatSeconds: 20,
    retryDelaySeconds: 10,
    algorithmDigest: `sha256:${'a'.repeat(64)}`,
  };

  it('reads the settings and the key provision-run wrote', () => {
    const environment = brokerEnvironment({
      [BROKER_SETTINGS_VARIABLE]: JSON.stringify(settings),
      [BROKER_KEY_VARIABLE]: 'k'.repeat(43),
    });

    expect(environment.key).toBe('k'.repeat(43));
    expect(environment.settings.config.runId).toBe('thumbs-3f9a0c12');
    expect(environment.settings.timeoutSeconds).toBe(600);
  });

  it('refuses a missing key or a run that does not validate', () => {
    expect(() => brokerEnvironment({ [BROKER_SETTINGS_VARIABLE]: JSON.stringify(settings) })).toThrow(
      BROKER_KEY_VARIABLE,
    );
    expect(() =>
      brokerEnvironment({
        [BROKER_SETTINGS_VARIABLE]: JSON.stringify({ ...settings, config: { ...config, maxAttempts: 0 } }),
        [BROKER_KEY_VARIABLE]: 'k'.repeat(43),
      }),
    ).toThrow(/maxAttempts/);
  });
});

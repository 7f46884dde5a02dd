// Test-only stand-ins for what AWS gives a sealed-mode ECS task and moto cannot: the run's broker
// Lambda behind its function URL (moto creates the function and the URL but neither runs the one nor
// serves the other), and the task role's credentials (the ECS agent's credentials endpoint).
//
// The broker stand-in runs the real `brokerHandler` of the built Lambda bundle
// (packages/lambda/dist/index.js, what provision-run zips) in this process, with the environment moto
// stored for the function, behind a loopback HTTP listener that turns requests into function URL
// events (payload 2.0). Like a function URL with `AWS_IAM` auth, it answers 403 to a request whose
// SigV4 signature (service `lambda`, the function's region, the task role's credentials) it cannot
// recompute — so the runner's signing is proven; IAM's policy evaluation is not played (docs/iam.md's
// simulator tests cover the policies).
import { createHash, randomUUID, timingSafeEqual } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { pathToFileURL } from 'node:url';

import {
  GetFunctionConfigurationCommand,
  GetFunctionUrlConfigCommand,
  type LambdaClient,
} from '@aws-sdk/client-lambda';
import { SignatureV4 } from '@smithy/signature-v4';
import { silentLogger, toError, type Logger } from '@sluice/core';
import { NodeSha256 } from '@sluice/core/aws';

import { REPOSITORY_ROOT } from './testbed-endpoints.js';

/** The Lambda bundle whose `brokerHandler` the stand-ins run (built by `nx run-many -t build`). */
const LAMBDA_BUNDLE = `${REPOSITORY_ROOT}packages/lambda/dist/index.js`;

/** The credentials a played task's role hands out, which its broker's stand-in verifies against. */
export interface TaskRoleCredentials {
  readonly accessKeyId: string;
  readonly secretAccessKey: string;
  readonly sessionToken: string;
}

/** What a function URL invocation gives the handler and what it answers (payload format 2.0). */
interface FunctionUrlResult {
  readonly statusCode: number;
  readonly headers?: Readonly<Record<string, string>>;
  readonly body?: string;
}
type BrokerHandler = (
  event: unknown,
  context: { getRemainingTimeInMillis: () => number },
) => Promise<FunctionUrlResult>;

/**
 * The ECS agent's credentials endpoint, as a played task reaches it: `AWS_CONTAINER_CREDENTIALS_FULL_URI`
 * (the SDK allows plain HTTP to a loopback address) instead of ECS's link-local
 * `AWS_CONTAINER_CREDENTIALS_RELATIVE_URI`. The path holds a random id, as ECS's relative URI does.
 */
export class TaskCredentialsEndpoint {
  private constructor(
    private readonly server: Server,
    /** The URL a container on the host's network is given. */
    readonly url: string,
  ) {}

  /**
   * Serves `credentials` on 127.0.0.1 (a free port) until {@link close}.
   *
   * @example
   * const endpoint = await TaskCredentialsEndpoint.start(credentials);
   * env.AWS_CONTAINER_CREDENTIALS_FULL_URI = endpoint.url;
   * @throws Error when no port can be bound.
   */
  static async start(credentials: TaskRoleCredentials): Promise<TaskCredentialsEndpoint> {
    const path = `/v2/credentials/${randomUUID()}`;
    const server = createServer((request, response) => {
      if (request.method !== 'GET' || request.url !== path) {
        response.writeHead(404).end();
        return;
      }
      response.writeHead(200, { 'content-type': 'application/json' }).end(
        JSON.stringify({
          AccessKeyId: credentials.accessKeyId,
          SecretAccessKey: credentials.secretAccessKey,
          Token: credentials.sessionToken,
          Expiration: new Date(Date.now() + 6 * 3600_000).toISOString(),
        }),
      );
    });
    const port = await listen(server);
    return new TaskCredentialsEndpoint(server, `http://127.0.0.1:${port}${path}`);
  }

  /** Stops serving. */
  async close(): Promise<void> {
    await closeServer(this.server);
  }
}

/** How a broker stand-in's requests went, for a test to assert on. */
export interface BrokerStandInCounts {
  /** Requests whose signature verified (whatever the handler then answered). */
  readonly accepted: number;
  /** Requests refused with 403 (no, foreign or wrong signature), with why. */
  readonly refused: readonly string[];
}

/** Options of {@link BrokerStandIn.start}. */
export interface BrokerStandInOptions {
  /** moto's Lambda client: where the function's environment and URL are read. */
  readonly lambda: LambdaClient;
  readonly functionName: string;
  /** The URL the runner was given: it must be the function's URL on moto. */
  readonly functionUrl: string;
  /** The caller's (the task role's) credentials: what a signature must be made with. */
  readonly caller: TaskRoleCredentials;
  /** What stands in for the function role's credentials (Lambda's runtime gives them as variables). */
  readonly functionCredentials: { readonly accessKeyId: string; readonly secretAccessKey: string };
  readonly logger?: Logger;
}

/** The most a signature's time may be from ours, as AWS allows. */
const MAX_CLOCK_SKEW_MS = 5 * 60_000;

/** What a stand-in's listener serves requests with. */
interface StandInContext {
  readonly signer: SignatureV4;
  readonly caller: TaskRoleCredentials;
  readonly region: string;
  readonly handler: BrokerHandler;
  readonly timeoutMs: number;
  readonly logger: Logger;
  readonly tally: { accepted: number; readonly refused: string[] };
}

/** A loopback stand-in for one broker function and its IAM-auth function URL. */
export class BrokerStandIn {
  private constructor(
    private readonly server: Server,
    /** The listener's URL (`http://127.0.0.1:<port>`), reachable from a container on the host's network. */
    readonly url: string,
    private readonly tally: StandInContext['tally'],
  ) {}

  /**
   * Reads the function's configuration from moto, loads the Lambda bundle's `brokerHandler` (a module
   * instance of its own per function: the handler keeps its service in module state) with the
   * function's environment, and listens on 127.0.0.1 (a free port).
   *
   * @example
   * const standIn = await BrokerStandIn.start({ lambda, functionName, functionUrl, caller, functionCredentials });
   * config.broker.url = standIn.url;
   * @throws Error when the function or its URL is not on moto, the URL differs, or the bundle is not built.
   */
  static async start(options: BrokerStandInOptions): Promise<BrokerStandIn> {
    const { lambda, functionName } = options;
    const url = await lambda.send(new GetFunctionUrlConfigCommand({ FunctionName: functionName }));
    if (url.FunctionUrl !== options.functionUrl) {
      throw new Error(
        `the runner's broker URL ${options.functionUrl} is not ${functionName}'s (${url.FunctionUrl ?? 'none'})`,
      );
    }
    if (url.AuthType !== 'AWS_IAM')
      throw new Error(`${functionName}'s URL has auth ${url.AuthType ?? 'none'}`);
    const configuration = await lambda.send(
      new GetFunctionConfigurationCommand({ FunctionName: functionName }),
    );
    const region = /^arn:aws[a-z-]*:lambda:([a-z0-9-]+):/.exec(configuration.FunctionArn ?? '')?.[1];
    if (region === undefined) throw new Error(`${functionName} has no ARN with a region`);
    // What Lambda's runtime adds to the function's own variables (the role's credentials as keys).
    const environment: Record<string, string> = {
      ...configuration.Environment?.Variables,
      AWS_REGION: region,
      AWS_DEFAULT_REGION: region,
      AWS_LAMBDA_FUNCTION_NAME: functionName,
      AWS_ACCESS_KEY_ID: options.functionCredentials.accessKeyId,
      AWS_SECRET_ACCESS_KEY: options.functionCredentials.secretAccessKey,
    };
    const handler = await loadBrokerHandler(functionName, environment);
    const timeoutMs = (configuration.Timeout ?? 3) * 1000;
    const signer = new SignatureV4({
      service: 'lambda',
      region,
      credentials: options.caller,
      sha256: NodeSha256,
    });
    const context: StandInContext = {
      signer,
      caller: options.caller,
      region,
      handler,
      timeoutMs,
      logger: options.logger ?? silentLogger,
      tally: { accepted: 0, refused: [] },
    };
    const server = createServer((request, response) => {
      void serve(request, response, context);
    });
    const port = await listen(server);
    return new BrokerStandIn(server, `http://127.0.0.1:${port}`, context.tally);
  }

  /** How many requests were accepted and why others were refused. */
  counts(): BrokerStandInCounts {
    return { accepted: this.tally.accepted, refused: [...this.tally.refused] };
  }

  /** Stops listening (a runner still calling gets connection errors, as after teardown). */
  async close(): Promise<void> {
    await closeServer(this.server);
  }
}

/** Answers one request: 403 unless its signature verifies, else what the handler answers. */
async function serve(
  request: IncomingMessage,
  response: ServerResponse,
  context: StandInContext,
): Promise<void> {
  try {
    const body = await readBody(request);
    const refusal = await verifySignature(request, body, context);
    if (refusal !== undefined) {
      context.tally.refused.push(refusal);
      context.logger.info(
        `broker stand-in: 403 for ${request.method ?? ''} ${request.url ?? ''}: ${refusal}`,
      );
      response.writeHead(403, { 'content-type': 'application/json' }).end('{"Message":"Forbidden"}');
      return;
    }
    context.tally.accepted += 1;
    const deadline = Date.now() + context.timeoutMs;
    const result = await context.handler(functionUrlEvent(request, body), {
      getRemainingTimeInMillis: () => deadline - Date.now(),
    });
    response.writeHead(result.statusCode, { ...result.headers }).end(result.body ?? '');
  } catch (thrown: unknown) {
    // What a function URL answers when the function itself fails.
    context.logger.warning(`broker stand-in: the handler failed: ${toError(thrown).message}`);
    if (!response.headersSent) response.writeHead(502, { 'content-type': 'application/json' });
    response.end('{"Message":"Internal Server Error"}');
  }
}

/**
 * Imports the bundle as a module of its own for this function, and builds its broker (the handler
 * does on its first invocation, from `process.env`) with the function's environment: `process.env`
 * is swapped only while that first call runs synchronously — everything the handler reads from its
 * environment is read then — so nothing else in this process ever sees it.
 */
async function loadBrokerHandler(
  functionName: string,
  environment: Readonly<Record<string, string>>,
): Promise<BrokerHandler> {
  const bundle = (await import(
    `${pathToFileURL(LAMBDA_BUNDLE).href}?function=${encodeURIComponent(functionName)}`
  )) as { brokerHandler?: unknown };
  if (typeof bundle.brokerHandler !== 'function') {
    throw new Error(`${LAMBDA_BUNDLE} exports no brokerHandler: build it (npx nx run-many -t build)`);
  }
  const handler = bundle.brokerHandler as BrokerHandler;
  const saved = process.env;
  let warmUp: Promise<FunctionUrlResult>;
  try {
    process.env = { ...environment };
    // A GET is refused before the service is used; building the service is what this call is for.
    warmUp = handler(
      { rawPath: '/', requestContext: { http: { method: 'GET' } } },
      { getRemainingTimeInMillis: () => 1000 },
    );
  } finally {
    process.env = saved;
  }
  await warmUp;
  return handler;
}

/** A function URL event (payload format 2.0) for a request Lambda has authenticated. */
function functionUrlEvent(request: IncomingMessage, body: Buffer): unknown {
  const url = new URL(request.url ?? '/', 'http://stand-in');
  const headers: Record<string, string> = {};
  for (const [name, value] of Object.entries(request.headers)) {
    if (value !== undefined) headers[name] = Array.isArray(value) ? value.join(',') : value;
  }
  const method = request.method ?? 'GET';
  return {
    version: '2.0',
    routeKey: '$default',
    rawPath: url.pathname,
    rawQueryString: url.search.slice(1),
    headers,
    requestContext: {
      http: {
        method,
        path: url.pathname,
        protocol: 'HTTP/1.1',
        sourceIp: request.socket.remoteAddress ?? '',
      },
      requestId: randomUUID(),
      timeEpoch: Date.now(),
    },
    body: body.toString('utf8'),
    isBase64Encoded: false,
  };
}

const AUTHORIZATION =
  /^AWS4-HMAC-SHA256 Credential=([^/,\s]+)\/(\d{8})\/([^/,\s]+)\/([^/,\s]+)\/aws4_request, ?SignedHeaders=([a-z0-9;-]+), ?Signature=[0-9a-f]{64}$/;

/**
 * Checks a request's SigV4 signature as IAM auth does: made with the caller's key for service
 * `lambda` in the function's region, recent, over the body as sent, and equal to the one recomputed
 * from the request as it arrived (its Host included).
 *
 * @returns why it is refused, or undefined when it verifies.
 */
async function verifySignature(
  request: IncomingMessage,
  body: Buffer,
  verifier: { readonly signer: SignatureV4; readonly caller: TaskRoleCredentials; readonly region: string },
): Promise<string | undefined> {
  const { signer, caller, region: expectedRegion } = verifier;
  const authorization = request.headers.authorization;
  if (authorization === undefined) return 'no Authorization header';
  const parts = AUTHORIZATION.exec(authorization);
  if (parts === null) return 'an Authorization header that is not SigV4';
  const [, keyId, , region, service, signedHeaders = ''] = parts;
  if (keyId !== caller.accessKeyId) return `signed with another key (${keyId ?? ''})`;
  if (service !== 'lambda' || region !== expectedRegion) {
    return `signed for service ${service ?? ''} in ${region ?? ''}, not lambda in ${expectedRegion}`;
  }
  const amzDate = header(request, 'x-amz-date') ?? '';
  const time = /^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z$/.exec(amzDate);
  if (time === null) return 'no valid x-amz-date';
  const signingDate = new Date(`${time[1]}-${time[2]}-${time[3]}T${time[4]}:${time[5]}:${time[6]}Z`);
  if (Math.abs(signingDate.getTime() - Date.now()) > MAX_CLOCK_SKEW_MS)
    return `signed at ${amzDate}: too far from now`;
  const contentHash = header(request, 'x-amz-content-sha256');
  if (contentHash !== undefined && contentHash !== createHash('sha256').update(body).digest('hex')) {
    return 'x-amz-content-sha256 is not the hash of the body';
  }
  const headers: Record<string, string> = {};
  for (const name of signedHeaders.split(';')) {
    const value = header(request, name);
    if (value === undefined) return `signed header ${name} is missing`;
    headers[name] = value;
  }
  const host = headers.host;
  if (host === undefined) return 'the Host header is not signed';
  const { hostname, port } = new URL(`http://${host}`);
  const url = new URL(request.url ?? '/', `http://${host}`);
  const query: Record<string, string> = {};
  for (const [name, value] of url.searchParams) query[name] = value;
  const expected = await signer.sign(
    {
      method: request.method ?? 'GET',
      protocol: 'http:',
      hostname,
      ...(port !== '' && { port: Number(port) }),
      path: url.pathname,
      query,
      headers,
      body,
    },
    { signingDate },
  );
  const want = Buffer.from(expected.headers.authorization ?? '');
  const got = Buffer.from(authorization);
  return want.length === got.length && timingSafeEqual(want, got)
    ? undefined
    : 'the signature does not match';
}

function header(request: IncomingMessage, name: string): string | undefined {
  const value = request.headers[name];
  return Array.isArray(value) ? value.join(',') : value;
}

async function readBody(request: IncomingMessage): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of request) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

function listen(server: Server): Promise<number> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      resolve((server.address() as AddressInfo).port);
    });
  });
}

function closeServer(server: Server): Promise<void> {
  const closed = new Promise<void>((resolve) => {
    server.close(() => {
      resolve();
    });
  });
  server.closeAllConnections();
  return closed;
}

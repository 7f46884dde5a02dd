/**
 * The broker on a local HTTP listener, as `sluice run` and `sluice serve` start it for the local
 * backend: `POST /v1/<operation>` with `Authorization: Bearer <run token>`. The token is the run's
 * only credential a runner container holds; a request without it (another run's runner, the
 * algorithm guessing the address) gets 401 before anything else is read.
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { randomBytes, timingSafeEqual } from 'node:crypto';

import type { JsonLog } from '../logging/json-log.js';
import type { BrokerService } from './broker-service.js';
import { BROKER_PROTOCOL, BROKER_PROTOCOL_HEADER } from './protocol.js';

/** Largest request body: a completion lists outputs, never their data. */
const MAX_BODY_BYTES = 16 * 1024 * 1024;

/** A listening broker. */
export interface BrokerListener {
  /** `http://<host>:<port>` as bound. */
  readonly url: string;
  readonly port: number;
  close(): Promise<void>;
}

/**
 * A new bearer token for a run's local broker (32 random bytes, base64url).
 *
 * @example
 * const token = newBrokerToken();
 * @throws never.
 */
export function newBrokerToken(): string {
  return randomBytes(32).toString('base64url');
}

/**
 * Serves a broker on `host:port` (port 0: any free port).
 *
 * @example
 * const listener = await listenBroker(service, { token, host: '127.0.0.1', port: 0, log });
 * @throws the listen error (EADDRINUSE, EACCES).
 */
export async function listenBroker(
  service: BrokerService,
  options: {
    readonly token: string;
    readonly host: string;
    readonly port: number;
    readonly log: JsonLog;
    /** Let the process exit while it listens (a CLI serving its runners while it works). */
    readonly unref?: boolean;
  },
): Promise<BrokerListener> {
  const expected = Buffer.from(`Bearer ${options.token}`);
  const inFlight = new Set<AbortController>();
  const server = createServer((request, response) => {
    const abort = new AbortController();
    inFlight.add(abort);
    response.on('close', () => {
      abort.abort();
      inFlight.delete(abort);
    });
    void answer(request, response, abort.signal).catch((thrown: unknown) => {
      options.log.error('broker-request-failed', { message: String(thrown) });
      if (!response.headersSent)
        send(response, 500, { error: { code: 'broker-fault', message: 'internal error' } });
    });
  });

  async function answer(
    request: IncomingMessage,
    response: ServerResponse,
    signal: AbortSignal,
  ): Promise<void> {
    const given = Buffer.from(request.headers.authorization ?? '');
    if (given.length !== expected.length || !timingSafeEqual(given, expected)) {
      send(response, 401, {
        error: {
          code: 'unauthorized',
          message: 'this broker serves the runners of its own run only (bad or missing token)',
        },
      });
      request.resume();
      return;
    }
    const match = /^\/v1\/([a-z]+)$/.exec(request.url ?? '');
    if (request.method !== 'POST' || match?.[1] === undefined) {
      send(response, 404, {
        error: { code: 'no-such-operation', message: `no ${request.method ?? ''} ${request.url ?? ''}` },
      });
      request.resume();
      return;
    }
    const text = await readBody(request);
    if (text === undefined) {
      send(response, 413, {
        error: { code: 'too-large', message: `a request body is at most ${MAX_BODY_BYTES} bytes` },
      });
      return;
    }
    let body: unknown;
    try {
      body = JSON.parse(text);
    } catch {
      send(response, 400, { error: { code: 'bad-request', message: 'the request body is not JSON' } });
      return;
    }
    const result = await service.handle(match[1], body, signal);
    send(response, result.status, result.body);
  }

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port, options.host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  if (options.unref === true) server.unref();
  const { port } = server.address() as AddressInfo;
  const host = options.host.includes(':') ? `[${options.host}]` : options.host;
  return {
    url: `http://${host}:${port}`,
    port,
    close: async () => {
      for (const abort of inFlight) abort.abort();
      server.closeAllConnections();
      await new Promise<void>((resolve) => {
        server.close(() => {
          resolve();
        });
      });
    },
  };
}

async function readBody(request: IncomingMessage): Promise<string | undefined> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of request) {
    size += (chunk as Buffer).length;
    if (size > MAX_BODY_BYTES) return undefined;
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks).toString('utf8');
}

function send(response: ServerResponse, status: number, body: unknown): void {
  response.writeHead(status, {
    'content-type': 'application/json',
    [BROKER_PROTOCOL_HEADER]: BROKER_PROTOCOL,
  });
  response.end(JSON.stringify(body));
}

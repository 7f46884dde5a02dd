/**
 * Sealed mode: the runner holds no storage or queue credential, only its broker's address and a way
 * to authenticate to it (the run's bearer token locally, the task role's SigV4 signature for a
 * Lambda function URL on AWS). The broker leases tasks and commits; the data moves straight between
 * S3 and this runner through the presigned GET and POST the lease carries.
 */
import {
  ConfigurationError,
  downloadPresigned,
  type JsonLog,
  outputKeyUnder,
  toError,
  uploadPresignedPost,
} from '@sluice/core';
import { isTransientAwsError, withRetries } from '@sluice/core/aws';
import {
  BROKER_PROTOCOL,
  BROKER_PROTOCOL_HEADER,
  type BrokerErrorBody,
  type BrokerOperation,
  type CompleteResponse,
  type CompletionReport,
  type FailResponse,
  type FailureReport,
  type GrantedLease,
  type HeartbeatResponse,
  type LeaseResponse,
} from '@sluice/core/broker';

import type { LeaseState, TaskSource, WorkerLease } from './task-source.js';

/** Adds authentication to a broker request: a bearer token, or a SigV4 signature. */
export type BrokerAuthorizer = (request: {
  readonly url: string;
  readonly body: string;
  readonly headers: Record<string, string>;
}) => Promise<Record<string, string>>;

/**
 * A bearer-token authorizer (the local broker).
 *
 * @example
 * const authorize = bearerToken(process.env.SLUICE_BROKER_TOKEN);
 * @throws never.
 */
export function bearerToken(token: string): BrokerAuthorizer {
  return ({ headers }) => Promise.resolve({ ...headers, authorization: `Bearer ${token}` });
}

/** A broker answer other than 2xx, or no answer. */
export class BrokerRequestError extends Error {
  constructor(
    message: string,
    readonly status: number | undefined,
    readonly code: string,
  ) {
    super(message);
    this.name = 'BrokerRequestError';
  }

  /** No answer, a fault, or throttling: worth trying again. */
  get retryable(): boolean {
    return this.status === undefined || this.status >= 500 || this.status === 429;
  }
}

const retryOn = (thrown: unknown): boolean =>
  thrown instanceof BrokerRequestError ? thrown.retryable : isTransientAwsError(thrown);

export class BrokerTaskSource implements TaskSource {
  private readonly granted = new WeakMap<WorkerLease, GrantedLease>();
  private readonly url: string;

  constructor(
    url: string,
    private readonly authorize: BrokerAuthorizer,
    private readonly workerId: string,
    private readonly log?: JsonLog,
  ) {
    this.url = url.replace(/\/+$/, '');
  }

  async lease(waitSeconds: number, signal: AbortSignal): Promise<WorkerLease | undefined> {
    let answer: LeaseResponse;
    try {
      answer = await this.post<LeaseResponse>('lease', { workerId: this.workerId, waitSeconds }, signal);
    } catch (thrown) {
      if (thrown instanceof BrokerRequestError && (thrown.status === 401 || thrown.status === 403)) {
        throw new ConfigurationError(
          `the broker at ${this.url} refused this runner (${thrown.message}): its token or role is not of this run`,
        );
      }
      throw thrown;
    }
    if (answer.lease === null) return undefined;
    const { task, taskId, attempt, outputPrefix, logKey } = answer.lease;
    const worker: WorkerLease = { task, taskId, attempt, outputPrefix, logKey };
    this.granted.set(worker, answer.lease);
    return worker;
  }

  async heartbeat(worker: WorkerLease, progress: { readonly downloadMs?: number } = {}): Promise<LeaseState> {
    const answer = await this.post<HeartbeatResponse>('heartbeat', {
      token: this.grant(worker).token,
      ...(progress.downloadMs !== undefined && { downloadMs: progress.downloadMs }),
    });
    if (answer.status !== 'extended') return answer.status;
    this.granted.set(worker, { ...this.grant(worker), ...answer });
    return 'held';
  }

  async download(worker: WorkerLease, file: string): Promise<void> {
    await withRetries(() => downloadPresigned(this.grant(worker).input, file, { ifMatch: worker.task.etag }));
  }

  async uploadOutput(worker: WorkerLease, relativePath: string, file: string): Promise<string | undefined> {
    const key = outputKeyUnder(worker.outputPrefix, relativePath);
    const uploaded = await withRetries(() => uploadPresignedPost(this.grant(worker).upload, key, file));
    return uploaded.etag;
  }

  async stageLog(worker: WorkerLease, file: string): Promise<void> {
    await withRetries(() =>
      uploadPresignedPost(this.grant(worker).logUpload, worker.logKey, file, {
        contentType: 'text/plain; charset=utf-8',
      }),
    );
  }

  complete(worker: WorkerLease, report: CompletionReport): Promise<CompleteResponse> {
    return this.post<CompleteResponse>('complete', { token: this.grant(worker).token, ...report });
  }

  async fail(worker: WorkerLease, report: FailureReport): Promise<'retry' | 'failed'> {
    const answer = await this.post<FailResponse>('fail', { token: this.grant(worker).token, ...report });
    return answer.outcome;
  }

  async release(worker: WorkerLease, reason: string): Promise<void> {
    await this.post('release', { token: this.grant(worker).token, reason });
  }

  private grant(worker: WorkerLease): GrantedLease {
    const granted = this.granted.get(worker);
    if (granted === undefined) throw new Error(`task ${worker.taskId} was not leased from this broker`);
    return granted;
  }

  /** One request, retried on faults; the lease long-poll is not retried (the loop asks again). */
  private async post<T>(operation: BrokerOperation, request: object, signal?: AbortSignal): Promise<T> {
    const send = async (): Promise<T> => {
      const body = JSON.stringify(request);
      const url = `${this.url}/v1/${operation}`;
      const headers = await this.authorize({
        url,
        body,
        headers: { 'content-type': 'application/json', [BROKER_PROTOCOL_HEADER]: BROKER_PROTOCOL },
      });
      let response: Response;
      try {
        response = await fetch(url, {
          method: 'POST',
          headers,
          body,
          ...(signal !== undefined && { signal }),
        });
      } catch (thrown) {
        if (signal?.aborted === true) throw thrown;
        const cause = toError(toError(thrown).cause ?? thrown).message;
        throw new BrokerRequestError(
          `the broker at ${this.url} did not answer ${operation}: ${cause}`,
          undefined,
          'no-answer',
        );
      }
      const text = await response.text();
      if (!response.ok) {
        const error = parseError(text);
        throw new BrokerRequestError(
          `the broker refused ${operation} (HTTP ${response.status} ${error.code}): ${error.message}`,
          response.status,
          error.code,
        );
      }
      return JSON.parse(text) as T;
    };
    return operation === 'lease'
      ? send()
      : withRetries(send, {
          retryOn,
          onRetry: ({ attempt, delayMs, reason }) => {
            this.log?.warning('broker-request-retried', { operation, attempt, delayMs, reason });
          },
        });
  }
}

function parseError(text: string): BrokerErrorBody['error'] {
  try {
    const parsed = JSON.parse(text) as Partial<BrokerErrorBody>;
    if (typeof parsed.error?.code === 'string' && typeof parsed.error.message === 'string')
      return parsed.error;
  } catch {
    // Not the broker's JSON: a proxy's or Lambda's own error page.
  }
  return { code: 'unknown', message: text.slice(0, 300) };
}

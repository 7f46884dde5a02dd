/**
 * The broker's decisions, apart from how requests arrive (a loopback HTTP server in `sluice run`, a
 * Lambda function URL on AWS): check the request and its lease token, act through the run's task
 * control, and hand out presigned transfers instead of credentials. Stateless between requests: the
 * lease travels in its signed token, so any instance of the run's broker serves any request.
 */
import { ValidationError, toError } from '../errors.js';
import type { JsonLog } from '../logging/json-log.js';
import { S3_POST_MAX_BYTES, type Presigner } from '../storage/presign.js';
import type { ControlSettings } from './control-settings.js';
import { BrokerRefusal, LeaseSigner } from './lease-token.js';
import {
  isBrokerOperation,
  parseBrokerRequest,
  type BrokerErrorBody,
  type BrokerOperation,
  type BrokerRequests,
  type GrantedLease,
  type HeartbeatResponse,
} from './protocol.js';
import type { Lease } from './control-types.js';
import { OUTPUT_WRITER_METADATA } from './task-commit.js';
import type { TaskControl } from './task-control.js';

/** What one request got: an HTTP status and a JSON body. */
export interface BrokerAnswer {
  readonly status: number;
  readonly body: unknown;
}

export interface BrokerServiceDeps {
  readonly settings: ControlSettings;
  readonly control: TaskControl;
  readonly presigner: Presigner;
  /** The run's broker key (newBrokerKey), shared by every instance of the run's broker. */
  readonly key: string;
  readonly log: JsonLog;
}

export class BrokerService {
  private readonly signer: LeaseSigner;

  constructor(private readonly deps: BrokerServiceDeps) {
    this.signer = new LeaseSigner(deps.key, deps.settings.config.runId);
  }

  /**
   * Answers one request. Never throws: a bad request is a 400, a refused token a 403 or 410, and a
   * fault a 500 whose message names the cause (the worker retries those).
   *
   * @example
   * const answer = await service.handle('lease', { workerId: 'w-1', waitSeconds: 20 });
   */
  async handle(operation: string, body: unknown, signal?: AbortSignal): Promise<BrokerAnswer> {
    try {
      if (!isBrokerOperation(operation)) {
        throw new BrokerRefusal(404, 'no-such-operation', `the broker has no operation "${operation}"`);
      }
      const answer = await this.dispatch(operation, parseBrokerRequest(operation, body), signal);
      if (operation !== 'lease' && operation !== 'heartbeat') {
        this.deps.log.info(`broker-${operation}`, { outcome: (answer as { outcome?: string }).outcome });
      }
      return { status: 200, body: answer };
    } catch (thrown) {
      return this.refusal(operation, thrown);
    }
  }

  private async dispatch(
    operation: BrokerOperation,
    request: BrokerRequests[BrokerOperation],
    signal?: AbortSignal,
  ): Promise<unknown> {
    const { control } = this.deps;
    switch (operation) {
      case 'lease': {
        const { workerId, waitSeconds } = request as BrokerRequests['lease'];
        const lease = await control.lease(workerId, { waitSeconds, ...(signal !== undefined && { signal }) });
        return { lease: lease === undefined ? null : await this.grant(lease) };
      }
      case 'heartbeat': {
        const { token, downloadMs } = request as BrokerRequests['heartbeat'];
        const lease = this.signer.verify(token);
        const beat = await control.heartbeat(lease, downloadMs === undefined ? {} : { downloadMs });
        if (beat.kind !== 'extended')
          return beat.kind === 'lost' ? { status: 'lost', message: beat.message } : { status: 'capped' };
        const granted = await this.grant(beat.lease);
        const answer: HeartbeatResponse = {
          status: 'extended',
          token: granted.token,
          expiresAt: granted.expiresAt,
          input: granted.input,
          upload: granted.upload,
          logUpload: granted.logUpload,
        };
        return answer;
      }
      case 'complete': {
        const { token, ...report } = request as BrokerRequests['complete'];
        return control.complete(this.signer.verify(token), report);
      }
      case 'fail': {
        const { token, ...report } = request as BrokerRequests['fail'];
        return { outcome: await control.fail(this.signer.verify(token), report) };
      }
      case 'release': {
        const { token, reason } = request as BrokerRequests['release'];
        return { outcome: await control.release(this.signer.verify(token), `the worker says: ${reason}`) };
      }
    }
    throw new BrokerRefusal(404, 'no-such-operation', `the broker has no operation "${String(operation)}"`);
  }

  /** The lease as the worker gets it: a signed token and transfers that expire with it. */
  private async grant(lease: Lease): Promise<GrantedLease> {
    const { presigner, settings } = this.deps;
    const expiresAt = LeaseSigner.expiryOf(lease);
    const expiresInSeconds = Math.max(60, Math.ceil((expiresAt - Date.now()) / 1000));
    const [input, upload, logUpload] = await Promise.all([
      presigner.presignGet(
        {
          bucket: lease.task.bucket,
          key: lease.task.key,
          ...(lease.task.versionId !== undefined && { versionId: lease.task.versionId }),
        },
        expiresInSeconds,
      ),
      presigner.presignPost({
        bucket: settings.config.output.bucket,
        keyPrefix: lease.outputPrefix,
        maxBytes: S3_POST_MAX_BYTES,
        expiresInSeconds,
        // The commit of a later attempt tells its leftovers from what others wrote by this.
        metadata: { [OUTPUT_WRITER_METADATA]: `${settings.config.runId}/${lease.taskId}` },
      }),
      presigner.presignPost({
        bucket: settings.config.output.bucket,
        // `…/logs/<task>/<attempt>.`: this attempt's log and nothing of another attempt's.
        keyPrefix: lease.logKey.slice(0, lease.logKey.lastIndexOf('.') + 1),
        maxBytes: S3_POST_MAX_BYTES,
        expiresInSeconds,
      }),
    ]);
    return {
      token: this.signer.sign(lease),
      task: lease.task,
      taskId: lease.taskId,
      attempt: lease.attempt,
      outputPrefix: lease.outputPrefix,
      logKey: lease.logKey,
      expiresAt: new Date(expiresAt).toISOString(),
      input,
      upload,
      logUpload,
    };
  }

  private refusal(operation: string, thrown: unknown): BrokerAnswer {
    const error: BrokerErrorBody['error'] =
      thrown instanceof BrokerRefusal
        ? { code: thrown.code, message: thrown.message }
        : thrown instanceof ValidationError
          ? { code: 'bad-request', message: thrown.message }
          : {
              code: 'broker-fault',
              message: `the broker could not ${operation}: ${toError(thrown).message}`,
            };
    const status =
      thrown instanceof BrokerRefusal ? thrown.status : thrown instanceof ValidationError ? 400 : 500;
    this.deps.log[status >= 500 ? 'error' : 'warning']('broker-refused', { operation, status, ...error });
    const body: BrokerErrorBody = { error };
    return { status, body };
  }
}

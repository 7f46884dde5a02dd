// The chaos suite's fault proxy: a node:http proxy on 127.0.0.1 in front of the test bed's moto (S3
// and SQS on one endpoint). A run's AWS_ENDPOINT_URL points at it, so the sluice CLI (and its broker)
// reach it directly and the runner containers reach it as 10.0.2.2 (podman's slirp4netns alias for
// the host's loopback, docs/architecture.md "Runner networks") — which is how a request is told to
// come from a container: its Host header.
//
// It does two things, both seeded:
// - faults: answers a share of requests itself with 500 InternalError, 503 ServiceUnavailable or
//   503 SlowDown, resets the connection before forwarding, delays the request, or forwards it and
//   then resets the connection instead of answering or cuts the answer's body short. Counted by kind.
// - phase kills: it sees every step of a task go by (the task record created by the lease names the
//   worker — the runner container's name — and the input key), so when a kill of a phase is due it
//   holds that request, has the test SIGKILL the container running the task, and drops the request.
//   The phases: after the receive (at the lease's record write), during the download (the input's
//   GET), during the algorithm (1/2 s after a `slow` input's GET was answered), between output uploads
//   (the second output's PUT or POST), during the commit (the marker's PUT, dropped), after the marker
//   (the marker's PUT forwarded, the answer not delivered). The source address cannot name a
//   container here (slirp4netns makes every container's connection come from 127.0.0.1), hence the
//   records.
import {
  createServer,
  request as httpRequest,
  Agent,
  type IncomingMessage,
  type ServerResponse,
} from 'node:http';
import type { AddressInfo } from 'node:net';

import type { Prng } from './prng.js';

/** The faults the proxy injects. */
export const FAULT_KINDS = [
  'http-500',
  'http-503',
  'slow-down',
  'reset',
  'delay',
  'reset-after-forward',
  'truncated-body',
] as const;
export type FaultKind = (typeof FAULT_KINDS)[number];

/** Faults that never leave a request done without its caller knowing: safe for the CLI's own calls. */
const HOST_FAULT_KINDS: readonly FaultKind[] = ['http-500', 'http-503', 'slow-down', 'reset', 'delay'];

/** The phases of a task a kill can be aimed at. */
export const KILL_PHASES = [
  'after-receive',
  'during-download',
  'during-algorithm',
  'between-outputs',
  'during-commit',
  'after-marker',
] as const;
export type KillPhase = (typeof KILL_PHASES)[number];

/** What one request is, as far as the chaos suite cares. */
export interface RequestInfo {
  readonly fromContainer: boolean;
  readonly service: 's3' | 'sqs';
  /** `sqs ReceiveMessage`, `s3 GET`, `s3 PUT`, `s3 POST` … */
  readonly operation: string;
  readonly bucket?: string;
  readonly key?: string;
}

/** Where the run lives, once known: what the proxy needs to recognise a task's steps. */
export interface ChaosRunLayout {
  readonly runId: string;
  readonly inputBucket: string;
  readonly inputPrefix: string;
  readonly outputBucket: string;
  readonly outputPrefix: string;
  /** Whether phase kills may be aimed at the task of this input key (the suite aims at ok/slow inputs). */
  readonly killable: (inputKey: string) => boolean;
  /** Whether this input's algorithm runs long enough to be killed during it. */
  readonly slow: (inputKey: string) => boolean;
}

/** The proxy's knobs. */
export interface FaultProxyOptions {
  readonly target: string;
  readonly prng: Prng;
  /** Share of the containers' requests answered with a fault. */
  readonly containerFaultRate: number;
  /** Share of the sluice process's own requests (provision, dispatch, collect, the broker) answered with a fault, once enabled. */
  readonly hostFaultRate: number;
  /** Kills to aim at each phase in the run. */
  readonly killsPerPhase: number;
  /** Share of eligible requests at which a due phase kill is made (spreads them over the run). */
  readonly killChance: number;
  /** SIGKILLs the runner container named `worker`; resolves once it is dead. */
  readonly kill: (worker: string, phase: KillPhase | 'random') => Promise<void>;
  /** Called for each fault and kill (a trace line). */
  readonly trace?: (line: string) => void;
}

interface TaskSeen {
  readonly worker: string;
  readonly key: string;
  outputsPut: number;
  slowKillArmed: boolean;
}

/** The fault proxy. `url` is what AWS_ENDPOINT_URL should be. */
export class FaultProxy {
  readonly faults = new Map<FaultKind, number>();
  readonly kills = new Map<KillPhase | 'random', number>();
  url = '';
  /** Faults on the sluice process's own requests: off until the run is provisioned and dispatched. */
  hostFaults = false;
  private layout: ChaosRunLayout | undefined;
  private readonly tasks = new Map<string, TaskSeen>();
  private readonly taskOfKey = new Map<string, string>();
  private readonly phaseKillsLeft = new Map<KillPhase, number>();
  private afterReceiveArmed = false;
  private killing: Promise<void> = Promise.resolve();
  private lastKillAt = 0;
  private readonly server = createServer((req, res) => {
    void this.handle(req, res).catch((error: unknown) => {
      this.options.trace?.(`proxy error: ${String(error)}`);
      req.socket.destroy();
    });
  });
  private readonly agent = new Agent({ keepAlive: true, maxSockets: 128 });
  private readonly upstream: URL;

  constructor(private readonly options: FaultProxyOptions) {
    this.upstream = new URL(options.target);
    for (const phase of KILL_PHASES) this.phaseKillsLeft.set(phase, options.killsPerPhase);
  }

  async start(): Promise<void> {
    this.server.keepAliveTimeout = 30_000;
    await new Promise<void>((resolve) => this.server.listen(0, '127.0.0.1', resolve));
    this.url = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }

  async close(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => {
      this.server.close(() => {
        resolve();
      });
    });
    this.agent.destroy();
  }

  /** Starts aiming phase kills at the tasks of this run (and resets what was seen of another). */
  watchRun(layout: ChaosRunLayout): void {
    this.layout = layout;
    this.tasks.clear();
    this.taskOfKey.clear();
    for (const phase of KILL_PHASES) this.phaseKillsLeft.set(phase, this.options.killsPerPhase);
    this.afterReceiveArmed = false;
  }

  /** Phase kills still due (a run that ends with some left was too short for the plan). */
  phaseKillsDue(): Map<KillPhase, number> {
    return new Map([...this.phaseKillsLeft].filter(([, n]) => n > 0));
  }

  /** The worker whose task is at this input key, if the proxy saw its lease. */
  workerOfKey(key: string): string | undefined {
    const task = this.taskOfKey.get(key);
    return task === undefined ? undefined : this.tasks.get(task)?.worker;
  }

  /** Counts a kill the test made itself (random moments). */
  countKill(phase: KillPhase | 'random'): void {
    this.kills.set(phase, (this.kills.get(phase) ?? 0) + 1);
  }

  private count(kind: FaultKind): void {
    this.faults.set(kind, (this.faults.get(kind) ?? 0) + 1);
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const body = Buffer.concat(chunks);
    const info = classify(req, body);
    this.observe(info, body);

    const phase = this.phaseBefore(info, body);
    if (phase !== undefined) {
      const worker = this.workerFor(info, body);
      if (worker !== undefined && (await this.killNow(worker, phase)) && info.fromContainer) {
        // The container that sent it is dead: so is its request. (The broker's requests, in
        // sealed mode, go on: its runner died under it.)
        req.socket.destroy();
        return;
      }
    }

    const fault = this.pickFault(info);
    if (fault !== undefined) this.options.trace?.(`fault ${fault} on ${describe(info)}`);
    if (fault === 'http-500' || fault === 'http-503' || fault === 'slow-down') {
      this.count(fault);
      errorAnswer(res, info, fault);
      return;
    }
    if (fault === 'reset') {
      this.count(fault);
      req.socket.destroy();
      return;
    }
    if (fault === 'delay') {
      this.count(fault);
      await sleep(this.options.prng.int(300, 2500));
    }

    const answer = await this.forward(req, body);
    if (answer === undefined) {
      req.socket.destroy();
      return;
    }

    if (this.isMarkerPut(info) && answer.status < 300) {
      const worker = this.workerFor(info, body);
      const key = this.inputKeyOf(info, body);
      if (
        worker !== undefined &&
        key !== undefined &&
        this.layout?.killable(key) === true &&
        this.due('after-marker') &&
        (await this.killNow(worker, 'after-marker')) &&
        info.fromContainer
      ) {
        req.socket.destroy();
        return;
      }
    }
    this.observeAnswer(info, answer.body);

    if (fault === 'reset-after-forward') {
      this.count(fault);
      req.socket.destroy();
      return;
    }
    if (fault === 'truncated-body' && answer.body.length > 1) {
      this.count(fault);
      res.writeHead(answer.status, answer.headers);
      res.write(answer.body.subarray(0, Math.floor(answer.body.length / 2)));
      // Let the half go out before the connection drops.
      await sleep(20);
      req.socket.destroy();
      return;
    }
    res.writeHead(answer.status, answer.headers);
    res.end(answer.body);
  }

  private forward(
    req: IncomingMessage,
    body: Buffer,
  ): Promise<{ status: number; headers: Record<string, string | string[]>; body: Buffer } | undefined> {
    return new Promise((resolve) => {
      const out = httpRequest(
        {
          host: this.upstream.hostname,
          port: this.upstream.port,
          method: req.method,
          path: req.url,
          headers: req.headers,
          agent: this.agent,
        },
        (answer) => {
          const parts: Buffer[] = [];
          answer.on('data', (chunk: Buffer) => parts.push(chunk));
          answer.on('end', () => {
            const headers: Record<string, string | string[]> = {};
            for (const [name, value] of Object.entries(answer.headers)) {
              if (value !== undefined && name !== 'transfer-encoding' && name !== 'connection')
                headers[name] = value;
            }
            const all = Buffer.concat(parts);
            headers['content-length'] = String(all.length);
            resolve({ status: answer.statusCode ?? 502, headers, body: all });
          });
          answer.on('error', () => {
            resolve(undefined);
          });
        },
      );
      out.on('error', () => {
        resolve(undefined);
      });
      out.end(body);
    });
  }

  // ── what the proxy learns from the traffic ────────────────────────────────────────────────────

  private recordTaskId(info: RequestInfo): string | undefined {
    const layout = this.layout;
    if (layout === undefined || info.bucket !== layout.outputBucket || info.key === undefined)
      return undefined;
    const match = new RegExp(`^_sluice/${layout.runId}/tasks/([0-9a-f]+)\\.json$`).exec(info.key);
    return match?.[1];
  }

  private isMarkerPut(info: RequestInfo): boolean {
    const layout = this.layout;
    return (
      layout !== undefined &&
      info.operation === 's3 PUT' &&
      info.bucket === layout.outputBucket &&
      (info.key?.startsWith(`_sluice/${layout.runId}/done/`) ?? false)
    );
  }

  /** A task record written (by a runner, or the broker for it): who runs which input now. */
  private observe(info: RequestInfo, body: Buffer): void {
    const task = this.recordTaskId(info);
    if (task === undefined || info.operation !== 's3 PUT') return;
    try {
      const record = JSON.parse(body.toString('utf8')) as {
        input?: { key?: string };
        status?: string;
        attempts?: { workerId?: string; endedAt?: string }[];
      };
      const last = record.attempts?.at(-1);
      const key = record.input?.key;
      if (key === undefined || last?.workerId === undefined) return;
      if (record.status === 'running' && last.endedAt === undefined) {
        this.tasks.set(task, { worker: last.workerId, key, outputsPut: 0, slowKillArmed: false });
        this.taskOfKey.set(key, task);
      }
    } catch {
      // Not JSON (a truncated write): nothing to learn.
    }
  }

  private observeAnswer(info: RequestInfo, body: Buffer): void {
    const layout = this.layout;
    if (layout === undefined) return;
    if (info.operation === 'sqs ReceiveMessage' && body.includes('"Messages"')) {
      if (this.due('after-receive')) this.afterReceiveArmed = true;
    }
    // During the algorithm: the input was handed over; the kill comes while the algorithm sleeps.
    if (info.operation === 's3 GET' && info.bucket === layout.inputBucket && info.key !== undefined) {
      const key = info.key;
      const task = this.taskOfKey.get(key);
      const seen = task === undefined ? undefined : this.tasks.get(task);
      if (seen !== undefined && layout.slow(key) && !seen.slowKillArmed && this.due('during-algorithm', 4)) {
        seen.slowKillArmed = true;
        setTimeout(() => {
          if (seen.outputsPut === 0 && this.taskOfKey.get(key) === task) {
            void this.killNow(seen.worker, 'during-algorithm');
          }
        }, 500);
      }
    }
  }

  /** The input key a request works on: the input's GET, an output's PUT/POST, the marker's PUT. */
  private inputKeyOf(info: RequestInfo, body: Buffer): string | undefined {
    const layout = this.layout;
    if (layout === undefined) return undefined;
    if (info.bucket === layout.inputBucket && info.operation === 's3 GET') return info.key;
    if (info.bucket === layout.outputBucket) {
      const key = info.operation === 's3 POST' ? formKey(body) : info.key;
      if (key === undefined) return undefined;
      const done = new RegExp(`^_sluice/${layout.runId}/done/([0-9a-f]+)\\.json$`).exec(key);
      if (done?.[1] !== undefined) return this.tasks.get(done[1])?.key;
      const record = this.recordTaskId({ ...info, key });
      if (record !== undefined) {
        try {
          return (JSON.parse(body.toString('utf8')) as { input?: { key?: string } }).input?.key;
        } catch {
          return undefined;
        }
      }
      if (key.startsWith(layout.outputPrefix) && !key.startsWith('_sluice/')) {
        const relative = key.slice(layout.outputPrefix.length).split('/')[0];
        return relative === undefined ? undefined : `${layout.inputPrefix}${relative}`;
      }
    }
    return undefined;
  }

  private workerFor(info: RequestInfo, body: Buffer): string | undefined {
    const key = this.inputKeyOf(info, body);
    if (key === undefined) return undefined;
    if (this.recordTaskId(info) !== undefined) {
      try {
        const record = JSON.parse(body.toString('utf8')) as { attempts?: { workerId?: string }[] };
        return record.attempts?.at(-1)?.workerId;
      } catch {
        return undefined;
      }
    }
    return this.workerOfKey(key);
  }

  /** The phase whose kill this request should trigger before it is forwarded, if one is due. */
  private phaseBefore(info: RequestInfo, body: Buffer): KillPhase | undefined {
    const layout = this.layout;
    if (layout === undefined) return undefined;
    const key = this.inputKeyOf(info, body);
    if (key === undefined || !layout.killable(key)) return undefined;
    const task = this.recordTaskId(info);
    if (task !== undefined && info.operation === 's3 PUT' && this.afterReceiveArmed) {
      const record = safeJson(body) as { status?: string; attempts?: { endedAt?: string }[] } | undefined;
      if (record?.status === 'running' && record.attempts?.at(-1)?.endedAt === undefined) {
        this.afterReceiveArmed = false;
        return 'after-receive';
      }
    }
    if (info.bucket === layout.inputBucket && info.operation === 's3 GET') {
      return this.due('during-download') ? 'during-download' : undefined;
    }
    if (this.isMarkerPut(info)) return this.due('during-commit') ? 'during-commit' : undefined;
    if (
      info.bucket === layout.outputBucket &&
      (info.operation === 's3 PUT' || info.operation === 's3 POST') &&
      task === undefined &&
      !(info.key ?? '').startsWith('_sluice/')
    ) {
      const seen = this.tasks.get(this.taskOfKey.get(key) ?? '');
      if (seen === undefined) return undefined;
      seen.outputsPut += 1;
      if (seen.outputsPut === 2 && this.due('between-outputs')) return 'between-outputs';
    }
    return undefined;
  }

  /**
   * Whether a kill of `phase` is due now (one left, the dice agree, none in the last 3 s). `boost`
   * raises the odds of a phase with few chances (only `slow` inputs can be killed during the algorithm).
   */
  private due(phase: KillPhase, boost = 1): boolean {
    if ((this.phaseKillsLeft.get(phase) ?? 0) <= 0) return false;
    if (Date.now() - this.lastKillAt < 3000) return false;
    return this.options.prng.chance(Math.min(1, this.options.killChance * boost));
  }

  /** SIGKILLs `worker` for `phase` (one kill at a time); false when one came too recently. */
  private async killNow(worker: string, phase: KillPhase): Promise<boolean> {
    const left = this.phaseKillsLeft.get(phase) ?? 0;
    if (left <= 0) return false;
    this.phaseKillsLeft.set(phase, left - 1);
    this.lastKillAt = Date.now();
    this.countKill(phase);
    this.options.trace?.(`kill ${worker} at ${phase}`);
    const kill = this.killing.then(() => this.options.kill(worker, phase));
    this.killing = kill.catch(() => undefined);
    await kill.catch((error: unknown) => this.options.trace?.(`kill ${worker} failed: ${String(error)}`));
    return true;
  }

  private pickFault(info: RequestInfo): FaultKind | undefined {
    const { prng } = this.options;
    if (info.fromContainer) {
      return prng.chance(this.options.containerFaultRate) ? prng.pick(FAULT_KINDS) : undefined;
    }
    if (!this.hostFaults) return undefined;
    return prng.chance(this.options.hostFaultRate) ? prng.pick(HOST_FAULT_KINDS) : undefined;
  }
}

function safeJson(body: Buffer): unknown {
  try {
    return JSON.parse(body.toString('utf8'));
  } catch {
    return undefined;
  }
}

/** The `key` field of a browser-form (presigned POST) upload. */
function formKey(body: Buffer): string | undefined {
  const match = /name="key"\r\n\r\n([^\r\n]*)/.exec(body.toString('latin1'));
  return match?.[1] === undefined ? undefined : Buffer.from(match[1], 'latin1').toString('utf8');
}

function classify(req: IncomingMessage, body: Buffer): RequestInfo {
  const host = req.headers.host ?? '';
  const fromContainer = /^(10\.0\.2\.2|host\.[a-z]+\.internal)(:|$)/.test(host);
  const target = req.headers['x-amz-target'];
  if (typeof target === 'string') {
    return { fromContainer, service: 'sqs', operation: `sqs ${target.split('.').pop() ?? '?'}` };
  }
  const type = req.headers['content-type'] ?? '';
  if (type.startsWith('application/x-www-form-urlencoded') && /Action=/.test(body.toString('utf8'))) {
    const action = new URLSearchParams(body.toString('utf8')).get('Action') ?? '?';
    return { fromContainer, service: 'sqs', operation: `sqs ${action}` };
  }
  const url = new URL(req.url ?? '/', 'http://proxy');
  const [bucket, ...rest] = url.pathname.split('/').filter((s) => s !== '');
  const key = rest.length > 0 ? decodeURIComponent(rest.join('/')) : undefined;
  return {
    fromContainer,
    service: 's3',
    operation: `s3 ${req.method ?? '?'}`,
    ...(bucket !== undefined && { bucket: decodeURIComponent(bucket) }),
    ...(key !== undefined && { key }),
  };
}

function describe(info: RequestInfo): string {
  return `${info.fromContainer ? 'container' : 'host'} ${info.operation}${info.key === undefined ? '' : ` ${info.key}`}`;
}

function errorAnswer(res: ServerResponse, info: RequestInfo, fault: FaultKind): void {
  const status = fault === 'http-500' ? 500 : 503;
  if (info.service === 'sqs') {
    const type =
      fault === 'slow-down'
        ? 'RequestThrottled'
        : fault === 'http-500'
          ? 'InternalError'
          : 'ServiceUnavailable';
    res.writeHead(status, {
      'content-type': 'application/x-amz-json-1.0',
      'x-amzn-query-error': `${type};Receiver`,
    });
    res.end(JSON.stringify({ __type: `com.amazonaws.sqs#${type}`, message: `chaos: ${fault}` }));
    return;
  }
  const code =
    fault === 'slow-down' ? 'SlowDown' : fault === 'http-500' ? 'InternalError' : 'ServiceUnavailable';
  res.writeHead(status, { 'content-type': 'application/xml' });
  if (info.operation === 's3 HEAD') {
    res.end();
    return;
  }
  res.end(
    `<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>${code}</Code><Message>chaos: ${fault}</Message></Error>`,
  );
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/**
 * A lease as a token the worker carries: the lease itself, the run and an expiry, signed with the
 * run's broker key (HMAC-SHA256). The broker keeps no state per lease: any broker instance of the
 * run (a Lambda scaled out, or one restarted with the same key) accepts what another granted, and a
 * token it did not sign, of another run, or past its expiry is refused.
 *
 * The token is signed, not encrypted: the worker may read it (task, attempt, the message's receipt
 * handle), none of which is usable without the broker's own credentials.
 */
import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';

import type { Lease } from './control-types.js';

/** How long after its message's visibility a lease token is still accepted: a report sent at the last moment. */
export const LEASE_GRACE_SECONDS = 60;

/** Why the broker refused a token or a request; `status` is the HTTP status the endpoint answers. */
export class BrokerRefusal extends Error {
  constructor(
    readonly status: 400 | 401 | 403 | 404 | 410 | 413,
    readonly code: string,
    message: string,
  ) {
    super(message);
    this.name = 'BrokerRefusal';
  }
}

interface TokenBody {
  readonly v: 1;
  readonly runId: string;
  /** Expiry, ms since the epoch. */
  readonly exp: number;
  readonly lease: Lease;
}

/**
 * A new random broker key (32 bytes, base64url) for a run.
 *
 * @example
 * const key = newBrokerKey();
 * @throws never.
 */
export function newBrokerKey(): string {
  return randomBytes(32).toString('base64url');
}

/** Signs and checks the lease tokens of one run. */
export class LeaseSigner {
  private readonly key: Buffer;

  constructor(
    key: string,
    private readonly runId: string,
  ) {
    this.key = Buffer.from(key, 'base64url');
    if (this.key.length < 32)
      throw new Error('a broker key needs at least 32 bytes (newBrokerKey makes one)');
  }

  /** When a token for this lease expires: its visibility plus a grace for a last report. */
  static expiryOf(lease: Lease): number {
    return lease.visibleAt + LEASE_GRACE_SECONDS * 1000;
  }

  sign(lease: Lease): string {
    const body: TokenBody = { v: 1, runId: this.runId, exp: LeaseSigner.expiryOf(lease), lease };
    const encoded = Buffer.from(JSON.stringify(body)).toString('base64url');
    return `${encoded}.${this.mac(encoded)}`;
  }

  /**
   * The lease a token carries.
   *
   * @throws {BrokerRefusal} 403 when the token is malformed, forged or of another run; 410 when it expired.
   */
  verify(token: string, now = Date.now()): Lease {
    const [encoded, mac, ...rest] = token.split('.');
    if (encoded === undefined || mac === undefined || rest.length > 0) {
      throw new BrokerRefusal(
        403,
        'lease-refused',
        'the lease token is malformed: this broker did not grant it',
      );
    }
    const expected = Buffer.from(this.mac(encoded));
    const given = Buffer.from(mac);
    if (expected.length !== given.length || !timingSafeEqual(expected, given)) {
      throw new BrokerRefusal(
        403,
        'lease-refused',
        "the lease token is not signed by this run's broker (forged, altered, or of another run)",
      );
    }
    // Signed by this key, so written by this code: only the version and run are left to check.
    const body = JSON.parse(Buffer.from(encoded, 'base64url').toString('utf8')) as Omit<TokenBody, 'v'> & {
      readonly v: unknown;
    };
    if (body.v !== 1 || body.runId !== this.runId) {
      throw new BrokerRefusal(
        403,
        'lease-refused',
        `the lease token is of run ${body.runId}, not ${this.runId}`,
      );
    }
    if (now > body.exp) {
      throw new BrokerRefusal(
        410,
        'lease-expired',
        `the lease of task ${body.lease.taskId} attempt ${body.lease.attempt} expired at ${new Date(body.exp).toISOString()}: the task returns to the queue for another attempt`,
      );
    }
    return body.lease;
  }

  private mac(encoded: string): string {
    return createHmac('sha256', this.key).update(`sluice-lease-v1.${encoded}`).digest('base64url');
  }
}

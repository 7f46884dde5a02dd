import { describe, expect, it } from '@jest/globals';

import { BrokerRefusal, LEASE_GRACE_SECONDS, LeaseSigner, newBrokerKey } from './lease-token.js';
import type { Lease } from './control-types.js';

const RUN = 'thumbs-0123abcd';
const lease: Lease = {
  task: { sluice: 1, runId: RUN, bucket: 'in', key: 'a.txt', etag: 'e', size: 1 },
  taskId: 'f'.repeat(24),
  attempt: 2,
  roundAttempt: 2,
  workerId: 'w-1',
  messageId: 'm-1',
  holder: '0123456789ab',
  outputPrefix: 'out/a.txt/',
  cleanup: false,
  logKey: `_sluice/${RUN}/logs/${'f'.repeat(24)}/2.log`,
  receiptHandle: 'rh',
  receivedAt: 1_000_000,
  startedAt: new Date(1_000_000).toISOString(),
  visibleAt: 2_000_000,
};

function refusal(run: () => unknown): BrokerRefusal {
  try {
    run();
  } catch (thrown) {
    if (thrown instanceof BrokerRefusal) return thrown;
    throw thrown;
  }
  throw new Error('not refused');
}

describe('LeaseSigner', () => {
  const key = newBrokerKey();
  const signer = new LeaseSigner(key, RUN);

  it('gives back the lease it signed, until its visibility plus the grace', () => {
    const token = signer.sign(lease);
    expect(signer.verify(token, lease.visibleAt)).toEqual(lease);
    expect(signer.verify(token, lease.visibleAt + LEASE_GRACE_SECONDS * 1000)).toEqual(lease);
    expect(
      refusal(() => signer.verify(token, lease.visibleAt + LEASE_GRACE_SECONDS * 1000 + 1)),
    ).toMatchObject({
      status: 410,
      code: 'lease-expired',
    });
  });

  it('refuses another key, another run, an altered payload and garbage', () => {
    const token = signer.sign(lease);
    expect(refusal(() => new LeaseSigner(newBrokerKey(), RUN).verify(token, 0)).status).toBe(403);
    expect(refusal(() => new LeaseSigner(key, 'other-0123abcd').verify(token, 0)).status).toBe(403);
    const [payload = '', mac = ''] = token.split('.');
    const altered = Buffer.from(
      Buffer.from(payload, 'base64url').toString().replace('"w-1"', '"w-2"'),
    ).toString('base64url');
    expect(refusal(() => signer.verify(`${altered}.${mac}`, 0)).status).toBe(403);
    expect(refusal(() => signer.verify('not-a-token', 0)).status).toBe(403);
    expect(refusal(() => signer.verify('a.b.c', 0)).status).toBe(403);
  });

  it('needs a key of at least 32 bytes', () => {
    expect(() => new LeaseSigner('c2hvcnQ', RUN)).toThrow(/32 bytes/);
  });
});

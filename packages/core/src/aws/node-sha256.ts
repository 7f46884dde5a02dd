// SHA-256 for the SDK's SigV4 signer (`@smithy/signature-v4` wants a Hash class), over node:crypto:
// the runner signs its broker requests with it, and the test bed's ECS broker stand-in checks them.
import { createHash, createHmac } from 'node:crypto';

type HashInput = string | ArrayBuffer | ArrayBufferView;

function bytesOf(data: HashInput): Buffer {
  if (typeof data === 'string') return Buffer.from(data, 'utf8');
  if (data instanceof ArrayBuffer) return Buffer.from(data);
  return Buffer.from(data.buffer, data.byteOffset, data.byteLength);
}

/** What createHash and createHmac return, as far as the signer needs it. */
interface Digester {
  update(data: Buffer): unknown;
  digest(): Buffer;
}

/** SHA-256 (or HMAC-SHA256 with a secret) as the signer's Hash interface, over node:crypto. */
export class NodeSha256 {
  private hash: Digester;

  constructor(private readonly secret?: HashInput) {
    this.hash = this.fresh();
  }

  update(data: HashInput): void {
    this.hash.update(bytesOf(data));
  }

  digest(): Promise<Uint8Array> {
    return Promise.resolve(new Uint8Array(this.hash.digest()));
  }

  reset(): void {
    this.hash = this.fresh();
  }

  private fresh(): Digester {
    return this.secret === undefined ? createHash('sha256') : createHmac('sha256', bytesOf(this.secret));
  }
}

// The runner's SigV4 signing of broker requests, checked against an independent recomputation of
// AWS Signature Version 4 (canonical request, string to sign, the derived key chain) written here
// with node:crypto from AWS's description, not with the library the authorizer uses.
import { createHash, createHmac } from 'node:crypto';

import { describe, expect, it } from '@jest/globals';

import { brokerRegion, iamBrokerAuthorizer } from './clients.js';

const credentials = {
  accessKeyId: 'AKIDEXAMPLE',
  secretAccessKey: 'wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY',
  sessionToken: 'session-token-example',
};
const at = new Date('2026-01-15T12:36:00Z');

const sha256 = (data: string): string => createHash('sha256').update(data, 'utf8').digest('hex');
const hmac = (key: string | Buffer, data: string): Buffer => createHmac('sha256', key).update(data).digest();

/** The Authorization header AWS would compute for this POST, from the headers the client signed. */
function expectedAuthorization(
  url: string,
  body: string,
  headers: Readonly<Record<string, string>>,
  region: string,
): string {
  const parsed = new URL(url);
  const all: Record<string, string> = { host: parsed.host };
  for (const [name, value] of Object.entries(headers)) all[name.toLowerCase()] = value.trim();
  const signedNames = /SignedHeaders=([^,]+)/.exec(headers.authorization ?? '')?.[1]?.split(';') ?? [];
  const amzDate = all['x-amz-date'] ?? '';
  const day = amzDate.slice(0, 8);
  const canonical = [
    'POST',
    parsed.pathname,
    '',
    ...signedNames.map((name) => `${name}:${all[name] ?? ''}`),
    '',
    signedNames.join(';'),
    sha256(body),
  ].join('\n');
  const scope = `${day}/${region}/lambda/aws4_request`;
  const toSign = ['AWS4-HMAC-SHA256', amzDate, scope, sha256(canonical)].join('\n');
  const key = hmac(
    hmac(hmac(hmac(`AWS4${credentials.secretAccessKey}`, day), region), 'lambda'),
    'aws4_request',
  );
  const signature = createHmac('sha256', key).update(toSign).digest('hex');
  return `AWS4-HMAC-SHA256 Credential=${credentials.accessKeyId}/${scope}, SignedHeaders=${signedNames.join(';')}, Signature=${signature}`;
}

describe('iamBrokerAuthorizer', () => {
  const base = 'https://abcdefghijklmnopqrstuvwxyz012345.lambda-url.eu-west-1.on.aws';
  const authorize = iamBrokerAuthorizer({}, base, {
    credentials: () => Promise.resolve(credentials),
    now: () => at,
  });

  it('signs a broker request with SigV4 for lambda in the URL region, as AWS recomputes it', async () => {
    const body = JSON.stringify({ workerId: 'w-1', waitSeconds: 20 });
    const given = { 'content-type': 'application/json', 'x-sluice-protocol': 'sluice-broker/1' };

    const headers = await authorize({ url: `${base}/v1/lease`, body, headers: given });

    expect(headers).toMatchObject({
      ...given,
      'x-amz-date': '20260115T123600Z',
      'x-amz-security-token': credentials.sessionToken,
      'x-amz-content-sha256': sha256(body),
    });
    expect(headers.authorization).toContain(
      `Credential=AKIDEXAMPLE/20260115/eu-west-1/lambda/aws4_request, SignedHeaders=`,
    );
    for (const name of ['content-type', 'host', 'x-amz-date', 'x-sluice-protocol']) {
      expect(headers.authorization).toMatch(new RegExp(`SignedHeaders=[^,]*\\b${name}\\b`));
    }
    expect(headers.authorization).toBe(expectedAuthorization(`${base}/v1/lease`, body, headers, 'eu-west-1'));
    // fetch sends the host itself, from the URL that was signed.
    expect(headers.host).toBeUndefined();
  });

  it('gives a different signature for another body or operation: neither can be replayed', async () => {
    const headers = { 'content-type': 'application/json' };
    const one = await authorize({ url: `${base}/v1/complete`, body: '{"token":"a"}', headers });
    const other = await authorize({ url: `${base}/v1/complete`, body: '{"token":"b"}', headers });
    const release = await authorize({ url: `${base}/v1/release`, body: '{"token":"a"}', headers });

    expect(new Set([one.authorization, other.authorization, release.authorization]).size).toBe(3);
  });

  it('signs the host with its port for a stand-in broker on a local port', async () => {
    const local = iamBrokerAuthorizer({ AWS_REGION: 'us-east-1' }, 'http://127.0.0.1:8123', {
      credentials: () => Promise.resolve(credentials),
      now: () => at,
    });
    const body = '{}';

    const headers = await local({ url: 'http://127.0.0.1:8123/v1/lease', body, headers: {} });

    expect(headers.authorization).toBe(
      expectedAuthorization('http://127.0.0.1:8123/v1/lease', body, headers, 'us-east-1'),
    );
  });
});

describe('brokerRegion', () => {
  it('reads the region of a function URL, else the environment', () => {
    expect(brokerRegion('https://abc.lambda-url.ap-southeast-2.on.aws/', { AWS_REGION: 'x' })).toBe(
      'ap-southeast-2',
    );
    expect(brokerRegion('http://10.0.2.2:9000', { AWS_REGION: 'eu-west-1' })).toBe('eu-west-1');
    expect(brokerRegion('http://10.0.2.2:9000', { AWS_DEFAULT_REGION: 'us-west-2' })).toBe('us-west-2');
  });

  it('refuses to guess a region', () => {
    expect(() => brokerRegion('http://10.0.2.2:9000', {})).toThrow('AWS_REGION');
  });
});

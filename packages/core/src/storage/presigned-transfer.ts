// What a worker with no credentials does with what the broker gave it (presign.ts): download its
// input through a presigned GET and upload its outputs through one presigned POST policy, streaming
// from and to disk (inputs and outputs can be many GiB), with answers mapped to the storage errors
// the rest of sluice acts on. The URL's query and the POST's fields are bearer secrets: no message
// here ever carries them.
//
// The POST is written with node:http, not fetch: Node 20's fetch (undici) held a whole 256 MiB
// file in memory while sending it (RSS +285 MiB, whether the body was FormData over
// fs.openAsBlob or an async iterable), where http.request piped from a file stream added ~40 MiB.
import { randomBytes } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import { mkdir, rename, rm, stat } from 'node:fs/promises';
import { request as httpRequest, type IncomingMessage } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { basename, dirname } from 'node:path';
import { pipeline } from 'node:stream/promises';

import { AwsRequestError, isTransientAwsError } from '../aws/errors.js';
import { InfrastructureError, SluiceError, toError } from '../errors.js';
import { ObjectNotFoundError, PreconditionFailedError } from './errors.js';
import type { DownloadResult } from './object-store.js';
import type { PresignedGet, PresignedPost } from './presign.js';
import { quote, unquote, withVersion } from './s3-requests.js';

/** Which presigned request: a GET of the input or the POST of an output. */
export type PresignedRequestKind = 'GET' | 'POST';

/** How much of an error answer is read to find S3's `<Code>`; error bodies are small. */
const ERROR_BODY_MAX_BYTES = 16 * 1024;

/**
 * S3 refused a presigned request (HTTP 400 or 403): it expired, its signature or policy was
 * altered, or it asked for what the policy does not allow (another key, too many bytes). Trying
 * the same request again cannot help; the broker must issue a new one (or the worker must stay in
 * its scope), so {@link isTransientAwsError} (and so `withRetries`) does not retry it.
 *
 * @example
 * try { await uploadPresignedPost(post, key, file); } catch (e) { if (e instanceof PresignedRequestRefusedError) askBrokerAgain(e.code); }
 */
export class PresignedRequestRefusedError extends InfrastructureError {
  readonly request: PresignedRequestKind;
  /** The URL without its query (the query is the secret). */
  readonly target: string;
  readonly httpStatus: number;
  /** S3's error code from the XML body (`AccessDenied`, `SignatureDoesNotMatch`, `EntityTooLarge`), or `Unknown`. */
  readonly code: string;

  constructor(
    details: {
      request: PresignedRequestKind;
      target: string;
      httpStatus: number;
      code: string;
      detail: string;
    },
    options?: { cause?: unknown },
  ) {
    super(
      `S3 refused the presigned ${details.request} of ${details.target}: HTTP ${details.httpStatus} ${details.code}` +
        `${details.detail === '' ? '' : ` (${details.detail})`}. The request expired, was altered, or ` +
        'asked for more than its policy allows; ask for a new one rather than retrying it.',
      options,
    );
    this.name = 'PresignedRequestRefusedError';
    this.request = details.request;
    this.target = details.target;
    this.httpStatus = details.httpStatus;
    this.code = details.code;
  }
}

/**
 * An upload that a presigned POST does not cover, refused before sending a byte: a key outside
 * its prefix, or a file larger than its limit. S3 would refuse it too, after the upload.
 *
 * @example
 * try { await uploadPresignedPost(post, key, file); } catch (e) { if (e instanceof PresignedScopeError) recordOutputTooLarge(e.message); }
 */
export class PresignedScopeError extends SluiceError {
  readonly key: string;
  readonly reason: 'key-outside-prefix' | 'too-large';

  constructor(key: string, reason: 'key-outside-prefix' | 'too-large', message: string) {
    super(message);
    this.name = 'PresignedScopeError';
    this.key = key;
    this.reason = reason;
  }
}

/** A URL without its query or fragment: what may appear in a message or a log. */
function withoutQuery(url: string): string {
  try {
    const parsed = new URL(url);
    return `${parsed.origin}${parsed.pathname}`;
  } catch {
    return '(an invalid URL)';
  }
}

/** SigV4 parameters that may show up in an S3 message; never repeated. */
const SECRET_PARAMS = /X-Amz-(Signature|Credential|Security-Token)=[^&\s"<]*/gi;

function between(text: string, tag: string): string | undefined {
  const match = new RegExp(`<${tag}>([^<]*)</${tag}>`).exec(text);
  return match?.[1];
}

/** The start of an error answer's body (error bodies are small; the rest is dropped). */
async function bodyStart(body: AsyncIterable<Uint8Array> | null): Promise<string> {
  let text = '';
  if (body === null) return text;
  const decoder = new TextDecoder();
  try {
    for await (const chunk of body) {
      text += decoder.decode(chunk, { stream: true });
      if (text.length >= ERROR_BODY_MAX_BYTES) break;
    }
  } catch {
    // The status says enough without the body.
  }
  return text;
}

/** Reads S3's `<Code>` and `<Message>` (never `<StringToSign>` or `<SignatureProvided>`). */
function errorBody(text: string): { code: string; detail: string } {
  const code = between(text, 'Code') ?? 'Unknown';
  const message = (between(text, 'Message') ?? '').replace(SECRET_PARAMS, '$1=…').slice(0, 300);
  return { code, detail: message };
}

/** An HTTP answer other than success, as the error the rest of sluice acts on. */
function httpError(
  status: number,
  body: string,
  request: PresignedRequestKind,
  target: string,
  object: { bucket: string; key: string },
  condition: 'if-match' | undefined,
): Error {
  const { code, detail } = errorBody(body);
  if (status === 404) return new ObjectNotFoundError(object.bucket, object.key);
  if (status === 412 && condition !== undefined) {
    return new PreconditionFailedError(object.bucket, object.key, condition);
  }
  if (status === 400 || status === 403) {
    return new PresignedRequestRefusedError({ request, target, httpStatus: status, code, detail });
  }
  const retryable = status >= 500 || status === 429 || code === 'SlowDown' || code === 'RequestTimeout';
  return new AwsRequestError(
    `the presigned ${request} of ${target} failed: HTTP ${status} ${code}${detail === '' ? '' : ` (${detail})`}`,
    { operation: `S3.Presigned${request}`, code, httpStatus: status, requestId: undefined, retryable },
  );
}

/**
 * A request that got no (complete) answer: a dropped connection is worth another try, an abort is
 * passed on as it is.
 */
function transportError(
  thrown: unknown,
  request: PresignedRequestKind,
  target: string,
  signal: AbortSignal | undefined,
): unknown {
  if (signal?.aborted === true) return thrown;
  if (thrown instanceof SluiceError) return thrown;
  // fetch wraps the socket's error: TypeError('fetch failed' | 'terminated') → its cause (→ its
  // cause). Read by shape: an error made in another realm (a jest VM context) fails instanceof.
  let socketError: unknown = thrown;
  let code: string | undefined;
  for (let depth = 0, at: unknown = thrown; depth < 4 && typeof at === 'object' && at !== null; depth += 1) {
    const found = (at as { code?: unknown }).code;
    if (typeof found === 'string') {
      socketError = at;
      code = found;
      break;
    }
    at = (at as { cause?: unknown }).cause;
  }
  return new AwsRequestError(
    `the presigned ${request} of ${target} failed: ${code ?? 'NetworkError'}: ${toError(socketError).message}`,
    {
      operation: `S3.Presigned${request}`,
      code: code ?? 'NetworkError',
      httpStatus: undefined,
      requestId: undefined,
      // Any dropped or refused connection may work next time (isTransientAwsError knows the codes).
      retryable: isTransientAwsError(socketError),
    },
    { cause: thrown },
  );
}

/**
 * Downloads the object of a presigned GET into `file`, streaming (never the whole object in
 * memory), through a temporary file beside it renamed when complete, so a half-written file never
 * sits at `file`. With `ifMatch`, only that version of the object (S3's `If-Match`).
 *
 * @example
 * const { size, etag } = await downloadPresigned(task.input, '/data/in/input.csv', { ifMatch: task.etag });
 * @throws ObjectNotFoundError (404), PreconditionFailedError (412, `ifMatch` no longer holds),
 * PresignedRequestRefusedError (400/403: expired, altered), AwsRequestError (5xx, a dropped or
 * short connection: `retryable`, so `withRetries` tries again), or the abort reason.
 */
export async function downloadPresigned(
  get: PresignedGet,
  file: string,
  options: { readonly ifMatch?: string; readonly signal?: AbortSignal } = {},
): Promise<DownloadResult> {
  const target = withoutQuery(get.url);
  const { signal } = options;
  // node:http, not fetch: Node 24's undici asserts (and takes the process down) when a server closes
  // the connection while a large body's parser is paused by a slow disk (`assert(!this.paused)`).
  const url = new URL(get.url);
  const send = url.protocol === 'https:' ? httpsRequest : httpRequest;
  let response: IncomingMessage;
  try {
    response = await new Promise<IncomingMessage>((resolve, reject) => {
      const request = send(
        url,
        {
          method: 'GET',
          headers: options.ifMatch === undefined ? {} : { 'If-Match': quote(options.ifMatch) },
          ...(signal !== undefined && { signal }),
        },
        resolve,
      );
      request.once('error', reject);
      request.end();
    });
  } catch (thrown: unknown) {
    throw transportError(thrown, 'GET', target, signal);
  }
  const status = response.statusCode ?? 0;
  if (status < 200 || status > 299) {
    const body = await bodyStart(response);
    response.destroy();
    throw httpError(status, body, 'GET', target, get, options.ifMatch === undefined ? undefined : 'if-match');
  }
  await mkdir(dirname(file), { recursive: true });
  const partial = `${file}.${randomBytes(4).toString('hex')}.part`;
  const expected = Number(response.headers['content-length'] ?? Number.NaN);
  let size = 0;
  try {
    await pipeline(
      response,
      async function* count(source: AsyncIterable<Uint8Array>) {
        for await (const chunk of source) {
          size += chunk.length;
          yield chunk;
        }
      },
      createWriteStream(partial),
      ...(signal !== undefined ? [{ signal }] : []),
    );
    // A connection closed early can end the stream without an error; the length tells.
    if (Number.isFinite(expected) && expected !== size) {
      throw new AwsRequestError(`the presigned GET of ${target} ended after ${size} of ${expected} bytes`, {
        operation: 'S3.PresignedGET',
        code: 'IncompleteBody',
        httpStatus: undefined,
        requestId: undefined,
        retryable: true,
      });
    }
    await rename(partial, file);
  } catch (thrown: unknown) {
    await rm(partial, { force: true });
    throw transportError(thrown, 'GET', target, signal);
  }
  const version = response.headers['x-amz-version-id'];
  return withVersion(
    { size, etag: unquote(response.headers.etag) },
    typeof version === 'string' ? version : undefined,
  );
}

/** What {@link uploadPresignedPost} stored. */
export interface PresignedUploadResult {
  readonly key: string;
  readonly size: number;
  /** Without quotes; absent when the server did not say. */
  readonly etag?: string;
}

/** A form field's value as multipart/form-data carries it (no CR, LF or quote in a name). */
function formField(boundary: string, name: string, value: string): string {
  return `--${boundary}\r\nContent-Disposition: form-data; name="${name}"\r\n\r\n${value}\r\n`;
}

/** `"`, CR and LF would end the quoted filename early; the filename is only a label to S3. */
const quotedSafe = (text: string): string => text.replace(/["\r\n]/g, '_');

/**
 * Uploads `file` as `key` through a presigned POST policy, streaming the file from disk inside a
 * multipart/form-data body of known length (S3 refuses a chunked POST). A key outside the
 * policy's prefix or a file above its limit is refused before anything is sent.
 *
 * @example
 * await uploadPresignedPost(task.output, `${task.output.keyPrefix}result.json`, '/data/out/result.json', { contentType: 'application/json' });
 * @throws PresignedScopeError (outside the policy, nothing sent), PresignedRequestRefusedError
 * (400/403: expired, altered, out of policy), AwsRequestError (5xx or a dropped connection:
 * `retryable`), SluiceError (the file cannot be read), or the abort reason.
 */
export async function uploadPresignedPost(
  post: PresignedPost,
  key: string,
  file: string,
  options: { readonly contentType?: string; readonly signal?: AbortSignal } = {},
): Promise<PresignedUploadResult> {
  const target = `${withoutQuery(post.url)} (key ${key})`;
  if (!key.startsWith(post.keyPrefix) || key === post.keyPrefix) {
    throw new PresignedScopeError(
      key,
      'key-outside-prefix',
      `cannot upload ${key}: the presigned POST allows only keys under ${post.keyPrefix}`,
    );
  }
  let size: number;
  try {
    size = (await stat(file)).size;
  } catch (thrown: unknown) {
    throw new SluiceError(`cannot upload ${file}: ${toError(thrown).message}`, { cause: thrown });
  }
  if (size > post.maxBytes) {
    throw new PresignedScopeError(
      key,
      'too-large',
      `cannot upload ${file} as ${key}: it has ${size} bytes and the presigned POST allows at most ${post.maxBytes}`,
    );
  }
  const boundary = `sluice-${randomBytes(16).toString('hex')}`;
  const fields = [
    formField(boundary, 'key', key),
    ...Object.entries(post.fields)
      .filter(([name]) => name !== 'key')
      .map(([name, value]) => formField(boundary, name, value)),
    ...(options.contentType === undefined ? [] : [formField(boundary, 'Content-Type', options.contentType)]),
    // S3 ignores every field after the file, so it goes last.
    `--${boundary}\r\nContent-Disposition: form-data; name="file"; filename="${quotedSafe(basename(key))}"\r\n` +
      'Content-Type: application/octet-stream\r\n\r\n',
  ].join('');
  const head = Buffer.from(fields, 'utf8');
  const tail = Buffer.from(`\r\n--${boundary}--\r\n`, 'utf8');
  const { signal } = options;
  const url = new URL(post.url);
  const send = url.protocol === 'https:' ? httpsRequest : httpRequest;
  let response: IncomingMessage;
  let sent: Promise<unknown>;
  let request: ReturnType<typeof send>;
  try {
    request = send(url, {
      method: 'POST',
      headers: {
        'content-type': `multipart/form-data; boundary=${boundary}`,
        'content-length': String(head.length + size + tail.length),
      },
      ...(signal !== undefined && { signal }),
    });
    const answered = new Promise<IncomingMessage>((resolve, reject) => {
      request.once('response', resolve);
      request.once('error', reject);
    });
    // Settles with the error, if any: S3 may refuse (and close) before the body is all sent, and
    // then the answer is what matters.
    sent = pipeline(async function* body() {
      yield head;
      yield* createReadStream(file);
      yield tail;
    }, request).then(
      () => undefined,
      (thrown: unknown) => thrown,
    );
    response = await answered;
  } catch (thrown: unknown) {
    throw transportError(thrown, 'POST', target, signal);
  }
  const status = response.statusCode ?? 0;
  if (status < 200 || status >= 300) {
    const body = await bodyStart(response);
    request.destroy(); // stop sending what S3 has refused
    await sent;
    throw httpError(status, body, 'POST', target, { bucket: post.fields.bucket ?? '', key }, undefined);
  }
  response.resume();
  const failed = await sent;
  if (failed !== undefined) throw transportError(failed, 'POST', target, signal);
  const etag = response.headers.etag;
  return etag === undefined ? { key, size } : { key, size, etag: unquote(etag) };
}

// `sluice run --upload DIR`: every file under DIR to the run's input prefix, streamed from disk
// (S3ObjectStore.upload: one PUT for small files, a multipart upload for large ones), a few at once.
import { opendir, readFile, stat } from 'node:fs/promises';
import { join, relative, sep } from 'node:path';

import { S3Client } from '@aws-sdk/client-s3';
import { ConfigurationError, S3ObjectStore, parseJob, toError, type ObjectRef } from '@sluice/core';
import { runClientConfig } from '@sluice/core/aws';

/** Uploads every file under a directory to `s3://bucket/prefix/`, reporting progress. */
export type UploadDirectory = (
  request: {
    readonly dir: string;
    /** `s3://bucket/prefix/`. */
    readonly to: string;
    readonly jobPath: string;
    readonly env: Readonly<Record<string, string | undefined>>;
  },
  onProgress: (counts: {
    readonly files: number;
    readonly totalFiles: number;
    readonly bytes: number;
    readonly totalBytes: number;
  }) => void,
) => Promise<{ readonly files: number; readonly bytes: number }>;

/** Writes an empty object at an `s3://bucket/key` address (the end marker). */
export type PutMarker = (request: {
  readonly at: string;
  readonly jobPath: string;
  readonly env: Readonly<Record<string, string | undefined>>;
}) => Promise<void>;

/** Files uploaded at once (each large one also uploads its parts in parallel). */
const FILES_IN_FLIGHT = 4;

/**
 * `s3://bucket/key` as a bucket and a key.
 * @throws {ConfigurationError} for anything else.
 */
export function parseS3Url(url: string): ObjectRef {
  const match = /^s3:\/\/([^/]+)\/?(.*)$/.exec(url);
  if (match?.[1] === undefined)
    throw new ConfigurationError(`${JSON.stringify(url)} is not an s3://bucket/key address`);
  return { bucket: match[1], key: match[2] ?? '' };
}

/** An S3 client configured as the steps configure theirs (core's `runClientConfig`). */
async function s3Client(
  jobPath: string,
  env: Readonly<Record<string, string | undefined>>,
): Promise<S3Client> {
  const job = parseJob(await readFile(jobPath, 'utf8'), jobPath);
  return new S3Client(runClientConfig(env, job).s3);
}

/** Every regular file under `dir` (symbolic links to files included), depth first. */
async function* filesUnder(dir: string): AsyncGenerator<string> {
  for await (const entry of await opendir(dir)) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) yield* filesUnder(path);
    else if (entry.isFile()) yield path;
    else if (entry.isSymbolicLink() && (await stat(path).catch(() => undefined))?.isFile() === true)
      yield path;
  }
}

/**
 * Checks that `dir` is a directory, before anything is provisioned.
 * @throws {ConfigurationError} when it is missing or not a directory.
 */
export async function checkUploadDirectory(dir: string): Promise<void> {
  let isDirectory = false;
  try {
    isDirectory = (await stat(dir)).isDirectory();
  } catch (thrown: unknown) {
    const code = (thrown as NodeJS.ErrnoException | undefined)?.code;
    const reason =
      code === 'ENOENT' ? 'no such directory' : `cannot be read (${code ?? toError(thrown).message})`;
    throw new ConfigurationError(`--upload ${dir}: ${reason}; give the folder of input files.`, {
      cause: thrown,
    });
  }
  if (!isDirectory)
    throw new ConfigurationError(`--upload ${dir}: not a directory; give the folder of input files.`);
}

/**
 * The real {@link UploadDirectory}: keys are the files' paths relative to `dir`, with `/`.
 * @throws {ConfigurationError} when `dir` holds no file, or S3 refuses (access, missing bucket).
 */
export const uploadDirectory: UploadDirectory = async ({ dir, to, jobPath, env }, onProgress) => {
  const target = parseS3Url(to);
  const files: { path: string; size: number }[] = [];
  for await (const path of filesUnder(dir)) files.push({ path, size: (await stat(path)).size });
  if (files.length === 0) throw new ConfigurationError(`--upload ${dir}: no files to upload.`);
  const totalBytes = files.reduce((sum, file) => sum + file.size, 0);
  const client = await s3Client(jobPath, env);
  const store = new S3ObjectStore(client);
  let done = 0;
  let bytes = 0;
  let next = 0;
  onProgress({ files: 0, totalFiles: files.length, bytes: 0, totalBytes });
  const worker = async (): Promise<void> => {
    for (let file = files[next++]; file !== undefined; file = files[next++]) {
      const key = `${target.key}${relative(dir, file.path).split(sep).join('/')}`;
      await store.upload({ bucket: target.bucket, key }, file.path);
      done += 1;
      bytes += file.size;
      onProgress({ files: done, totalFiles: files.length, bytes, totalBytes });
    }
  };
  try {
    await Promise.all(Array.from({ length: Math.min(FILES_IN_FLIGHT, files.length) }, worker));
  } finally {
    client.destroy();
  }
  return { files: done, bytes };
};

/** The real {@link PutMarker}: an empty object. */
export const putMarker: PutMarker = async ({ at, jobPath, env }) => {
  const client = await s3Client(jobPath, env);
  try {
    await new S3ObjectStore(client).put(parseS3Url(at), '');
  } finally {
    client.destroy();
  }
};

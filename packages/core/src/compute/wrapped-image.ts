// The wrapped image: the algorithm's image with sluice's runner added and made the entrypoint. The
// runner needs nothing from the image (it brings its own Node, libraries and loader), records what
// the image would have run (entrypoint, cmd, working dir, user) so it can run exactly that for each
// task, and keeps the image's USER and WORKDIR by inheriting them. See docs/architecture.md,
// "The wrapped image", and docs/contracts.md, "Inside the wrapped image".
import { createHash } from 'node:crypto';
import { copyFile, cp, link, mkdir, mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { dirname, isAbsolute, join, relative, resolve } from 'node:path';

import { ConfigurationError } from '../errors.js';
import { silentLogger, type Logger } from '../logging/logger.js';
import type { Manifest } from '../schemas/manifest.js';
import { RUNNER_OVERHEAD_MIB } from '../schemas/memory.js';
import type { ContainerEngine, ImageDetails } from './container-engine.js';
import {
  defaultCacheDir,
  prepareNodeRuntime,
  runtimeCommand,
  runtimePlatform,
  type NodeRuntime,
  type PrepareNodeRuntimeOptions,
} from './node-runtime.js';

/** Fixed paths inside every wrapped image (a contract with the runner: docs/contracts.md). */
export const WRAPPED_PATHS = {
  root: '/sluice',
  /** The manifest, byte for byte as the developer wrote it. */
  manifest: '/sluice/algorithm.json',
  /** {@link OriginalImageConfig}: what the algorithm image would have run. */
  originalImage: '/sluice/original-image.json',
  /** The runner bundle (`index.js` and its `package.json`). */
  runnerDir: '/sluice/runner',
  runnerEntry: '/sluice/runner/index.js',
  /** The Node runtime: `bin/node`, `lib/` with the libraries and the loader. */
  runtime: '/sluice/node',
} as const;

/** Labels every wrapped image carries; the local catalogue finds algorithms by them. */
export const WRAPPED_LABELS = {
  /** `name@version` of the algorithm. */
  algorithm: 'org.sluice.algorithm',
  /** `sha256:<hex>` of the manifest file's bytes. */
  manifestDigest: 'org.sluice.manifest',
  /** The manifest as compact JSON, so a catalogue can read it without running the image. */
  manifestJson: 'org.sluice.manifest.json',
  /** Id of the algorithm image the wrapped image was built from. */
  baseImage: 'org.sluice.base-image',
  /** `sha256:<hex>` over the runner bundle's files (paths and contents). */
  runnerDigest: 'org.sluice.runner',
  /** `node-<version>-<os>-<arch>` of the carried runtime. */
  runtime: 'org.sluice.runtime',
  /**
   * `sha256:<hex>` over everything the wrapped image is made of (base image id, runtime, runner,
   * manifest, Containerfile): an image already tagged with the same value is reused, not rebuilt.
   */
  inputs: 'org.sluice.inputs',
} as const;

/** Variables set in the wrapped image for the runner (SLUICE_* never reach the algorithm). */
export const WRAPPED_ENV = {
  SLUICE_MANIFEST: WRAPPED_PATHS.manifest,
  SLUICE_ORIGINAL_IMAGE: WRAPPED_PATHS.originalImage,
} as const;

/**
 * What the algorithm image would have run, recorded at `/sluice/original-image.json`. The runner
 * starts the algorithm as `[...(entrypoint ?? []), ...(manifest.command ?? cmd ?? [])]` (the OCI
 * rule: a manifest `command` replaces `cmd` and keeps the entrypoint), in `workingDir` (`/` when
 * empty), as {@link algorithmUser} of `user`: the wrapped image itself runs as root (the runner),
 * and the algorithm under its own unprivileged uid.
 */
export interface OriginalImageConfig {
  readonly schemaVersion: 1;
  /** The reference the wrapped image was built from, e.g. `localhost/sluice/thumbs-algorithm:1.0`. */
  readonly image: string;
  /** Its image id (`sha256:…`). */
  readonly imageId: string;
  /** `null` when the image sets no entrypoint. */
  readonly entrypoint: readonly string[] | null;
  /** `null` when the image sets no command. */
  readonly cmd: readonly string[] | null;
  /** `''` when unset. */
  readonly workingDir: string;
  /** The image's USER: `''` when unset (root). The algorithm runs as {@link algorithmUser} of it. */
  readonly user: string;
  /** The image's own `NAME=value` variables (they stay set in the wrapped image too). */
  readonly env: readonly string[];
  /** How to start the carried Node: prefix a script path with `command` (loader, library path, binary). */
  readonly runtime: { readonly nodeVersion: string; readonly command: readonly string[] };
}

/** The uid and gid an algorithm runs as when its image's USER is root or unset. */
export const UNPRIVILEGED_ALGORITHM_USER = { uid: 65532, gid: 65532 } as const;

/** HOME of an algorithm whose user has none of its own: created under /tmp, which is always writable. */
export const ALGORITHM_HOME = '/tmp/sluice-home';

/** Who the algorithm runs as inside a wrapped image (the runner itself is root). */
export interface AlgorithmUser {
  readonly uid: number;
  readonly gid: number;
  readonly home: string;
}

/** `name:x:uid:gid:gecos:home:shell` lines (or `name:x:gid:members` for /etc/group) by name. */
function colonFile(text: string | undefined): string[][] {
  return (text ?? '')
    .split('\n')
    .map((line) => line.split(':'))
    .filter((fields) => fields.length >= 3 && !(fields[0] ?? '').startsWith('#'));
}

const NUMERIC = /^\d+$/;

/**
 * The user an algorithm runs as, from its image's USER: the image's own user when it is not root
 * (names resolved through the image's /etc/passwd and /etc/group, as docker and podman resolve
 * them; without an entry, a numeric USER's group is 0, as the engines make it), else
 * {@link UNPRIVILEGED_ALGORITHM_USER}. HOME: the image's own `HOME` variable or the passwd entry's
 * home for a non-root user; {@link ALGORITHM_HOME} otherwise. Supplementary groups are not given
 * (Node's spawn drops them).
 *
 * @example
 * algorithmUser('', {});                                             // { uid: 65532, gid: 65532, home: '/tmp/sluice-home' }
 * algorithmUser('1000:1000', {});                                    // { uid: 1000, gid: 1000, home: '/tmp/sluice-home' }
 * algorithmUser('app', { passwd: 'app:x:1001:1001::/home/app:/bin/sh' }); // { uid: 1001, gid: 1001, home: '/home/app' }
 * @throws {ConfigurationError} when a user or group name is not in the image's files.
 */
export function algorithmUser(
  user: string,
  image: { readonly passwd?: string; readonly group?: string; readonly env?: readonly string[] },
): AlgorithmUser {
  const [name = '', group] = user.split(/:(.*)/s, 2);
  const passwd = colonFile(image.passwd);
  const entry = NUMERIC.test(name)
    ? passwd.find((fields) => fields[2] === name)
    : passwd.find((fields) => fields[0] === name);
  if (name !== '' && !NUMERIC.test(name) && entry === undefined) {
    throw new ConfigurationError(
      `the algorithm image's USER ${JSON.stringify(user)} names a user its /etc/passwd does not have${image.passwd === undefined ? ' (it has no /etc/passwd)' : ''}: use a numeric USER such as 1000:1000`,
    );
  }
  const uid = name === '' ? 0 : Number(NUMERIC.test(name) ? name : entry?.[2]);
  if (uid === 0) return { ...UNPRIVILEGED_ALGORITHM_USER, home: ALGORITHM_HOME };
  let gid: number;
  if (group === undefined || group === '') gid = Number(entry?.[3] ?? 0);
  else if (NUMERIC.test(group)) gid = Number(group);
  else {
    const found = colonFile(image.group).find((fields) => fields[0] === group);
    if (found === undefined) {
      throw new ConfigurationError(
        `the algorithm image's USER ${JSON.stringify(user)} names a group its /etc/group does not have: use a numeric group such as 1000:1000`,
      );
    }
    gid = Number(found[2]);
  }
  const imageHome = image.env?.find((variable) => variable.startsWith('HOME='))?.slice('HOME='.length);
  const home = imageHome ?? (entry?.[5] !== undefined && entry[5] !== '' ? entry[5] : ALGORITHM_HOME);
  return { uid, gid, home };
}

/**
 * What the runner starts inside a wrapped image, by the OCI rule: the image's entrypoint, then the
 * manifest's `command` when it has one (it replaces the image's cmd), else the image's cmd; in the
 * image's working directory. The runner uses this so the algorithm runs exactly as its image would.
 *
 * @example
 * imageCommand({ entrypoint: ['/bin/thumbs'], cmd: ['--help'], workingDir: '/app' }, ['{input}', '{output}']);
 * // { command: ['/bin/thumbs', '{input}', '{output}'], workingDir: '/app' }
 * @throws {ConfigurationError} when neither the image nor the manifest says what to run.
 */
export function imageCommand(
  original: Pick<OriginalImageConfig, 'entrypoint' | 'cmd' | 'workingDir'>,
  manifestCommand: readonly string[] | undefined,
): { readonly command: string[]; readonly workingDir: string } {
  const command = [...(original.entrypoint ?? []), ...(manifestCommand ?? original.cmd ?? [])];
  if (command.length === 0) {
    throw new ConfigurationError(
      'the algorithm image has no ENTRYPOINT or CMD and algorithm.json has no "command": say what to run, e.g. "command": ["/app/run", "{input}", "{output}"]',
    );
  }
  return { command, workingDir: original.workingDir === '' ? '/' : original.workingDir };
}

/**
 * The memory limit for running a wrapped image locally: the manifest's memory plus the runner's
 * overhead (the runner shares the container's memory with the algorithm).
 *
 * @example
 * localMemoryLimitMiB(manifest); // 640 for "memory": 512
 */
export function localMemoryLimitMiB(manifest: Pick<Manifest, 'memoryMiB'>): number {
  return manifest.memoryMiB + RUNNER_OVERHEAD_MIB;
}

/**
 * A reference pinned to a digest: `host/repo:tag` + `sha256:…` → `host/repo:tag@sha256:…`.
 *
 * @example
 * withDigest('127.0.0.1:5000/sluice/thumbs:1.0', 'sha256:ab…'); // '127.0.0.1:5000/sluice/thumbs:1.0@sha256:ab…'
 * @throws {ConfigurationError} when `digest` is not `sha256:` and 64 hex digits.
 */
export function withDigest(reference: string, digest: string): string {
  if (!/^sha256:[a-f0-9]{64}$/.test(digest)) throw new ConfigurationError(`${digest} is not a sha256 digest`);
  return `${reference.split('@')[0] ?? reference}@${digest}`;
}

function sha256(data: string | Buffer): string {
  return `sha256:${createHash('sha256').update(data).digest('hex')}`;
}

/**
 * The original image's configuration as the runner reads it.
 *
 * @example
 * originalImageConfig('algo:1', details, runtime).entrypoint; // ['/bin/app']
 */
export function originalImageConfig(
  image: string,
  details: ImageDetails,
  runtime: Pick<NodeRuntime, 'nodeVersion' | 'loader'>,
): OriginalImageConfig {
  const command = runtimeCommand(runtime, '');
  return {
    schemaVersion: 1,
    image,
    imageId: details.id,
    entrypoint: details.entrypoint,
    cmd: details.cmd,
    workingDir: details.workingDir,
    user: details.user,
    env: details.env,
    runtime: { nodeVersion: runtime.nodeVersion, command: command.slice(0, -1) },
  };
}

/**
 * The Containerfile of the wrapped image. The runtime is copied in its own layer first: it is the
 * same for every algorithm of a platform, so a rebuild finds it in the layer cache and a registry
 * already holding it skips the upload. WORKDIR is inherited; USER becomes root (numeric, so no
 * /etc/passwd is needed): the runner starts the algorithm as the image's own user, recorded in
 * original-image.json, or an unprivileged one ({@link algorithmUser}).
 *
 * @example
 * renderWrappedContainerfile({ baseImage: 'algo:1', runtime: { loader: 'ld-linux-x86-64.so.2' } });
 * // FROM algo:1\nCOPY node/ /sluice/node/\nCOPY sluice/ /sluice/\n…ENTRYPOINT [...]\nCMD []
 */
export function renderWrappedContainerfile(options: {
  readonly baseImage: string;
  readonly runtime: Pick<NodeRuntime, 'loader'>;
}): string {
  const entrypoint = runtimeCommand(options.runtime, WRAPPED_PATHS.runnerEntry);
  return [
    '# Generated by sluice: the algorithm image with the sluice runner as its entrypoint.',
    `FROM ${options.baseImage}`,
    `COPY node/ ${WRAPPED_PATHS.runtime}/`,
    `COPY sluice/ ${WRAPPED_PATHS.root}/`,
    ...Object.entries(WRAPPED_ENV).map(([name, value]) => `ENV ${name}=${value}`),
    // The runner is root (with a few capabilities: runner-hardening.ts); the algorithm is not.
    'USER 0:0',
    // Exec form through the carried loader: no shell and no libc of the image is needed.
    `ENTRYPOINT ${JSON.stringify(entrypoint)}`,
    // Without this the image's CMD would be appended to the runner's arguments.
    'CMD []',
    '',
  ].join('\n');
}

/**
 * The labels of a wrapped image.
 *
 * @example
 * wrappedImageLabels({ manifest, manifestText, baseImageId, runtime, runnerDigest })['org.sluice.algorithm']; // 'thumbs@1.0'
 */
export function wrappedImageLabels(options: {
  readonly manifest: Pick<Manifest, 'name' | 'version'>;
  readonly manifestText: string;
  readonly baseImageId: string;
  readonly runnerDigest: string;
  readonly runtime: Pick<NodeRuntime, 'nodeVersion' | 'platform'>;
}): Record<string, string> {
  let compact = options.manifestText;
  try {
    compact = JSON.stringify(JSON.parse(options.manifestText));
  } catch {
    // parseManifest already read this text; keep it as it is if it somehow is not JSON.
  }
  return {
    [WRAPPED_LABELS.algorithm]: `${options.manifest.name}@${options.manifest.version}`,
    [WRAPPED_LABELS.manifestDigest]: sha256(options.manifestText),
    [WRAPPED_LABELS.manifestJson]: compact,
    [WRAPPED_LABELS.baseImage]: options.baseImageId,
    [WRAPPED_LABELS.runnerDigest]: options.runnerDigest,
    [WRAPPED_LABELS.runtime]: `node-${options.runtime.nodeVersion}-${options.runtime.platform.replace('/', '-')}`,
  };
}

/** sha256 over the files of a directory: sorted relative paths and their contents. */
async function directoryDigest(dir: string): Promise<string> {
  const hash = createHash('sha256');
  const entries = await readdir(dir, { recursive: true, withFileTypes: true });
  const files = entries
    .filter((entry) => entry.isFile())
    .map((entry) => join(entry.parentPath, entry.name))
    .sort();
  for (const file of files) {
    hash.update(`${relative(dir, file)}\0`);
    hash.update(await readFile(file));
    hash.update('\0');
  }
  return `sha256:${hash.digest('hex')}`;
}

/** Hard-links when it can (the runtime cache is on the same disk: no 100 MB copy), copies otherwise. */
async function linkOrCopy(source: string, target: string): Promise<void> {
  try {
    await link(source, target);
  } catch {
    await copyFile(source, target);
  }
}

/** The default local tag of a wrapped image: `localhost/sluice/<name>:<version>`. */
export function wrappedImageTag(manifest: Pick<Manifest, 'name' | 'version'>): string {
  return `localhost/sluice/${manifest.name}:${manifest.version}`;
}

/** The local tag an algorithm built from `build` gets: `localhost/sluice/<name>-algorithm:<version>`. */
export function algorithmImageTag(manifest: Pick<Manifest, 'name' | 'version'>): string {
  return `localhost/sluice/${manifest.name}-algorithm:${manifest.version}`;
}

/** How to wrap an algorithm. */
export interface WrapAlgorithmOptions {
  readonly manifest: Manifest;
  /** The manifest file's text, copied into the image as is. */
  readonly manifestText: string;
  /** The manifest file's path: `build.context` is relative to its directory. */
  readonly manifestPath: string;
  readonly engine: ContainerEngine;
  /** Directory of the runner bundle (`index.js`, `package.json`), e.g. `packages/runner/dist`. */
  readonly runnerDir: string;
  /** Tag of the wrapped image; default {@link wrappedImageTag}. */
  readonly tag?: string;
  /** Cache root for the Node runtime and build contexts; default {@link defaultCacheDir}. */
  readonly cacheDir?: string;
  /** Passed to {@link prepareNodeRuntime} (host Node, library directories, …). */
  readonly runtime?: Omit<PrepareNodeRuntimeOptions, 'platform' | 'cacheDir' | 'logger'>;
  readonly logger?: Logger;
}

/** A wrapped image in the local image store. */
export interface WrappedImage {
  /** The local tag. */
  readonly image: string;
  readonly imageId: string;
  /** The algorithm image it was built from (the built tag, or the manifest's `image`). */
  readonly algorithmImage: string;
  readonly original: OriginalImageConfig;
  readonly labels: Readonly<Record<string, string>>;
  readonly runtime: NodeRuntime;
  /** True when the tag already held an image made of the same inputs, so nothing was built. */
  readonly reused: boolean;
  /** Milliseconds spent in each step. */
  readonly timings: {
    readonly algorithmBuildMs?: number;
    readonly runtimeMs: number;
    readonly wrapBuildMs: number;
    readonly totalMs: number;
  };
}

/**
 * Builds the wrapped image of a manifest: builds the algorithm image from `build` (or pulls `image`
 * when it is not local), checks its platform, inspects it, prepares the Node runtime (cached) and
 * builds `FROM` it with the runner, the manifest and {@link OriginalImageConfig} under `/sluice`.
 * Pushing is the caller's next step: `withDigest(remote, await engine.push(remote))`.
 *
 * @example
 * const manifest = parseManifest(text, 'algorithm.json');
 * const wrapped = await wrapAlgorithm({ manifest, manifestText: text, manifestPath: 'algorithm.json', engine, runnerDir });
 * await engine.tag(wrapped.image, remote);
 * const reference = withDigest(remote, await engine.push(remote));
 * @throws {ImageBuildError} when the algorithm's own build fails.
 * @throws {ConfigurationError} when the image cannot be pulled, is for another platform, or the
 *   platform is not supported; when the runner bundle is missing.
 */
export async function wrapAlgorithm(options: WrapAlgorithmOptions): Promise<WrappedImage> {
  const started = Date.now();
  const { manifest, engine } = options;
  const logger = options.logger ?? silentLogger;
  const cacheDir = options.cacheDir ?? defaultCacheDir();
  const platform = runtimePlatform(manifest.platform);
  const runnerEntry = join(options.runnerDir, 'index.js');
  await readFile(runnerEntry).catch((e: unknown) => {
    throw new ConfigurationError(
      `the runner bundle ${runnerEntry} is missing: build it first (npx nx run runner:build).`,
      { cause: e },
    );
  });

  const { algorithmImage, algorithmBuildMs } = await algorithmImageOf(options, logger);

  const details = await engine.inspectImage(algorithmImage);
  const imagePlatform = `${details.os}/${details.architecture}`;
  if (imagePlatform !== platform) {
    throw new ConfigurationError(
      `the algorithm image ${algorithmImage} is for ${details.platform}, but algorithm.json says "platform": "${manifest.platform}". ` +
        'Set "platform" to the image\'s platform, or build the image for the manifest\'s.',
    );
  }

  const runtimeStarted = Date.now();
  const runtime = await prepareNodeRuntime({ ...options.runtime, platform, cacheDir, logger });
  const runtimeMs = Date.now() - runtimeStarted;

  const wrapStarted = Date.now();
  const original = originalImageConfig(algorithmImage, details, runtime);
  const baseLabels = wrappedImageLabels({
    manifest,
    manifestText: options.manifestText,
    baseImageId: details.id,
    runnerDigest: await directoryDigest(options.runnerDir),
    runtime,
  });
  const containerfileText = renderWrappedContainerfile({ baseImage: algorithmImage, runtime });
  const { dir: _dir, cached: _cached, ...runtimeRecord } = runtime;
  const labels = {
    ...baseLabels,
    [WRAPPED_LABELS.inputs]: sha256(
      JSON.stringify({ containerfileText, labels: baseLabels, original, runtime: runtimeRecord }),
    ),
  };
  const image = options.tag ?? wrappedImageTag(manifest);
  const timings = (wrapBuildMs: number): WrappedImage['timings'] => ({
    ...(algorithmBuildMs !== undefined ? { algorithmBuildMs } : {}),
    runtimeMs,
    wrapBuildMs,
    totalMs: Date.now() - started,
  });
  if (await engine.imageExists(image)) {
    const existing = await engine.inspectImage(image);
    if (existing.labels[WRAPPED_LABELS.inputs] === labels[WRAPPED_LABELS.inputs]) {
      logger.info(`${image} is up to date: nothing it is made of has changed`);
      const wrapBuildMs = Date.now() - wrapStarted;
      return {
        image,
        imageId: existing.id,
        algorithmImage,
        original,
        labels,
        runtime,
        reused: true,
        timings: timings(wrapBuildMs),
      };
    }
  }
  const imageId = await buildWrappedImage(options, logger, {
    cacheDir,
    runtime,
    original,
    containerfileText,
    image,
    labels,
  });
  const wrapBuildMs = Date.now() - wrapStarted;
  return {
    image,
    imageId,
    algorithmImage,
    original,
    labels,
    runtime,
    reused: false,
    timings: timings(wrapBuildMs),
  };
}

/** The algorithm's own image: built from the manifest's `build` (timed), or pulled when not present. */
async function algorithmImageOf(
  options: WrapAlgorithmOptions,
  logger: Logger,
): Promise<{ algorithmImage: string; algorithmBuildMs?: number }> {
  const { manifest, engine } = options;
  const source = manifest.source;
  if (source.kind !== 'build') {
    if (!(await engine.imageExists(source.image))) {
      logger.info(`pulling ${source.image}`);
      await engine.pull(source.image, { platform: manifest.platform });
    }
    return { algorithmImage: source.image };
  }
  const buildStarted = Date.now();
  const algorithmImage = await buildAlgorithmImage(engine, manifest, source, options.manifestPath, logger);
  return { algorithmImage, algorithmBuildMs: Date.now() - buildStarted };
}

/**
 * Builds a manifest's `build` source (context and Containerfile relative to the manifest's folder)
 * for its platform, tagged {@link algorithmImageTag}; returns the tag. What wrap and try both build.
 *
 * @throws whatever the engine's build throws (ImageBuildError when the build fails).
 */
export async function buildAlgorithmImage(
  engine: ContainerEngine,
  manifest: Pick<Manifest, 'name' | 'version' | 'platform'>,
  source: Extract<Manifest['source'], { kind: 'build' }>,
  manifestPath: string,
  logger: Logger,
): Promise<string> {
  const context = resolve(dirname(manifestPath), source.context);
  const tag = algorithmImageTag(manifest);
  logger.info(`building the algorithm image ${tag} from ${context}`);
  await engine.build({
    context,
    containerfile: isAbsolute(source.dockerfile) ? source.dockerfile : join(context, source.dockerfile),
    buildArgs: source.args,
    ...(source.target !== undefined ? { target: source.target } : {}),
    platform: manifest.platform,
    tags: [tag],
  });
  return tag;
}

/**
 * Builds the wrapped image from a scratch context (the Node runtime, the runner, the manifest and the
 * original image's configuration), removed afterwards; returns the image id.
 */
async function buildWrappedImage(
  options: WrapAlgorithmOptions,
  logger: Logger,
  parts: {
    readonly cacheDir: string;
    readonly runtime: NodeRuntime;
    readonly original: OriginalImageConfig;
    readonly containerfileText: string;
    readonly image: string;
    readonly labels: Record<string, string>;
  },
): Promise<string> {
  const { runtime, original } = parts;
  const contexts = join(parts.cacheDir, 'contexts');
  await mkdir(contexts, { recursive: true });
  const context = await mkdtemp(join(contexts, `${options.manifest.name}-`));
  try {
    for (const file of runtime.files) {
      await mkdir(dirname(join(context, 'node', file)), { recursive: true });
      await linkOrCopy(join(runtime.dir, file), join(context, 'node', file));
    }
    await cp(options.runnerDir, join(context, 'sluice', 'runner'), { recursive: true });
    await writeFile(join(context, 'sluice', 'algorithm.json'), options.manifestText);
    await writeFile(join(context, 'sluice', 'original-image.json'), `${JSON.stringify(original, null, 2)}\n`);
    const containerfile = join(context, 'Containerfile');
    await writeFile(containerfile, parts.containerfileText);
    logger.info(`building the wrapped image ${parts.image}`);
    return await options.engine.build({
      context,
      containerfile,
      platform: options.manifest.platform,
      tags: [parts.image],
      labels: parts.labels,
    });
  } finally {
    await rm(context, { recursive: true, force: true });
  }
}

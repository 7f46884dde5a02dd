// The init use case behind `sluice init`: inspect an image (or build a Dockerfile first, so the
// engine resolves base images, ARGs and inherited ENV/EXPOSE exactly as `wrap` will), draft
// algorithm.json and job.json from it, and write both without overwriting anything.
import { randomBytes } from 'node:crypto';
import { access, mkdir, writeFile } from 'node:fs/promises';
import { basename, dirname, join, relative, resolve, sep } from 'node:path';

import { ConfigurationError, silentLogger, type Logger } from '@sluice/core';
import {
  ImageNotFoundError,
  manifestFromImage,
  type ContainerEngine,
  type ImageDetails,
  type ImageSource,
  type ManifestDraft,
} from '@sluice/core/compute';

/** The two files init writes, by name. */
export const INIT_FILES = { algorithm: 'algorithm.json', job: 'job.json' } as const;

/** What to draft from, and where the files go. */
export interface InitOptions {
  /** The engine, or how to get it once the arguments and the files have been checked. */
  readonly engine: ContainerEngine | (() => Promise<ContainerEngine>);
  /** An image reference (local, or pulled when missing); or give `dockerfile`. */
  readonly image?: string;
  /** A Dockerfile to build and inspect; the manifest then builds it (`build`) instead of naming an image. */
  readonly dockerfile?: string;
  /** The build context; default the Dockerfile's directory. */
  readonly context?: string;
  /** The algorithm's name for a Dockerfile; default the context directory's name. */
  readonly name?: string;
  /** Where to write; default the working directory. */
  readonly dir?: string;
  /** Replace existing files. */
  readonly force?: boolean;
  /** The directory holding the published `*.schema.json` files, when known; `$schema` points at it relatively. */
  readonly schemaDir?: string;
  readonly logger?: Logger;
}

/** What init wrote. */
export interface InitResult extends ManifestDraft {
  readonly algorithmPath: string;
  readonly jobPath: string;
}

const posix = (path: string): string => path.split(sep).join('/');

/** `$schema` as a path relative to the written file, or the bare file name when the schemas are not at hand. */
function schemaRef(dir: string, schemaDir: string | undefined, file: string): string {
  if (schemaDir === undefined) return file;
  return posix(relative(dir, join(schemaDir, file)));
}

async function exists(path: string): Promise<boolean> {
  try {
    await access(path);
    return true;
  } catch {
    return false;
  }
}

async function inspectOrPull(engine: ContainerEngine, image: string, logger: Logger): Promise<ImageDetails> {
  try {
    return await engine.inspectImage(image);
  } catch (thrown: unknown) {
    if (!(thrown instanceof ImageNotFoundError)) throw thrown;
    logger.info(`${image} is not a local image: pulling it`);
    await engine.pull(image);
    return engine.inspectImage(image);
  }
}

/** Builds the Dockerfile under a throw-away tag, inspects the result and removes the tag. */
async function inspectBuild(
  engine: ContainerEngine,
  dockerfile: string,
  context: string,
  logger: Logger,
): Promise<ImageDetails> {
  const tag = `localhost/sluice-init-${randomBytes(4).toString('hex')}:draft`;
  logger.info(`building ${dockerfile} to read what the image says`);
  const id = await engine.build({ context, containerfile: dockerfile, tags: [tag] });
  try {
    return await engine.inspectImage(id);
  } finally {
    await engine.removeImages([tag]);
  }
}

/**
 * Drafts algorithm.json and job.json from an image or a Dockerfile ({@link manifestFromImage}) and
 * writes them to `dir`. Nothing is written when either file exists, unless `force`.
 *
 * @example
 * const result = await initAlgorithm({ engine, image: 'localhost/edges:1.2', dir: 'edges' });
 * console.log(result.algorithmPath, result.editThese);
 * @throws {ConfigurationError} when a file exists (without `force`), neither or both of image and
 *   dockerfile are given, the image cannot be found or pulled, or the build fails.
 */
export async function initAlgorithm(options: InitOptions): Promise<InitResult> {
  const logger = options.logger ?? silentLogger;
  const dir = resolve(options.dir ?? '.');
  const algorithmPath = join(dir, INIT_FILES.algorithm);
  const jobPath = join(dir, INIT_FILES.job);
  if ((options.image === undefined) === (options.dockerfile === undefined)) {
    throw new ConfigurationError('give an image reference or --dockerfile <path>, one of the two.');
  }
  if (options.force !== true) {
    for (const path of [algorithmPath, jobPath]) {
      if (await exists(path)) {
        throw new ConfigurationError(
          `${path} already exists: sluice init does not overwrite it. Pass --force to replace it, or --dir to write elsewhere.`,
        );
      }
    }
  }

  const engine = typeof options.engine === 'function' ? await options.engine() : options.engine;
  let details: ImageDetails;
  let source: ImageSource;
  if (options.image !== undefined) {
    details = await inspectOrPull(engine, options.image, logger);
    source = { kind: 'image', reference: options.image };
  } else {
    const dockerfile = resolve(options.dockerfile ?? 'Dockerfile');
    const context = resolve(options.context ?? dirname(dockerfile));
    details = await inspectBuild(engine, dockerfile, context, logger);
    const inContext = posix(relative(context, dockerfile));
    source = {
      kind: 'build',
      name: options.name ?? basename(context),
      build: {
        context: posix(relative(dir, context)) || '.',
        ...(inContext !== 'Dockerfile' ? { dockerfile: inContext } : {}),
      },
    };
  }
  const draft = manifestFromImage(details, source, {
    algorithm: schemaRef(dir, options.schemaDir, 'algorithm.schema.json'),
    job: schemaRef(dir, options.schemaDir, 'job.schema.json'),
  });

  await mkdir(dir, { recursive: true });
  // `wx` refuses a file that appeared since the check above.
  const flag = options.force === true ? 'w' : 'wx';
  await writeFile(algorithmPath, `${JSON.stringify(draft.manifest, null, 2)}\n`, { flag });
  await writeFile(jobPath, `${JSON.stringify(draft.job, null, 2)}\n`, { flag });
  return { ...draft, algorithmPath, jobPath };
}

// The wrap use case, shared by the wrap-algorithm action and `sluice wrap`: validate the manifest,
// build the wrapped image (the algorithm's own build first, when it has one), push it, and record
// it in the catalogue, so a job can name the algorithm as name@version.
import { readFile } from 'node:fs/promises';

import { ECRClient } from '@aws-sdk/client-ecr';
import { ECSClient } from '@aws-sdk/client-ecs';

import {
  ConfigurationError,
  parseManifest,
  silentLogger,
  toError,
  type Logger,
  type Manifest,
} from '@sluice/core';
import {
  ALGORITHM_TAGS,
  EcrRegistry,
  ecrRepositoryName,
  EcsCatalogue,
  EcsTaskDefinitions,
} from '@sluice/core/ecs';
import {
  CliContainerEngine,
  LocalCatalogue,
  withDigest,
  wrapAlgorithm,
  type AlgorithmCatalogue,
  type ContainerEngine,
  type WrapAlgorithmOptions,
  type WrappedImage,
} from '@sluice/core/compute';

/** Where the wrapped image goes. */
export type PushTarget =
  | { readonly kind: 'none' }
  /** A registry by host (and port, and optional path), e.g. `localhost:5000` or `ghcr.io/acme`. */
  | { readonly kind: 'registry'; readonly registry: string }
  /** The account's ECR registry in the client's region; the repository is created when missing. */
  | { readonly kind: 'ecr'; readonly ecr: EcrRegistry; readonly immutableTags?: boolean };

/** Where the user asked to push, before any client exists (action inputs, CLI flags). */
export type PushRequest =
  | { readonly kind: 'none' }
  | { readonly kind: 'registry'; readonly registry: string }
  | { readonly kind: 'ecr' };

/**
 * Turns what the user asked for into the push target and the catalogue {@link wrap} needs, the same
 * way for the action and the CLI: ECR through the region's client; the ECS catalogue (a task
 * definition) when registering with a region; otherwise the local catalogue (image labels).
 *
 * @example
 * const { push, catalogue } = wrapDestinations({ engine, push: { kind: 'ecr' }, region: 'eu-west-1', registerTaskDefinition: true, logger });
 */
export function wrapDestinations(options: {
  readonly engine: ContainerEngine;
  readonly push: PushRequest;
  readonly region?: string;
  readonly registerTaskDefinition: boolean;
  readonly executionRoleArn?: string;
  readonly logger: Logger;
}): { readonly push: PushTarget; readonly catalogue?: AlgorithmCatalogue } {
  const { region, logger } = options;
  const push: PushTarget =
    options.push.kind === 'ecr'
      ? {
          kind: 'ecr',
          ecr: new EcrRegistry(new ECRClient(region !== undefined ? { region } : {}), { logger }),
        }
      : options.push;
  if (options.registerTaskDefinition && region !== undefined) {
    const catalogue = new EcsCatalogue({
      taskDefinitions: new EcsTaskDefinitions(new ECSClient({ region })),
      region,
      logger,
      ...(options.executionRoleArn !== undefined ? { executionRoleArn: options.executionRoleArn } : {}),
    });
    return { push, catalogue };
  }
  if (options.engine instanceof CliContainerEngine)
    return { push, catalogue: new LocalCatalogue(options.engine) };
  return { push };
}

/** What to wrap, and where it goes. */
export interface WrapOptions {
  /** The manifest file (`build.context` is relative to its directory). */
  readonly manifestPath: string;
  /** The manifest's text when already read; otherwise it is read from `manifestPath`. */
  readonly manifestText?: string;
  /** Overrides the manifest's `platform`. */
  readonly platform?: string;
  readonly engine: ContainerEngine;
  /** Directory of the runner bundle (`index.js`, `package.json`). */
  readonly runnerDir: string;
  /** Default: no push (the image stays in the local store). */
  readonly push?: PushTarget;
  /** Where to record the algorithm; default none. An ECS catalogue needs a pushed image. */
  readonly catalogue?: AlgorithmCatalogue;
  readonly cacheDir?: string;
  /** Passed to the wrapped-image build (the Node runtime's source). */
  readonly runtime?: WrapAlgorithmOptions['runtime'];
  readonly logger?: Logger;
}

/** What wrap made. */
export interface WrapResult {
  /** The image reference with its digest when pushed (`registry/sluice/<name>:<version>@sha256:…`); the local tag otherwise. */
  readonly image: string;
  /** The local tag of the wrapped image. */
  readonly localImage: string;
  readonly imageId: string;
  /** The pushed manifest's digest. */
  readonly digest?: string;
  /** The registered (or reused) ECS task definition. */
  readonly taskDefinitionArn?: string;
  /** True when nothing was built and nothing was registered: everything already existed. */
  readonly reused: boolean;
  readonly manifest: Manifest;
  readonly wrapped: WrappedImage;
}

async function manifestTextOf(options: WrapOptions): Promise<string> {
  if (options.manifestText !== undefined) return options.manifestText;
  try {
    return await readFile(options.manifestPath, 'utf8');
  } catch (e: unknown) {
    throw new ConfigurationError(`cannot read the manifest ${options.manifestPath}: ${toError(e).message}`, {
      cause: e,
    });
  }
}

/**
 * Wraps an algorithm: validates the manifest, builds the wrapped image ({@link wrapAlgorithm}: the
 * algorithm's own `build` first; an unchanged algorithm is reused, not rebuilt), pushes it (to the
 * registry given, or to ECR after logging in, or nowhere) and records it in the catalogue (an ECS task
 * definition, reused when identical; or the local image store).
 *
 * @example
 * const result = await wrap({
 *   manifestPath: 'algorithm.json', engine, runnerDir,
 *   push: { kind: 'registry', registry: 'localhost:5000' },
 *   catalogue: new EcsCatalogue({ taskDefinitions: new EcsTaskDefinitions(ecs), region }),
 * });
 * console.log(result.image, result.taskDefinitionArn);
 * @throws {ConfigurationError} (or ValidationError) when the manifest is invalid or unreadable, the
 *   algorithm's build fails, the platform is unsupported, or an ECS catalogue is given without a push.
 */
export async function wrap(options: WrapOptions): Promise<WrapResult> {
  const logger = options.logger ?? silentLogger;
  const push = options.push ?? { kind: 'none' };
  const manifestText = await manifestTextOf(options);
  const parsed = parseManifest(manifestText, options.manifestPath);
  const manifest: Manifest =
    options.platform !== undefined && options.platform !== parsed.platform
      ? { ...parsed, platform: options.platform }
      : parsed;
  if (manifest !== parsed)
    logger.info(`building for ${manifest.platform} (the manifest says ${parsed.platform})`);
  if (options.catalogue?.kind === 'ecs' && push.kind === 'none') {
    throw new ConfigurationError(
      'an ECS task definition needs the image in a registry ECS can pull from: push it (a registry, or ECR), or do not register a task definition.',
    );
  }
  const algorithm = `${manifest.name}@${manifest.version}`;
  logger.info(`wrapping ${algorithm} (${options.manifestPath})`);

  const wrapped = await wrapAlgorithm({
    manifest,
    manifestText,
    manifestPath: options.manifestPath,
    engine: options.engine,
    runnerDir: options.runnerDir,
    logger,
    ...(options.cacheDir !== undefined ? { cacheDir: options.cacheDir } : {}),
    ...(options.runtime !== undefined ? { runtime: options.runtime } : {}),
  });
  logger.info(
    `${wrapped.reused ? 'reused' : 'built'} ${wrapped.image} (${wrapped.imageId.slice(0, 19)}) in ${wrapped.timings.totalMs} ms`,
  );

  let image = wrapped.image;
  let digest: string | undefined;
  if (push.kind !== 'none') {
    let repository: string;
    if (push.kind === 'ecr') {
      await push.ecr.login(options.engine);
      const repo = await push.ecr.ensureRepository(ecrRepositoryName(manifest.name), {
        tags: { [ALGORITHM_TAGS.name]: manifest.name },
        ...(push.immutableTags !== undefined ? { immutableTags: push.immutableTags } : {}),
      });
      repository = repo.uri;
    } else {
      repository = `${push.registry.replace(/\/+$/, '')}/sluice/${manifest.name}`;
    }
    const remote = `${repository}:${manifest.version}`;
    await options.engine.tag(wrapped.image, remote);
    logger.info(`pushing ${remote}`);
    digest = await options.engine.push(remote);
    image = withDigest(remote, digest);
    logger.info(`pushed ${image}`);
  }

  let taskDefinitionArn: string | undefined;
  let catalogueReused = true;
  if (options.catalogue !== undefined) {
    const entry = await options.catalogue.register({
      manifest,
      manifestText,
      image: options.catalogue.kind === 'ecs' ? image : wrapped.image,
    });
    taskDefinitionArn = entry.taskDefinitionArn;
    catalogueReused = entry.reused;
    logger.info(
      `${algorithm} is in the ${options.catalogue.kind} catalogue${taskDefinitionArn !== undefined ? ` as ${taskDefinitionArn}` : ''}`,
    );
  }

  return {
    image,
    localImage: wrapped.image,
    imageId: wrapped.imageId,
    ...(digest !== undefined ? { digest } : {}),
    ...(taskDefinitionArn !== undefined ? { taskDefinitionArn } : {}),
    reused: wrapped.reused && catalogueReused,
    manifest,
    wrapped,
  };
}

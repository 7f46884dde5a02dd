// The algorithm catalogue: `name@version` → the wrapped image (by digest), its ECS task definition and
// its manifest, so a job names an algorithm rather than an image (DESIGN.md). wrap-algorithm registers,
// provision-run resolves. Two stores, no database of our own:
// - ECS: the task definition *is* the entry. Family `sluice-<name>`, tags `sluice:algorithm`,
//   `sluice:version`, `sluice:digest`; the manifest in the container's `dockerLabels`
//   (`org.sluice.manifest.json`). Tags hold at most 256 characters, too few for a manifest; a task
//   definition may hold 64 KiB, plenty; an SSM parameter (4 KiB standard) would be a second service,
//   a second permission and a second thing to keep in step. The entry is immutable with its revision.
// - local: the wrapped image's own labels (`org.sluice.algorithm`, `org.sluice.manifest.json`), read
//   through the container engine.
import { ConfigurationError } from '../errors.js';
import { parseManifest } from '../schemas/documents.js';
import type { Manifest } from '../schemas/manifest.js';
import type { ContainerEngine, ImageDetails, ImageLister } from './container-engine.js';
import { WRAPPED_LABELS, wrappedImageTag } from './wrapped-image.js';

/** One algorithm in the catalogue. */
export interface CatalogueEntry {
  readonly name: string;
  readonly version: string;
  /**
   * The wrapped image, pinned: `registry/repo:tag@sha256:…` in ECS; the local image id (`sha256:…`,
   * which docker and podman both run) in the local catalogue.
   */
  readonly image: string;
  /** The ECS task definition revision (ECS catalogue only). */
  readonly taskDefinitionArn?: string;
  /** The manifest as registered. */
  readonly manifest: Manifest;
}

/** What wrap hands the catalogue. */
export interface CatalogueRegistration {
  readonly manifest: Manifest;
  /** The manifest file's text (the catalogue keeps its compact JSON). */
  readonly manifestText: string;
  /** The wrapped image: by digest for ECS; the local tag or id for the local catalogue. */
  readonly image: string;
}

/** A registration's result. */
export interface RegisteredAlgorithm extends CatalogueEntry {
  /** True when the catalogue already held exactly this entry, so nothing was added. */
  readonly reused: boolean;
}

/**
 * Where wrap-algorithm records algorithms and provision-run finds them.
 *
 * @example
 * const entry = await catalogue.resolve('thumbnails@1.0.0');
 * console.log(entry.image, entry.taskDefinitionArn);
 */
export interface AlgorithmCatalogue {
  readonly kind: 'ecs' | 'local';
  /** Records the algorithm; registering the same image and settings again adds nothing. */
  register(registration: CatalogueRegistration): Promise<RegisteredAlgorithm>;
  /**
   * The newest entry of `name@version`.
   * @throws {ConfigurationError} when no such algorithm is registered (the message says to wrap it).
   */
  resolve(ref: string | { readonly name: string; readonly version: string }): Promise<CatalogueEntry>;
}

/** `name@version` (or its parts) as name and version. */
export function splitRef(ref: string | { readonly name: string; readonly version: string }): {
  name: string;
  version: string;
} {
  if (typeof ref !== 'string') return { name: ref.name, version: ref.version };
  const at = ref.lastIndexOf('@');
  if (at < 1 || at === ref.length - 1) {
    throw new ConfigurationError(
      `"${ref}" is not an algorithm reference: write name@version, e.g. thumbnails@1.0.0`,
    );
  }
  return { name: ref.slice(0, at), version: ref.slice(at + 1) };
}

/**
 * The error for an algorithm nobody registered, saying where sluice looked and what to run.
 *
 * @example
 * throw unknownAlgorithmError('thumbnails', '1.0.0', 'in the local image store');
 * @throws never.
 */
export function unknownAlgorithmError(name: string, version: string, where: string): ConfigurationError {
  return new ConfigurationError(
    `no algorithm ${name}@${version} is registered ${where}: run wrap-algorithm (or \`sluice wrap algorithm.json\`) first, with the algorithm.json of ${name} version ${version}.`,
  );
}

/** The manifest a wrapped image's labels (or a task definition's dockerLabels) carry. */
export function manifestFrom(labels: Readonly<Record<string, string>> | undefined, where: string): Manifest {
  const text = labels?.[WRAPPED_LABELS.manifestJson];
  if (text === undefined || text === '') {
    throw new ConfigurationError(
      `${where} carries no manifest (label ${WRAPPED_LABELS.manifestJson}): it was not made by sluice wrap, or by an older one. Wrap the algorithm again.`,
    );
  }
  return parseManifest(text, where);
}

// ---------------------------------------------------------------------------------------------

/**
 * The catalogue in the local image store: a wrapped image carries its `org.sluice.algorithm` and
 * manifest labels from the build, so registering only checks them, and resolving lists the images
 * labelled `org.sluice.algorithm=<name@version>`.
 *
 * @example
 * const catalogue = new LocalCatalogue(new CliContainerEngine({ kind: 'podman' }));
 * const { image, manifest } = await catalogue.resolve('thumbnails@1.0.0');
 * @throws {ConfigurationError} from resolve when the algorithm is unknown; ContainerEngineError for faults.
 */
export class LocalCatalogue implements AlgorithmCatalogue {
  readonly kind = 'local' as const;

  constructor(private readonly engine: Pick<ContainerEngine, 'inspectImage'> & ImageLister) {}

  /** @throws {ConfigurationError} when the image is missing or not labelled as this algorithm. */
  async register(registration: CatalogueRegistration): Promise<RegisteredAlgorithm> {
    const { manifest } = registration;
    const details = await this.engine.inspectImage(registration.image);
    const algorithm = `${manifest.name}@${manifest.version}`;
    if (details.labels[WRAPPED_LABELS.algorithm] !== algorithm) {
      throw new ConfigurationError(
        `${registration.image} is not a wrapped image of ${algorithm} (its ${WRAPPED_LABELS.algorithm} label is ${JSON.stringify(details.labels[WRAPPED_LABELS.algorithm] ?? null)}): wrap the algorithm with sluice wrap.`,
      );
    }
    return { name: manifest.name, version: manifest.version, image: details.id, manifest, reused: true };
  }

  async resolve(ref: string | { readonly name: string; readonly version: string }): Promise<CatalogueEntry> {
    const { name, version } = splitRef(ref);
    const label = `${WRAPPED_LABELS.algorithm}=${name}@${version}`;
    const images = await this.engine.listImages(label);
    const chosen = preferred(images, wrappedImageTag({ name, version }));
    if (chosen === undefined) {
      throw unknownAlgorithmError(name, version, `in the local image store (no image is labelled ${label})`);
    }
    return { name, version, image: chosen.id, manifest: manifestFrom(chosen.labels, `image ${chosen.id}`) };
  }
}

/**
 * Of several images with the same label (an old build keeps its labels when its tag moves on), the
 * one with wrap's own tag, else one with any tag, else any.
 */
function preferred(images: readonly ImageDetails[], tag: string): ImageDetails | undefined {
  return (
    images.find((image) => image.repoTags.some((t) => t === tag || t.endsWith(`/${tag}`))) ??
    images.find((image) => image.repoTags.length > 0) ??
    images[0]
  );
}

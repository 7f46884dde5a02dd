// A ContainerEngine in memory: images with ids, tags and labels, containers that run a scripted
// program. The container engine contract runs against it and against podman, so what tests learn
// from it holds for the real engines.
import { createHash } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

import {
  ContainerEngineError,
  ImageNotFoundError,
  repositoryOf,
  type BuildImageOptions,
  type CommandResult,
  type ContainerDetails,
  type ContainerEngine,
  type ContainerEngineKind,
  type ImageDetails,
  type ImageLister,
  type RegistryLogin,
  type RunContainerOptions,
} from '@sluice/core/compute';

/** How a fake container ends: its exit code and what it wrote. */
export interface FakeExit {
  readonly exitCode: number;
  readonly stdout?: string;
  readonly stderr?: string;
}

/**
 * What a fake container does when started: end at once ({@link FakeExit}), or keep running
 * (`'running'`) until `stop` or {@link FakeContainerEngine.exit} ends it.
 */
export type FakeProgram = (options: RunContainerOptions, detached: boolean) => FakeExit | 'running';

/** How to make a {@link FakeContainerEngine}. */
export interface FakeContainerEngineOptions {
  readonly kind?: ContainerEngineKind;
  /**
   * What every built or pulled image looks like (entrypoint, cmd, user, env, platform); the fake
   * sets id, tags and labels. Default: linux/amd64 with nothing set.
   */
  readonly baseImage?: ImageDetails;
  /** Default: detached containers run until stopped, attached ones exit 0 with no output. */
  readonly program?: FakeProgram;
}

/** A container the fake keeps. */
export interface FakeContainer {
  details: ContainerDetails;
  readonly options: RunContainerOptions;
  stdout: string;
  stderr: string;
}

const BASE_IMAGE: ImageDetails = {
  id: '',
  repoDigests: [],
  repoTags: [],
  entrypoint: null,
  cmd: null,
  workingDir: '',
  user: '',
  env: [],
  labels: {},
  os: 'linux',
  architecture: 'amd64',
  platform: 'linux/amd64',
};

const defaultProgram: FakeProgram = (_options, detached) => (detached ? 'running' : { exitCode: 0 });

const sha256 = (text: string): string => `sha256:${createHash('sha256').update(text).digest('hex')}`;

/** `key` or `key=value`, as `--filter label=…` reads it. */
function hasLabel(labels: Readonly<Record<string, string>>, label: string): boolean {
  const at = label.indexOf('=');
  if (at < 0) return label in labels;
  return labels[label.slice(0, at)] === label.slice(at + 1);
}

/** Every file under `dir`, by relative path, as text. */
function snapshot(dir: string): Record<string, string> {
  const files: Record<string, string> = {};
  const walk = (at: string, prefix: string): void => {
    for (const entry of readdirSync(at, { withFileTypes: true })) {
      const path = join(at, entry.name);
      if (entry.isDirectory()) walk(path, `${prefix}${entry.name}/`);
      else files[`${prefix}${entry.name}`] = readFileSync(path, 'utf8');
    }
  };
  walk(dir, '');
  return files;
}

/**
 * A {@link ContainerEngine} (and {@link ImageLister}) in memory. Images are found by id or tag;
 * builds snapshot their context's files (`builds`); containers run a {@link FakeProgram} and are
 * found by id or name. What it records (`builds`, `pulls`, `pushes`, `started`, `stopped`,
 * `logins`) is for tests to check.
 *
 * @example
 * const engine = new FakeContainerEngine();
 * const workers = new LocalWorkers(engine);
 * await workers.ensure(spec, { workRemains: true });
 * engine.exit('sluice-thumbs-1', 137, 'killed');
 */
export class FakeContainerEngine implements ContainerEngine, ImageLister {
  readonly kind: ContainerEngineKind;
  /** Images by id. */
  readonly images = new Map<string, ImageDetails>();
  /** Containers by id. */
  readonly containers = new Map<string, FakeContainer>();
  readonly builds: { readonly options: BuildImageOptions; readonly files: Record<string, string> }[] = [];
  readonly pulls: string[] = [];
  readonly pushes: string[] = [];
  readonly started: RunContainerOptions[] = [];
  readonly stopped: string[] = [];
  readonly logins: RegistryLogin[] = [];
  private readonly baseImage: ImageDetails;
  private readonly program: FakeProgram;
  private readonly waiters = new Map<string, ((exitCode: number) => void)[]>();
  private next = 1;

  constructor(options: FakeContainerEngineOptions = {}) {
    this.kind = options.kind ?? 'podman';
    this.baseImage = options.baseImage ?? BASE_IMAGE;
    this.program = options.program ?? defaultProgram;
  }

  /** Adds an image as it is (found by its id and its `repoTags`), taking its tags from any other image. */
  addImage(details: ImageDetails): ImageDetails {
    for (const tag of details.repoTags) this.untag(tag);
    this.images.set(details.id, details);
    return details;
  }

  /**
   * Ends a running container (found by id or name) as if its program exited; `oomKilled` as an
   * engine's inspect reports a kernel OOM kill (docker does; podman 4.3 does not).
   */
  exit(
    container: string,
    exitCode: number,
    stdout = '',
    options: { readonly oomKilled?: boolean } = {},
  ): void {
    const found = this.container(container);
    if (found === undefined) throw new Error(`no container ${container}`);
    found.stdout = stdout;
    this.end(found, exitCode);
    if (options.oomKilled === true) found.details = { ...found.details, oomKilled: true };
  }

  /** Names of the running containers. */
  running(): string[] {
    return [...this.containers.values()].filter((c) => c.details.running).map((c) => c.details.name);
  }

  build(options: BuildImageOptions): Promise<string> {
    this.builds.push({ options, files: snapshot(options.context) });
    const id = sha256(`build ${this.builds.length}`);
    const [os = 'linux', architecture = 'amd64', variant] = (
      options.platform ?? this.baseImage.platform
    ).split('/');
    this.addImage({
      ...this.baseImage,
      id,
      repoTags: [...options.tags],
      repoDigests: [],
      labels: { ...this.baseImage.labels, ...options.labels },
      os,
      architecture,
      ...(variant !== undefined ? { variant } : {}),
      platform: [os, architecture, variant].filter((part) => part !== undefined).join('/'),
    });
    return Promise.resolve(id);
  }

  inspectImage(image: string): Promise<ImageDetails> {
    const found = this.image(image);
    return found === undefined ? Promise.reject(new ImageNotFoundError(image)) : Promise.resolve(found);
  }

  imageExists(image: string): Promise<boolean> {
    return Promise.resolve(this.image(image) !== undefined);
  }

  /** @throws {ContainerEngineError} when there is no such local image. */
  push(image: string): Promise<string> {
    const found = this.image(image);
    if (found === undefined) {
      return Promise.reject(new ContainerEngineError(`no local image ${image} to push`, 125, ''));
    }
    this.pushes.push(image);
    const digest = sha256(`manifest of ${found.id}`);
    const repoDigest = `${repositoryOf(image)}@${digest}`;
    if (!found.repoDigests.includes(repoDigest)) {
      this.images.set(found.id, { ...found, repoDigests: [...found.repoDigests, repoDigest] });
    }
    return Promise.resolve(digest);
  }

  /** Every reference can be pulled: it becomes the base image, tagged with the reference. */
  pull(image: string): Promise<void> {
    this.pulls.push(image);
    if (this.image(image) === undefined) {
      const pinned = image.includes('@sha256:');
      this.addImage({
        ...this.baseImage,
        id: sha256(`pulled ${image}`),
        repoTags: pinned ? [] : [image],
        repoDigests: pinned ? [image] : [],
      });
    }
    return Promise.resolve();
  }

  tag(source: string, target: string): Promise<void> {
    const found = this.image(source);
    if (found === undefined) return Promise.reject(new ImageNotFoundError(source));
    this.untag(target);
    const current = this.images.get(found.id) ?? found;
    this.images.set(found.id, { ...current, repoTags: [...current.repoTags, target] });
    return Promise.resolve();
  }

  /** A tag is untagged (the image goes with its last tag); an id removes the image; missing ones are ignored. */
  removeImages(images: readonly string[]): Promise<void> {
    for (const image of images) {
      const found = this.image(image);
      if (found === undefined) continue;
      const tags = found.repoTags.filter((tag) => tag !== image);
      const byTag = tags.length < found.repoTags.length;
      if (byTag && tags.length > 0) this.images.set(found.id, { ...found, repoTags: tags });
      else this.images.delete(found.id);
    }
    return Promise.resolve();
  }

  /** @throws {Error} when the program keeps running and no `timeoutMs` would kill it. */
  run(options: RunContainerOptions): Promise<CommandResult> {
    const container = this.start(options, false);
    if (container.details.running) {
      if (options.timeoutMs === undefined) {
        return Promise.reject(new Error(`the fake program of ${options.image} never exits`));
      }
      this.end(container, 137);
    }
    if (options.remove === true) this.containers.delete(container.details.id);
    return Promise.resolve({
      exitCode: container.details.exitCode,
      stdout: container.stdout,
      stderr: container.stderr,
    });
  }

  /** @throws {ContainerEngineError} when the name is in use. */
  runDetached(options: RunContainerOptions): Promise<string> {
    const name = options.name;
    if (name !== undefined && this.container(name) !== undefined) {
      return Promise.reject(
        new ContainerEngineError(`the container name ${name} is already in use`, 125, ''),
      );
    }
    return Promise.resolve(this.start(options, true).details.id);
  }

  /** Its program ends at once, with exit code 0, as the runner does on SIGTERM. */
  stop(container: string): Promise<void> {
    const found = this.container(container);
    if (found === undefined) return Promise.reject(this.noSuchContainer(container));
    this.stopped.push(container);
    if (found.details.running) this.end(found, 0);
    return Promise.resolve();
  }

  remove(containers: readonly string[]): Promise<void> {
    for (const container of containers) {
      const found = this.container(container);
      if (found === undefined) continue;
      if (found.details.running) this.end(found, 137);
      this.containers.delete(found.details.id);
    }
    return Promise.resolve();
  }

  logs(container: string): Promise<{ readonly stdout: string; readonly stderr: string }> {
    const found = this.container(container);
    if (found === undefined) return Promise.reject(this.noSuchContainer(container));
    return Promise.resolve({ stdout: found.stdout, stderr: found.stderr });
  }

  /** Resolves when the container has exited (at once when it has). */
  wait(container: string): Promise<number> {
    const found = this.container(container);
    if (found === undefined) return Promise.reject(this.noSuchContainer(container));
    if (!found.details.running) return Promise.resolve(found.details.exitCode);
    return new Promise((resolve) => {
      const id = found.details.id;
      this.waiters.set(id, [...(this.waiters.get(id) ?? []), resolve]);
    });
  }

  inspectContainer(container: string): Promise<ContainerDetails> {
    const found = this.container(container);
    return found === undefined
      ? Promise.reject(this.noSuchContainer(container))
      : Promise.resolve(found.details);
  }

  listContainers(label: string): Promise<readonly ContainerDetails[]> {
    return Promise.resolve(
      [...this.containers.values()].map((c) => c.details).filter((d) => hasLabel(d.labels, label)),
    );
  }

  listImages(label: string): Promise<readonly ImageDetails[]> {
    return Promise.resolve([...this.images.values()].filter((image) => hasLabel(image.labels, label)));
  }

  login(credentials: RegistryLogin): Promise<void> {
    this.logins.push(credentials);
    return Promise.resolve();
  }

  private image(reference: string): ImageDetails | undefined {
    const byId = this.images.get(reference);
    if (byId !== undefined) return byId;
    // `repo:tag@sha256:…` names the image by its repository and digest; the tag does not count.
    const at = reference.indexOf('@');
    const byDigest = at < 0 ? undefined : `${repositoryOf(reference)}${reference.slice(at)}`;
    return [...this.images.values()].find(
      (image) =>
        image.repoTags.includes(reference) ||
        (byDigest !== undefined && image.repoDigests.includes(byDigest)),
    );
  }

  private untag(tag: string): void {
    for (const image of this.images.values()) {
      if (image.repoTags.includes(tag)) {
        this.images.set(image.id, { ...image, repoTags: image.repoTags.filter((t) => t !== tag) });
      }
    }
  }

  private container(reference: string): FakeContainer | undefined {
    return (
      this.containers.get(reference) ??
      [...this.containers.values()].find((c) => c.details.name === reference)
    );
  }

  private start(options: RunContainerOptions, detached: boolean): FakeContainer {
    const id = createHash('sha256').update(`container ${this.next}`).digest('hex');
    const name = options.name ?? `fake_${this.next}`;
    this.next += 1;
    this.started.push(options);
    const outcome = this.program(options, detached);
    const container: FakeContainer = {
      options,
      stdout: outcome === 'running' ? '' : (outcome.stdout ?? ''),
      stderr: outcome === 'running' ? '' : (outcome.stderr ?? ''),
      details: {
        id,
        name,
        image: options.image,
        status: outcome === 'running' ? 'running' : 'exited',
        running: outcome === 'running',
        exitCode: outcome === 'running' ? 0 : outcome.exitCode,
        oomKilled: false,
        labels: { ...this.image(options.image)?.labels, ...options.labels },
      },
    };
    this.containers.set(id, container);
    return container;
  }

  private end(container: FakeContainer, exitCode: number): void {
    container.details = { ...container.details, running: false, status: 'exited', exitCode };
    const id = container.details.id;
    for (const resolve of this.waiters.get(id) ?? []) resolve(exitCode);
    this.waiters.delete(id);
  }

  private noSuchContainer(container: string): ContainerEngineError {
    return new ContainerEngineError(`no container with name or id ${container}`, 125, '');
  }
}

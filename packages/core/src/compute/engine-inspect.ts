// Parsing `inspect --format '{{json .}}'`: docker prints one object per line, podman (4.x) a JSON
// array; the field names are Docker's in both. Also the small readers of image references and push
// output that the CLI engine needs.
import type { ContainerDetails, ImageDetails } from './container-engine.js';
import { ContainerEngineError } from './container-engine-errors.js';

type JsonObject = Record<string, unknown>;

function isObject(value: unknown): value is JsonObject {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function parseInspectOutput(stdout: string, what: string): JsonObject[] {
  const text = stdout.trim();
  if (text === '') return [];
  const values: unknown[] = [];
  try {
    values.push(JSON.parse(text));
  } catch {
    // One JSON document per line (docker with --format '{{json .}}' and several names).
    for (const line of text.split('\n')) {
      if (line.trim() === '') continue;
      try {
        values.push(JSON.parse(line));
      } catch (e: unknown) {
        throw new ContainerEngineError(`could not read ${what}: not JSON: ${line.slice(0, 200)}`, 0, '', {
          cause: e,
        });
      }
    }
  }
  const objects = values.flatMap((value) => (Array.isArray(value) ? (value as unknown[]) : [value]));
  return objects.map((value) => {
    if (!isObject(value))
      throw new ContainerEngineError(`could not read ${what}: expected a JSON object`, 0, '');
    return value;
  });
}

function stringField(object: JsonObject, ...names: string[]): string {
  for (const name of names) {
    const value = object[name];
    if (typeof value === 'string') return value;
  }
  return '';
}

function stringList(value: unknown): string[] | null {
  if (!Array.isArray(value)) return typeof value === 'string' && value !== '' ? [value] : null;
  return value.filter((item): item is string => typeof item === 'string');
}

function labelsOf(value: unknown): Record<string, string> {
  const labels: Record<string, string> = {};
  if (isObject(value)) {
    for (const [key, item] of Object.entries(value)) if (typeof item === 'string') labels[key] = item;
  }
  return labels;
}

/**
 * An image id with the `sha256:` prefix docker sometimes leaves off.
 *
 * @example
 * withSha256('ab12'); // 'sha256:ab12'
 */
export function withSha256(id: string): string {
  return id === '' || id.startsWith('sha256:') ? id : `sha256:${id}`;
}

/**
 * Reads the output of `docker|podman image inspect --format '{{json .}}'` for one image.
 *
 * @example
 * parseImageInspect('{"Id":"sha256:ab…","Config":{"Entrypoint":["/bin/app"]},"Os":"linux","Architecture":"amd64"}').entrypoint; // ['/bin/app']
 * @throws {ContainerEngineError} when the output is not one JSON image object.
 */
export function parseImageInspect(stdout: string): ImageDetails {
  const [image] = parseInspectOutput(stdout, 'image inspect output');
  if (image === undefined) throw new ContainerEngineError('image inspect printed nothing', 0, '');
  const config = isObject(image.Config) ? image.Config : {};
  const os = stringField(image, 'Os');
  const architecture = stringField(image, 'Architecture');
  const variant = stringField(image, 'Variant');
  const size = image.Size;
  return {
    id: withSha256(stringField(image, 'Id', 'ID')),
    repoDigests: stringList(image.RepoDigests) ?? [],
    repoTags: stringList(image.RepoTags) ?? [],
    entrypoint: stringList(config.Entrypoint),
    cmd: stringList(config.Cmd),
    workingDir: stringField(config, 'WorkingDir'),
    user: stringField(config, 'User'),
    env: stringList(config.Env) ?? [],
    // `{"8080/tcp": {}}` in both engines; only the keys carry anything.
    exposedPorts: isObject(config.ExposedPorts) ? Object.keys(config.ExposedPorts).sort() : [],
    labels: labelsOf(config.Labels),
    os,
    architecture,
    ...(variant !== '' ? { variant } : {}),
    platform: [os, architecture, variant].filter((part) => part !== '').join('/'),
    ...(typeof size === 'number' ? { sizeBytes: size } : {}),
  };
}

/**
 * Reads the output of `docker|podman container inspect --format '{{json .}}'`.
 *
 * @example
 * parseContainerInspect('{"Id":"c0ffee","Name":"/w1","State":{"Status":"exited","ExitCode":137,"OOMKilled":true},"Config":{"Image":"x"}}')[0]?.oomKilled; // true
 * @throws {ContainerEngineError} when the output is not JSON container objects.
 */
export function parseContainerInspect(stdout: string): ContainerDetails[] {
  return parseInspectOutput(stdout, 'container inspect output').map((container) => {
    const state = isObject(container.State) ? container.State : {};
    const config = isObject(container.Config) ? container.Config : {};
    const exitCode = state.ExitCode;
    return {
      id: stringField(container, 'Id', 'ID'),
      // docker prefixes container names with "/", podman does not.
      name: stringField(container, 'Name').replace(/^\//, ''),
      image: stringField(config, 'Image') || stringField(container, 'ImageName', 'Image'),
      status: stringField(state, 'Status'),
      running: state.Running === true,
      exitCode: typeof exitCode === 'number' ? exitCode : -1,
      oomKilled: state.OOMKilled === true,
      labels: labelsOf(config.Labels),
    };
  });
}

/**
 * Finds the digest of a push in docker's output (`1.0: digest: sha256:… size: 1234`).
 *
 * @example
 * digestFromPushOutput('1: digest: sha256:' + 'a'.repeat(64) + ' size: 528'); // 'sha256:aaa…'
 */
export function digestFromPushOutput(output: string): string | undefined {
  return /digest: (sha256:[a-f0-9]{64})/.exec(output)?.[1];
}

/** The repository part of an image reference: `host:5000/team/app:1@sha256:…` → `host:5000/team/app`. */
export function repositoryOf(reference: string): string {
  const withoutDigest = reference.split('@')[0] ?? reference;
  const lastSlash = withoutDigest.lastIndexOf('/');
  const lastColon = withoutDigest.lastIndexOf(':');
  return lastColon > lastSlash ? withoutDigest.slice(0, lastColon) : withoutDigest;
}

// `sluice init`'s rules: what an image already says about itself (entrypoint, command, exposed
// ports, environment, platform, working directory, user) turned into a first algorithm.json and a
// job.json skeleton. Pure: the engine's inspect result in, two documents and an "edit these" list out.
import type { RawBuild, RawEnvVar, RawManifest } from '../schemas/manifest.js';
import {
  ALGORITHM_NAME_PATTERN,
  ALGORITHM_VERSION_PATTERN,
  ENV_NAME_PATTERN,
  MANIFEST_DEFAULTS,
  SUPPORTED_PLATFORMS,
} from '../schemas/manifest.js';
import type { ImageDetails } from './container-engine.js';
import { repositoryOf } from './engine-inspect.js';

/** Where the image came from: a reference to wrap as it is, or a Dockerfile the manifest builds. */
export type ImageSource =
  | { readonly kind: 'image'; readonly reference: string }
  /** `context` relative to the manifest's directory, `dockerfile` relative to the context. */
  | { readonly kind: 'build'; readonly name: string; readonly build: RawBuild };

/** What {@link manifestFromImage} drafts. */
export interface ManifestDraft {
  /** The algorithm.json, in the order a reader expects its fields. */
  readonly manifest: RawManifest & Record<string, unknown>;
  /** The job.json skeleton naming the algorithm. */
  readonly job: Record<string, unknown>;
  /** What the image cannot say: each line names a field and what to put there. */
  readonly editThese: readonly string[];
  /** What the image said that the manifest does not carry (several ports, user, working directory). */
  readonly notes: readonly string[];
}

/** The schema references written as `$schema`; their file names are what `sluice validate` tells the kinds by. */
export interface SchemaRefs {
  readonly algorithm: string;
  readonly job: string;
}

/** Placeholder values: they validate, and read as "change me". */
const INIT_PLACEHOLDERS = {
  memory: '512MiB',
  inputBucket: 'change-me-input-bucket',
  outputBucket: 'change-me-output-bucket',
  version: '0.1.0',
} as const;

/**
 * Image variables that are the operating system's, the shell's or a language runtime's, not the
 * algorithm's settings: these exact names, names starting with one of the prefixes, and names ending
 * in one of the suffixes (`PYTHON_VERSION`, `JAVA_HOME`, `GPG_KEY`…). The README lists them, checked
 * by test/docs/init-env-rule.test.ts.
 */
export const SYSTEM_ENV_NAMES: ReadonlySet<string> = new Set([
  'PATH',
  'HOME',
  'HOSTNAME',
  'LANG',
  'LANGUAGE',
  'TERM',
  'TZ',
  'SHELL',
  'USER',
  'PWD',
  'container',
  'DEBIAN_FRONTEND',
  'GPG_KEY',
  'GOPATH',
  'GOROOT',
  'GOTOOLCHAIN',
]);
export const SYSTEM_ENV_PREFIXES: readonly string[] = [
  'LC_',
  'LD_',
  'SSL_',
  'PYTHON',
  'PIP_',
  'NODE_',
  'NPM_',
  'YARN_',
  'JAVA_',
  'JDK_',
  'CONDA_',
  'CUDA_',
  'NVIDIA_',
];
export const SYSTEM_ENV_SUFFIXES: readonly string[] = [
  '_VERSION',
  '_HOME',
  '_PATH',
  '_SHA256',
  '_SHA512',
  '_CHECKSUM',
];
/** Names that say their value is a secret: declared `secret`, never given a default. */
const SECRET_NAME = /SECRET|TOKEN|PASSWORD|PASSWD|API_?KEY|PRIVATE_KEY|CREDENTIAL/i;

/**
 * Whether an image's variable looks like one of the algorithm's settings (and belongs in `env`).
 *
 * @example
 * isSettingVariable('THUMB_SIZE'); // true
 * isSettingVariable('PYTHON_VERSION'); // false
 */
export function isSettingVariable(name: string): boolean {
  if (!new RegExp(ENV_NAME_PATTERN).test(name) || SYSTEM_ENV_NAMES.has(name)) return false;
  if (SYSTEM_ENV_PREFIXES.some((prefix) => name.startsWith(prefix))) return false;
  return !SYSTEM_ENV_SUFFIXES.some((suffix) => name.endsWith(suffix));
}

/**
 * An algorithm name from any text (an image repository, a directory): lower case, runs of other
 * characters become one `-`, at most 64 characters; `algorithm` when nothing is left.
 *
 * @example
 * algorithmNameFrom('ghcr.io/acme/Edge_Detect'); // 'edge_detect'
 */
export function algorithmNameFrom(text: string): string {
  const last = text.split('/').pop() ?? text;
  const name = last
    .toLowerCase()
    .replace(/[^a-z0-9._-]+/g, '-')
    .replace(/[._-]{2,}/g, (run) => run[0] ?? '-')
    .slice(0, 64)
    .replace(/^[._-]+|[._-]+$/g, '');
  return new RegExp(ALGORITHM_NAME_PATTERN).test(name) ? name : 'algorithm';
}

/** The tag of a reference (`app:1.2@sha256:…` → `1.2`), when it has one. */
function tagOf(reference: string): string | undefined {
  const withoutDigest = reference.split('@')[0] ?? reference;
  const repository = repositoryOf(withoutDigest);
  return withoutDigest.length > repository.length ? withoutDigest.slice(repository.length + 1) : undefined;
}

function envEntries(details: ImageDetails, reference: string): Record<string, RawEnvVar> {
  const env: Record<string, RawEnvVar> = {};
  for (const entry of details.env) {
    const equals = entry.indexOf('=');
    const name = equals < 0 ? entry : entry.slice(0, equals);
    if (!isSettingVariable(name)) continue;
    const value = equals < 0 ? '' : entry.slice(equals + 1);
    env[name] = SECRET_NAME.test(name)
      ? {
          secret: true,
          description: `Set by the image ${reference}; a secret: the job passes it with fromEnv or fromSecret.`,
        }
      : { default: value, description: `Set by the image ${reference} (ENV ${name}).` };
  }
  return env;
}

function tcpPort(exposed: string): number | undefined {
  const [port, protocol = 'tcp'] = exposed.split('/');
  const number = Number(port);
  return protocol === 'tcp' && Number.isInteger(number) && number >= 1 && number <= 65535
    ? number
    : undefined;
}

/**
 * Drafts an algorithm.json and a job.json from what the engine tells about an image. `name` comes
 * from the repository (or the source's name), `version` from the tag (else 0.1.0; `latest` is not a
 * version), `platform` from the image, `port` when exactly one TCP port is exposed, `env` from the
 * image's variables that look like settings ({@link isSettingVariable}); `memory`, `input`, `output`
 * and the job's buckets are placeholders that validate, listed in `editThese`.
 *
 * @example
 * const draft = manifestFromImage(await engine.inspectImage('acme/edges:1.2'), { kind: 'image', reference: 'acme/edges:1.2' });
 * draft.manifest.name; // 'edges'
 * @throws never: anything the image does not say becomes a placeholder or a note.
 */
export function manifestFromImage(
  details: ImageDetails,
  source: ImageSource,
  schema: SchemaRefs = { algorithm: 'algorithm.schema.json', job: 'job.schema.json' },
): ManifestDraft {
  const reference = source.kind === 'image' ? source.reference : source.name;
  const name = algorithmNameFrom(source.kind === 'image' ? repositoryOf(source.reference) : source.name);
  const tag = source.kind === 'image' ? tagOf(source.reference) : undefined;
  const version =
    tag !== undefined && tag !== 'latest' && new RegExp(ALGORITHM_VERSION_PATTERN).test(tag)
      ? tag
      : INIT_PLACEHOLDERS.version;
  const notes: string[] = [];
  const editThese = [
    `memory: ${INIT_PLACEHOLDERS.memory} is a guess; give what one task needs`,
    `input: ${MANIFEST_DEFAULTS.input} is where the runner puts the input file; use the path the program reads`,
    `output: ${MANIFEST_DEFAULTS.output} is where the runner collects results; use the directory (or file) the program writes`,
  ];

  const ports = (details.exposedPorts ?? []).flatMap((exposed) => {
    const port = tcpPort(exposed);
    return port !== undefined ? [port] : [];
  });
  const port = ports.length === 1 ? ports[0] : undefined;
  if (ports.length > 1) {
    notes.push(
      `the image exposes several ports (${ports.join(', ')}): no port is set; add "port" with the one that takes tasks if the program is a server`,
    );
  }
  if (port !== undefined) {
    editThese.push(
      `port: ${port} (the image exposes it) makes this a server fed one task after another; remove it if the program runs once per file`,
    );
  }
  const platformKnown = SUPPORTED_PLATFORMS.includes(details.platform);
  if (!platformKnown && details.platform !== '') {
    notes.push(
      `the image's platform ${details.platform} is not one sluice runs (${SUPPORTED_PLATFORMS.join(', ')}): validate flags it`,
    );
  }
  const program = [...(details.entrypoint ?? []), ...(details.cmd ?? [])];
  if (program.length > 0) {
    editThese.push(
      `command: the image runs ${JSON.stringify(program)}; if the program takes its paths as arguments, set "command" with {input} and {output}`,
    );
  }
  if (details.user !== '') notes.push(`the image runs as user ${details.user}`);
  if (details.workingDir !== '') notes.push(`the image's working directory is ${details.workingDir}`);
  const env = envEntries(details, reference);

  const manifest: RawManifest & Record<string, unknown> = {
    $schema: schema.algorithm,
    name,
    version,
    description: `Generated by sluice init from ${reference}: check memory, input and output.`,
    ...(source.kind === 'image' ? { image: source.reference } : { build: source.build }),
    memory: INIT_PLACEHOLDERS.memory,
    platform: details.platform !== '' ? details.platform : MANIFEST_DEFAULTS.platform,
    input: MANIFEST_DEFAULTS.input,
    output: MANIFEST_DEFAULTS.output,
    ...(port !== undefined ? { port } : {}),
    ...(Object.keys(env).length > 0 ? { env } : {}),
  };
  const job = {
    $schema: schema.job,
    name,
    algorithm: `${name}@${version}`,
    input: { bucket: INIT_PLACEHOLDERS.inputBucket, prefix: `${name}/` },
    output: { bucket: INIT_PLACEHOLDERS.outputBucket, prefix: `${name}/` },
    compute: { backend: 'local' },
  };
  editThese.push(
    `job input.bucket and output.bucket: ${INIT_PLACEHOLDERS.inputBucket} and ${INIT_PLACEHOLDERS.outputBucket} stand for your buckets`,
  );
  return { manifest, job, editThese, notes };
}

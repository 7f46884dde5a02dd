// Reading and checking the two public documents, algorithm.json and job.json: JSON text (syntax,
// keys given twice, nesting depth) → literal-secret scan → schema → rules → normalised value, every
// problem collected, none thrown except as one ValidationError.
import { ValidationError, type Problem } from '../errors.js';
import { lazyValidator } from './ajv.js';
import { problemsFromAjv, type Explain } from './ajv-problems.js';
import { describeFound } from './describe.js';
import { normalizeJob, type Job, type RawJob } from './job.js';
import { jobSchema } from './job-schema.js';
import { parseJsonText } from './json-text.js';
import { findLiteralSecrets, redactKeyIds } from './literal-secrets.js';
import {
  manifestSchema,
  normalizeManifest,
  SUPPORTED_PLATFORMS,
  type Manifest,
  type RawManifest,
} from './manifest.js';
import { explainMemory } from './memory.js';
import { crossCheckJob, jobRuleProblems, manifestRuleProblems } from './rules.js';

/** Which contract a document follows. */
export type DocumentKind = 'manifest' | 'job';

/** One file to check: its name as the user gave it, and its raw text. */
export interface DocumentSource {
  readonly file: string;
  readonly text: string;
}

/** The outcome for one file. */
export interface CheckedDocument {
  readonly file: string;
  /** Undefined when the kind could not be told (not JSON, or neither contract). */
  readonly kind: DocumentKind | undefined;
  readonly problems: readonly Problem[];
}

/** The outcome for all files given together, including cross-checks between a job and a manifest. */
export interface CheckReport {
  readonly documents: readonly CheckedDocument[];
  /** Every problem: each document's own, then the cross-checks. Empty means all valid. */
  readonly problems: readonly Problem[];
}

const manifestValidator = lazyValidator<RawManifest>(manifestSchema);
const jobValidator = lazyValidator<RawJob>(jobSchema);

const PLATFORMS_WORDS = `${SUPPORTED_PLATFORMS.slice(0, -1)
  .map((platform) => JSON.stringify(platform))
  .join(', ')} or ${JSON.stringify(SUPPORTED_PLATFORMS[SUPPORTED_PLATFORMS.length - 1])}`;

const explainManifest: Explain = (segments, value) => {
  if (segments.length !== 1) return undefined;
  if (segments[0] === 'platform' && typeof value === 'string') {
    return {
      message: 'must be a platform sluice can run: "linux/amd64" or "linux/arm64"',
      expected: `one of ${PLATFORMS_WORDS}`,
      hint: `sluice has a runner (a Node runtime in the wrapped image) for linux/amd64 and linux/arm64 only, the CPU architectures ECS offers too: set "platform" to ${PLATFORMS_WORDS}, and build or pull the image for it`,
    };
  }
  if (segments[0] !== 'memory') return undefined;
  const result = explainMemory(value);
  return 'refusal' in result ? result.refusal : undefined;
};

const explainJob: Explain = (segments, value) => {
  if (segments.length !== 2 || segments[0] !== 'compute' || segments[1] !== 'workerMemory') return undefined;
  const result = explainMemory(value);
  return 'refusal' in result ? result.refusal : undefined;
};

/** Secrets first; a schema problem at the same path only repeats it less clearly. */
function merge(secrets: readonly Problem[], others: readonly Problem[]): Problem[] {
  const secretPaths = new Set(secrets.map((p) => p.path));
  return [...secrets, ...others.filter((p) => !secretPaths.has(p.path))].map(redact);
}

/** A last guard: no problem repeats anything shaped like an access key id. */
function redact(problem: Problem): Problem {
  const out: { -readonly [K in keyof Problem]: Problem[K] } = { ...problem };
  out.path = redactKeyIds(out.path);
  out.message = redactKeyIds(out.message);
  if (out.expected !== undefined) out.expected = redactKeyIds(out.expected);
  if (out.found !== undefined) out.found = redactKeyIds(out.found);
  if (out.hint !== undefined) out.hint = redactKeyIds(out.hint);
  return out;
}

function notAnObject(value: unknown, file: string): Problem | undefined {
  if (value !== null && typeof value === 'object' && !Array.isArray(value)) return undefined;
  return {
    file,
    path: '$',
    message: 'must be a JSON object',
    expected: 'an object ({ ... })',
    found: describeFound(value, []),
  };
}

/** The outcome of validating one parsed document. */
export type Validated<T> =
  { readonly value: T; readonly problems: readonly [] } | { readonly problems: readonly Problem[] };

/**
 * Validates a parsed `algorithm.json` and normalises it.
 *
 * @example
 * const result = validateManifest(JSON.parse(text), 'algorithm.json');
 * if ('value' in result) console.log(result.value.memoryMiB);
 */
export function validateManifest(value: unknown, file: string): Validated<Manifest> {
  const secrets = findLiteralSecrets(value, file);
  const shape = notAnObject(value, file);
  if (shape) return { problems: merge(secrets, [shape]) };
  const validateManifestSchema = manifestValidator();
  if (!validateManifestSchema(value)) {
    const errors = validateManifestSchema.errors ?? [];
    return {
      problems: merge(secrets, problemsFromAjv(errors, file, value, manifestSchema, explainManifest)),
    };
  }
  const rules = manifestRuleProblems(value, file);
  const memory = explainMemory(value.memory);
  if (secrets.length > 0 || rules.length > 0 || !('mib' in memory))
    return { problems: merge(secrets, rules) };
  return { value: normalizeManifest(value, memory.mib), problems: [] };
}

/**
 * Validates a parsed `job.json` and normalises it.
 *
 * @example
 * const result = validateJob(JSON.parse(text), 'job.json');
 * if ('value' in result) console.log(result.value.compute.backend);
 */
export function validateJob(value: unknown, file: string): Validated<Job> {
  const secrets = findLiteralSecrets(value, file);
  const shape = notAnObject(value, file);
  if (shape) return { problems: merge(secrets, [shape]) };
  const validateJobSchema = jobValidator();
  if (!validateJobSchema(value)) {
    const errors = validateJobSchema.errors ?? [];
    return { problems: merge(secrets, problemsFromAjv(errors, file, value, jobSchema, explainJob)) };
  }
  const rules = jobRuleProblems(value, file);
  if (secrets.length > 0 || rules.length > 0) return { problems: merge(secrets, rules) };
  return { value: normalizeJob(value), problems: [] };
}

function parseWith<T>(
  text: string,
  file: string,
  validate: (value: unknown, file: string) => Validated<T>,
): T {
  const parsed = parseJsonText(text, file);
  if (!parsed.ok) throw new ValidationError(parsed.problems.map(redact));
  const result = validate(parsed.value, file);
  if ('value' in result) return result.value;
  throw new ValidationError(result.problems);
}

/**
 * Reads the text of an `algorithm.json`: parses, validates and normalises it.
 *
 * @example
 * const manifest = parseManifest(readFileSync('algorithm.json', 'utf8'), 'algorithm.json');
 * manifest.memoryMiB; // 512 for "memory": "512MiB"
 * @throws {ValidationError} with every problem found (not JSON, schema, rules, literal secrets).
 */
export function parseManifest(text: string, file: string): Manifest {
  return parseWith(text, file, validateManifest);
}

/**
 * Reads the text of a `job.json`: parses, validates and normalises it. It is not checked against a
 * manifest here: use {@link crossCheckJob} once the algorithm's manifest is known.
 *
 * @example
 * const job = parseJob(readFileSync('job.json', 'utf8'), 'job.json');
 * job.compute.backend; // 'local' unless the file says otherwise
 * @throws {ValidationError} with every problem found (not JSON, schema, rules, literal secrets).
 */
export function parseJob(text: string, file: string): Job {
  return parseWith(text, file, validateJob);
}

const MANIFEST_FIELDS = [
  'version',
  'image',
  'build',
  'memory',
  'cpu',
  'platform',
  'gpu',
  'port',
  'command',
  'retry',
];
const JOB_FIELDS = ['algorithm', 'aws', 'compute', 'retries', 'keep', 'mode'];

/**
 * Tells a manifest from a job: by `$schema` when it names one of the published schema files,
 * otherwise by fields only one of them has (`image`, `build`, `memory`… or `algorithm`, `compute`,
 * `aws`…; `input` is a path in a manifest and an object in a job). Undefined when it cannot tell.
 *
 * @example
 * detectKind({ $schema: '../schemas/job.schema.json' }); // 'job'
 * detectKind({ name: 'x', memory: 512, image: 'x:1' }); // 'manifest'
 */
export function detectKind(value: unknown): DocumentKind | undefined {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) return undefined;
  const document = value as Record<string, unknown>;
  const schema = document.$schema;
  if (typeof schema === 'string') {
    if (/algorithm\.schema\.json$/.test(schema)) return 'manifest';
    if (/job\.schema\.json$/.test(schema)) return 'job';
  }
  let manifest = MANIFEST_FIELDS.filter((field) => field in document).length;
  let job = JOB_FIELDS.filter((field) => field in document).length;
  for (const field of ['input', 'output']) {
    if (typeof document[field] === 'string') manifest++;
    else if (document[field] !== null && typeof document[field] === 'object') job++;
  }
  if (manifest > job) return 'manifest';
  if (job > manifest) return 'job';
  return undefined;
}

const UNKNOWN_KIND_HINT =
  'Add "$schema" pointing at algorithm.schema.json (a manifest) or job.schema.json (a job); a manifest has "image" or "build" and "memory", a job has "algorithm", "input" and "output"';

/**
 * Checks documents given together: detects each one's kind, validates it, and — when exactly one
 * manifest and one or more jobs are given — cross-checks each job against the manifest.
 *
 * @example
 * const report = checkDocuments([
 *   { file: 'algorithm.json', text: readFileSync('algorithm.json', 'utf8') },
 *   { file: 'job.json', text: readFileSync('job.json', 'utf8') },
 * ]);
 * process.exitCode = report.problems.length === 0 ? 0 : 2;
 */
export function checkDocuments(sources: readonly DocumentSource[]): CheckReport {
  const documents: CheckedDocument[] = [];
  const manifests: { file: string; value: Manifest | undefined }[] = [];
  const jobs: { file: string; value: Job }[] = [];
  for (const { file, text } of sources) {
    const parsed = parseJsonText(text, file);
    if (!parsed.ok) {
      documents.push({ file, kind: undefined, problems: parsed.problems.map(redact) });
      continue;
    }
    const kind = detectKind(parsed.value);
    if (kind === undefined) {
      const shape = notAnObject(parsed.value, file);
      const problems = shape
        ? [shape]
        : [
            {
              file,
              path: '$',
              message: 'is neither an algorithm manifest nor a job, as far as its fields tell',
              hint: UNKNOWN_KIND_HINT,
            },
          ];
      documents.push({ file, kind, problems: merge(findLiteralSecrets(parsed.value, file), problems) });
      continue;
    }
    if (kind === 'manifest') {
      const result = validateManifest(parsed.value, file);
      manifests.push({ file, value: 'value' in result ? result.value : undefined });
      documents.push({ file, kind, problems: result.problems });
    } else {
      const result = validateJob(parsed.value, file);
      if ('value' in result) jobs.push({ file, value: result.value });
      documents.push({ file, kind, problems: result.problems });
    }
  }
  const cross: Problem[] = [];
  const [manifest] = manifests;
  if (manifests.length === 1 && manifest?.value !== undefined) {
    for (const job of jobs) {
      cross.push(
        ...crossCheckJob(job.value, manifest.value, { job: job.file, manifest: manifest.file }).map(redact),
      );
    }
  }
  return { documents, problems: [...documents.flatMap((document) => document.problems), ...cross] };
}

// The run id: deterministic from the job, so provisioning the same job twice finds the same
// resources (idempotent), and short and plain enough to sit in every AWS name sluice makes.
import { createHash } from 'node:crypto';
import { canonicalJson } from './canonical-json.js';

/** Longest slug taken from the job name. */
const MAX_SLUG_LENGTH = 30;

/**
 * Longest run id: 30-character slug, `-`, 8 hex. It leaves room in the tightest names sluice builds
 * from it: IAM role names (64) such as `sluice-<run-id>-execution`, SQS queue names (80) such as
 * `sluice-<run-id>-tasks-dlq`, Lambda function names (64).
 */
export const MAX_RUN_ID_LENGTH = MAX_SLUG_LENGTH + 9;

/** What a run id looks like: a lower-case slug, `-`, 8 lower-case hex digits. */
export const RUN_ID_PATTERN = /^[a-z0-9](?:[a-z0-9-]{0,28}[a-z0-9])?-[0-9a-f]{8}$/;

/**
 * The parts of a job that make a run what it is; everything else can change without a new run.
 * Written out rather than picked from `Job`: ids sit below the schemas, and any job fits it.
 */
export interface RunIdentity {
  readonly name: string;
  readonly algorithm:
    | { readonly kind: 'catalogue'; readonly name: string; readonly version: string }
    | { readonly kind: 'image'; readonly reference: string };
  readonly input: { readonly bucket: string; readonly prefix: string; readonly include: readonly string[] };
  readonly output: { readonly bucket: string; readonly prefix: string };
  /** Values, or their `fromEnv`/`fromSecret` references. */
  readonly env: Readonly<Record<string, unknown>>;
  readonly aws: { readonly region?: string | undefined };
}

/**
 * Turns a job name into a run id prefix: lower case, letters and digits, single `-` between words,
 * at most 30 characters; `run` when nothing is left.
 *
 * @example
 * jobSlug('Thumbnails: Holiday 2024!'); // 'thumbnails-holiday-2024'
 */
export function jobSlug(name: string): string {
  const slug = name
    .normalize('NFKD')
    .replace(/[\u0300-\u036f]/g, '')
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, '-')
    .replace(/^-+|-+$/g, '')
    .slice(0, MAX_SLUG_LENGTH)
    .replace(/-+$/, '');
  return slug === '' ? 'run' : slug;
}

/**
 * The fields hashed into the run id. In: name, algorithm, input bucket/prefix/include (include
 * sorted: order does not change which keys match), output bucket/prefix, env (values or their
 * `fromEnv`/`fromSecret` references; a new value means new results), region. Out, because they
 * tune a run rather than define it: compute (including the backend, which a flag can override, so
 * one job file runs locally and on AWS as the same run), retries, timeoutSeconds, keep, mode,
 * credentials, `input.create`, `$schema`.
 */
function identity(job: RunIdentity): unknown {
  const algorithm =
    job.algorithm.kind === 'catalogue'
      ? `${job.algorithm.name}@${job.algorithm.version}`
      : job.algorithm.reference;
  return {
    v: 1,
    name: job.name,
    algorithm,
    input: {
      bucket: job.input.bucket,
      prefix: job.input.prefix,
      include: [...new Set(job.input.include)].sort(),
    },
    output: { bucket: job.output.bucket, prefix: job.output.prefix },
    env: job.env,
    region: job.aws.region ?? null,
  };
}

/**
 * The run id of a job: `<job-name-slug>-<first 8 hex of sha256 of the job's identity fields>`.
 * Valid as an S3 key segment and inside ECS, IAM, SQS and Lambda names (lower-case letters,
 * digits and `-`, at most 39 characters).
 *
 * @example
 * runId(parseJob(text, 'job.json')); // 'thumbnails-3f9a0c12'
 */
export function runId(job: RunIdentity): string {
  const digest = createHash('sha256')
    .update(canonicalJson(identity(job)))
    .digest('hex');
  return `${jobSlug(job.name)}-${digest.slice(0, 8)}`;
}

/**
 * True when the text is shaped like a run id.
 *
 * @example
 * isRunId('thumbnails-3f9a0c12'); // true
 * isRunId('../etc'); // false
 */
export function isRunId(text: string): boolean {
  return text.length <= MAX_RUN_ID_LENGTH && RUN_ID_PATTERN.test(text);
}

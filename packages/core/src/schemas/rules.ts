// Checks a schema cannot express (or cannot explain well): container paths, image-or-build, the
// algorithm reference, worker counts, and a job against the manifest it runs.
import type { Problem } from '../errors.js';
import { containerPathProblem, holdsPath } from './container-paths.js';
import { closestName, describeFound } from './describe.js';
import { jsonPath, type PathSegment } from './json-path.js';
import { parseAlgorithmRef, RESERVED_PREFIX, type Job, type RawJob } from './job.js';
import { MANIFEST_DEFAULTS, type Manifest, type RawManifest } from './manifest.js';
import { RUNNER_OVERHEAD_MIB, taskSize } from './memory.js';
import { explainWorkerSize } from './worker-size.js';

function problem(
  file: string,
  segments: readonly PathSegment[],
  message: string,
  extra: { expected?: string; found?: string; hint?: string } = {},
): Problem {
  return { file, path: jsonPath(segments), message, ...extra };
}

/** Rules of a manifest that passed the schema. */
export function manifestRuleProblems(raw: RawManifest, file: string): Problem[] {
  const problems: Problem[] = [];
  if (raw.image !== undefined && raw.build !== undefined) {
    problems.push(
      problem(file, ['build'], 'give either "image" or "build", not both', {
        expected: 'one of "image" or "build"',
        found: 'both',
        hint: 'Remove "build" to wrap an existing image, or "image" to build from the Dockerfile',
      }),
    );
  }
  for (const field of ['input', 'output'] as const) {
    const value = raw[field];
    const refusal = value === undefined ? undefined : containerPathProblem(value);
    if (refusal !== undefined) {
      problems.push(
        problem(file, [field], refusal.message, {
          expected: `an absolute container path such as "/data/${field === 'input' ? 'in' : 'out'}/"`,
          found: describeFound(value, [field]),
          hint: refusal.hint,
        }),
      );
    }
  }
  problems.push(...nestedPathProblems(raw, file));
  for (const [name, spec] of Object.entries(raw.env ?? {})) {
    if (spec.secret === true && spec.default !== undefined) {
      problems.push(
        problem(
          file,
          ['env', name, 'default'],
          'a secret variable cannot have a default: it would be a secret in the file',
          {
            hint: 'Remove "default"; users pass the value with {"fromEnv": ...} or {"fromSecret": ...}',
          },
        ),
      );
    }
  }
  return problems;
}

/** The input and the output must not hold each other: each is emptied before every task. */
function nestedPathProblems(raw: RawManifest, file: string): Problem[] {
  const input = raw.input ?? MANIFEST_DEFAULTS.input;
  const output = raw.output ?? MANIFEST_DEFAULTS.output;
  if (containerPathProblem(input) !== undefined || containerPathProblem(output) !== undefined) return [];
  const apart = 'Use separate directories, e.g. "input": "/data/in/" and "output": "/data/out/"';
  if (holdsPath(output, input)) {
    return [
      problem(file, ['output'], 'must not hold the input: the input file would be uploaded as a result', {
        expected: 'a path apart from "input"',
        found: JSON.stringify(output),
        hint: apart,
      }),
    ];
  }
  if (holdsPath(input, output)) {
    return [
      problem(
        file,
        ['input'],
        'must not hold the output: emptying the input before each task would delete the output, and the results would sit among the inputs',
        { expected: 'a path apart from "output"', found: JSON.stringify(input), hint: apart },
      ),
    ];
  }
  return [];
}

/** Rules of a job that passed the schema. */
export function jobRuleProblems(raw: RawJob, file: string): Problem[] {
  const problems: Problem[] = [];
  if (parseAlgorithmRef(raw.algorithm) === undefined) {
    problems.push(
      problem(file, ['algorithm'], 'is neither name@version nor an image reference', {
        expected:
          'name@version such as "thumbnails@1.0.0", or an image such as "ghcr.io/acme/thumbnails:1.0.0"',
        found: describeFound(raw.algorithm, ['algorithm']),
        hint: 'A bare image name needs a tag: write "name:tag"',
      }),
    );
  }
  const outputPrefix = raw.output.prefix ?? '';
  if (`${outputPrefix}/`.startsWith(RESERVED_PREFIX)) {
    problems.push(
      problem(
        file,
        ['output', 'prefix'],
        `must not start with "${RESERVED_PREFIX}", which sluice reserves for its records`,
        {
          found: JSON.stringify(outputPrefix),
          hint: 'Choose another prefix, e.g. "results/"',
        },
      ),
    );
  }
  const compute = raw.compute ?? {};
  if (compute.minWorkers !== undefined && compute.minWorkers > (compute.maxWorkers ?? 4)) {
    problems.push(
      problem(file, ['compute', 'minWorkers'], 'must not be more than maxWorkers', {
        expected: `at most ${compute.maxWorkers ?? 4}`,
        found: String(compute.minWorkers),
      }),
    );
  }
  const aws = raw.aws ?? {};
  const source = aws.credentials ?? 'environment';
  const unused: [keyof typeof aws, readonly string[]][] = [
    ['profile', ['profile']],
    ['roleArn', ['roleArn', 'oidc']],
    ['roleSessionName', ['roleArn', 'oidc']],
    ['audience', ['oidc']],
  ];
  for (const [field, sources] of unused) {
    if (aws[field] !== undefined && !sources.includes(source)) {
      problems.push(
        problem(
          file,
          ['aws', field],
          `is only used when credentials is ${sources.map((s) => `"${s}"`).join(' or ')}`,
          {
            found: `credentials "${source}"`,
            hint: `Set "credentials": "${sources[0] ?? ''}", or remove "${field}"`,
          },
        ),
      );
    }
  }
  return problems;
}

/** The file names a cross-check reports against. */
export interface CrossCheckFiles {
  readonly job: string;
  readonly manifest: string;
}

/**
 * Checks a job against the manifest of the algorithm it runs: the algorithm's name and version,
 * the variables (required ones given, no unknown ones, secret ones not given literally), the
 * worker's size and tasks per worker ({@link explainWorkerSize}), and — when the job runs on ECS
 * Fargate — that a Fargate task size can hold the algorithm plus the runner. Problems about the job point into the job file, those about the manifest into its file.
 *
 * @example
 * crossCheckJob(job, manifest, { job: 'job.json', manifest: 'algorithm.json' });
 * // [{ file: 'job.json', path: '$.env.API_KEY', message: 'variable "API_KEY" is required by the algorithm but not given', ... }]
 */
export function crossCheckJob(job: Job, manifest: Manifest, files: CrossCheckFiles): Problem[] {
  const problems: Problem[] = [];
  const { algorithm } = job;
  if (
    algorithm.kind === 'catalogue' &&
    (algorithm.name !== manifest.name || algorithm.version !== manifest.version)
  ) {
    problems.push(
      problem(
        files.job,
        ['algorithm'],
        `names a different algorithm than the manifest given (${files.manifest})`,
        {
          expected: `"${manifest.name}@${manifest.version}"`,
          found: `"${algorithm.name}@${algorithm.version}"`,
          hint: 'Check both files belong together, or update "algorithm" to the manifest\'s name@version',
        },
      ),
    );
  }
  const declared = Object.keys(manifest.env);
  for (const [name, spec] of Object.entries(manifest.env)) {
    if (spec.required && spec.default === undefined && !(name in job.env)) {
      problems.push(
        problem(files.job, ['env', name], `variable "${name}" is required by the algorithm but not given`, {
          expected: spec.secret ? '{"fromEnv": "NAME"} or {"fromSecret": "name-or-arn"}' : 'a value',
          found: 'nothing',
          hint: `Add it under "env"${spec.description !== '' ? ` (${spec.description})` : ''}`,
        }),
      );
    }
  }
  for (const [name, value] of Object.entries(job.env)) {
    const spec = manifest.env[name];
    if (spec === undefined) {
      const suggestion = closestName(name, declared);
      problems.push(
        problem(files.job, ['env', name], `variable "${name}" is not declared by the algorithm`, {
          expected:
            declared.length > 0
              ? `one of ${declared.join(', ')}`
              : 'no variables (the algorithm declares none)',
          hint:
            suggestion !== undefined
              ? `Did you mean "${suggestion}"?`
              : 'Remove it, or declare it in the manifest\'s "env"',
        }),
      );
    } else if (spec.secret && typeof value === 'string') {
      problems.push(
        problem(
          files.job,
          ['env', name],
          `variable "${name}" is secret, so it must not be written in the job file`,
          {
            expected: `{"fromEnv": "${name}"} or {"fromSecret": "name-or-arn"}`,
            found: 'a literal value (not shown)',
            hint: `Store it as a GitHub secret, expose it to the step (env: ${name}: \${{ secrets.${name} }}) and write "${name}": {"fromEnv": "${name}"}; or keep it in AWS Secrets Manager and write {"fromSecret": "<name or ARN>"}`,
          },
        ),
      );
    }
  }
  const worker = explainWorkerSize(manifest, job.compute);
  if ('problems' in worker) problems.push(...worker.problems.map((found) => ({ file: files.job, ...found })));
  if (job.compute.backend === 'ecs' && job.compute.launchType === 'FARGATE') {
    if (manifest.gpu > 0) {
      problems.push(
        problem(files.manifest, ['gpu'], 'asks for GPUs, which Fargate does not have', {
          hint: `Run it with "compute": {"launchType": "EC2"} in ${files.job}`,
        }),
      );
    }
    if (taskSize(manifest, RUNNER_OVERHEAD_MIB) === undefined) {
      problems.push(
        problem(
          files.manifest,
          ['memory'],
          `no Fargate task size holds ${manifest.memoryMiB} MiB plus the runner's ${RUNNER_OVERHEAD_MIB} MiB${manifest.cpu !== undefined ? ` with ${manifest.cpu} vCPU` : ''}`,
          {
            expected: 'at most 16 vCPU and 122880 MiB in total (the largest Fargate size)',
            found: `${manifest.memoryMiB + RUNNER_OVERHEAD_MIB} MiB`,
            hint: `Lower "memory" or "cpu", or run with "compute": {"launchType": "EC2"} in ${files.job}`,
          },
        ),
      );
    }
  }
  return problems;
}

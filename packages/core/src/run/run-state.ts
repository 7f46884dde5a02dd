// Reading, writing and finding a run's state (`_sluice/<run-id>/run.json` in the output bucket).
import { ConfigurationError } from '../errors.js';
import { runTaskDefinitionFamily } from '../ecs/run-task-names.js';
import { RUN_ROLE_KINDS, runRoleArn, type RunRoleKind } from '../iam/policies.js';
import type { RunQueues } from '../queue/run-queues.js';
import { normalizeJob, type EnvValue, type Job, type RawJob } from '../schemas/job.js';
import { SENSITIVE_NAME } from '../schemas/describe.js';
import { validateRunState, type RunState } from '../schemas/run-state.js';
import type { ObjectStore } from '../storage/object-store.js';
import { OUTPUT_BUCKET_TAG, RUN_ID_TAG, runStateKey, taskQueueName } from '../ids/run-names.js';

/** What stands in for a literal value that must not be written down. */
export const REDACTED = '***';

/**
 * The job as `run.json` keeps it: normalised, every default written out, `fromEnv`/`fromSecret` as
 * references, and literal values of variables that are secret (`secretNames`, from the manifest)
 * or named like secrets (secret, key, token, password, credential) replaced by `"***"`.
 *
 * @example
 * storedJob(job, ['API_TOKEN']).env; // { API_TOKEN: { fromEnv: 'API_TOKEN' }, SIZE: '256' }
 * @throws never.
 */
export function storedJob(job: Job, secretNames: readonly string[] = []): RawJob {
  const env: Record<string, EnvValue> = {};
  for (const [name, value] of Object.entries(job.env)) {
    env[name] =
      typeof value === 'string' && (secretNames.includes(name) || SENSITIVE_NAME.test(name))
        ? REDACTED
        : value;
  }
  const { credentials, region } = job.aws;
  const aws: NonNullable<RawJob['aws']> = {
    ...(region !== undefined && { region }),
    credentials: credentials.source,
    ...(credentials.source === 'profile' && { profile: credentials.profile }),
    ...((credentials.source === 'roleArn' || credentials.source === 'oidc') && {
      roleArn: credentials.roleArn,
      roleSessionName: credentials.roleSessionName,
    }),
    ...(credentials.source === 'oidc' && { audience: credentials.audience }),
  };
  return {
    name: job.name,
    algorithm: algorithmText(job),
    input: { ...job.input, include: [...job.input.include] },
    output: { ...job.output },
    env,
    aws,
    compute: {
      ...job.compute,
      subnets: [...job.compute.subnets],
      securityGroups: [...job.compute.securityGroups],
    },
    retries: job.retries,
    ...(job.timeoutSeconds !== undefined && { timeoutSeconds: job.timeoutSeconds }),
    keep: job.keep,
    mode: job.mode,
  };
}

/**
 * The job's `algorithm` as written (`name@version` or the image reference).
 *
 * @example
 * algorithmText(job); // 'thumbnails@1.0.0'
 * @throws never.
 */
export function algorithmText(job: Pick<Job, 'algorithm'>): string {
  return job.algorithm.kind === 'catalogue'
    ? `${job.algorithm.name}@${job.algorithm.version}`
    : job.algorithm.reference;
}

/**
 * The normalised job of a run state (redacted literals stay `"***"`).
 *
 * @example
 * const job = runJob(state); // job.input.prefix ends in '/'
 * @throws {ConfigurationError} when the stored algorithm reference is not valid.
 */
export function runJob(state: RunState): Job {
  return normalizeJob(state.job);
}

/**
 * Reads a run's state from the output bucket; `undefined` when there is none (or no such bucket).
 *
 * @example
 * const state = await readRunState(store, 'my-output', 'thumbs-3f9a0c12');
 * @throws {ValidationError} when `run.json` is not a valid run state.
 * @throws {ConfigurationError} when an ECS run's task definition or roles are not the ones its run id names.
 */
export async function readRunState(
  store: ObjectStore,
  bucket: string,
  runId: string,
): Promise<RunState | undefined> {
  if (!(await store.bucketExists(bucket))) return undefined;
  const key = runStateKey(runId);
  const found = await store.getJson({ bucket, key });
  if (found === undefined) return undefined;
  const file = `s3://${bucket}/${key}`;
  return checkEcsNames(validateRunState(found.value, file), file);
}

const ECS_TASK_DEFINITION_ARN = /^arn:([a-z-]+):ecs:[a-z0-9-]+:(\d{12}):task-definition\/([^:/]+):\d+$/;

/**
 * The ECS fields of an ECS run's state, checked against the names its run id gives: later steps pass
 * them to RunTask and PassRole with the deployer's credentials, so a run.json changed in the bucket
 * must not start another task definition or hand out another role. The task definition is of the
 * run's family; the roles are the run's (`runRoleArns`: three, and the broker's in sealed mode), in
 * the task definition's account.
 */
function checkEcsNames(state: RunState, file: string): RunState {
  const ecs = state.ecs;
  if (state.backend !== 'ecs' || ecs === undefined) return state;
  const refuse = (field: string, value: string, expected: string): never => {
    throw new ConfigurationError(
      `${file}: ${field} is ${JSON.stringify(value)}, not this run's (${expected}): run.json was changed ` +
        `after provision-run wrote it. Provision the run again to rewrite it`,
    );
  };
  const family = runTaskDefinitionFamily(state.runId);
  const match = ECS_TASK_DEFINITION_ARN.exec(ecs.taskDefinitionArn);
  const [, partition, accountId] = match ?? [];
  if (match?.[3] !== family || partition === undefined || accountId === undefined) {
    return refuse('ecs.taskDefinitionArn', ecs.taskDefinitionArn, `a revision of the family ${family}`);
  }
  const expected = (kind: RunRoleKind): string => runRoleArn(partition, accountId, state.runId, kind);
  for (const kind of RUN_ROLE_KINDS) {
    if (ecs.roles[kind] !== expected(kind))
      refuse(`ecs.roles.${kind}`, ecs.roles[kind] ?? '', expected(kind));
  }
  if (ecs.roles.broker !== undefined && ecs.roles.broker !== expected('broker')) {
    refuse('ecs.roles.broker', ecs.roles.broker, expected('broker'));
  }
  return state;
}

/**
 * Writes a run's state to `_sluice/<run-id>/run.json` in its output bucket.
 *
 * @example
 * await writeRunState(store, { ...state, state: 'provisioned', updatedAt: new Date().toISOString() });
 * @throws ConfigurationError or AwsRequestError from the store.
 */
export async function writeRunState(store: ObjectStore, state: RunState): Promise<void> {
  await store.putJson({ bucket: state.output.bucket, key: runStateKey(state.runId) }, state);
}

/**
 * Finds a run's state from its id: in `bucket` when given (the job's output bucket), otherwise in
 * the output bucket named by the `sluice:output-bucket` tag of the run's task queue. `undefined`
 * when neither leads to a `run.json`.
 *
 * @example
 * const state = await findRunState('thumbs-3f9a0c12', deps);
 * @throws {ValidationError} when the `run.json` found is not valid.
 */
export async function findRunState(
  runId: string,
  deps: { readonly store: ObjectStore; readonly queues: RunQueues },
  options: { readonly bucket?: string } = {},
): Promise<RunState | undefined> {
  if (options.bucket !== undefined) return readRunState(deps.store, options.bucket, runId);
  const url = await deps.queues.findQueueUrl(taskQueueName(runId));
  if (url === undefined) return undefined;
  const tags = await deps.queues.queueTags(url);
  const bucket = tags[OUTPUT_BUCKET_TAG];
  if (bucket === undefined || tags[RUN_ID_TAG] !== runId) return undefined;
  return readRunState(deps.store, bucket, runId);
}

/**
 * Like {@link findRunState}, for steps that need the run to exist (dispatch, collect).
 *
 * @example
 * const state = await openRun('thumbs-3f9a0c12', deps, { bucket: job.output.bucket });
 * @throws {ConfigurationError} when the run cannot be found, or has been torn down.
 */
export async function openRun(
  runId: string,
  deps: { readonly store: ObjectStore; readonly queues: RunQueues },
  options: { readonly bucket?: string } = {},
): Promise<RunState> {
  const state = await findRunState(runId, deps, options);
  if (state === undefined) {
    const where =
      options.bucket !== undefined
        ? `no ${runStateKey(runId)} in s3://${options.bucket}`
        : `no queue ${taskQueueName(runId)} points to its output bucket`;
    throw new ConfigurationError(
      `run ${runId} was not found (${where}). Check the run id, pass the job file or the output bucket, or provision the run first.`,
    );
  }
  if (state.state === 'torn-down') {
    throw new ConfigurationError(
      `run ${runId} has been torn down; provision it again (sluice provision JOB) before using it.`,
    );
  }
  return state;
}

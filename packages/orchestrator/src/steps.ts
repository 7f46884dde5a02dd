// The steps of a run as the actions and the CLI call them: a job file or a run id in, the AWS
// clients and the container engine made from the caller's environment, the lifecycle functions
// (provision, dispatch, collect, teardown) called, and — with the local backend — the runner
// containers started, watched and removed.
import { readFile } from 'node:fs/promises';

import { S3Client } from '@aws-sdk/client-s3';
import { SQSClient } from '@aws-sdk/client-sqs';

import {
  detectContainerEngine,
  LocalCatalogue,
  localWorkerLimits,
  LocalWorkers,
  WRAPPED_LABELS,
  type ContainerEngine,
  type ImageLister,
  type LocalWorkerSpec,
} from '@sluice/core/compute';
import {
  collectResults,
  ConfigurationError,
  crossCheckJob,
  defaultSleep,
  dispatchTasks,
  findRunState,
  InterruptedError,
  openRun,
  parseJob,
  parseManifest,
  provisionRun,
  REDACTED,
  runId as makeRunId,
  runJob,
  S3BucketAdmin,
  S3ObjectStore,
  SqsRunQueues,
  teardownRun,
  toError,
  ValidationError,
  writeRunState,
  type CollectProgress,
  type CollectReport,
  type DispatchProgress,
  type InputCompletion,
  type Job,
  type Logger,
  type Manifest,
  type RunDeps,
  type RunState,
  type TeardownReport,
} from '@sluice/core';
import { runClientConfig } from '@sluice/core/aws';
import {
  destroyEcsClients,
  ecsAlgorithm,
  ecsClients,
  ecsWorkerPool,
  provisionEcs,
  runnerConfigFor,
  teardownEcs,
  type EcsClientSettings,
  type EcsClients,
  type EcsSettings,
} from './backends/ecs.js';
import { ecsRunnerVariables, runLogGroupLink, s3ObjectConsoleUrl } from '@sluice/core/ecs';
import { fetchLogTails, renderSummary } from './summary.js';

/** Which run a step works on: a job file (the run id is derived from it) or a run id. */
export type RunTarget =
  | { readonly jobPath: string; readonly runId?: undefined }
  | { readonly runId: string; readonly jobPath?: undefined };

/** What every step needs from its caller (an action, the CLI, a test). */
export interface StepContext {
  readonly logger: Logger;
  /** The caller's environment: AWS settings (AWS_ENDPOINT_URL, AWS_REGION, credentials) and `fromEnv` values. */
  readonly env: Readonly<Record<string, string | undefined>>;
  /** Overrides the job's `compute.backend` (action input `backend`, CLI `--backend`). */
  readonly backend?: 'local' | 'ecs';
  /** Where to find the output bucket when only a run id is given (optional; else found by queue tags). */
  readonly outputBucket?: string;
  /**
   * The container engine for the local backend; default {@link detectContainerEngine} over `env`
   * (`SLUICE_CONTAINER_ENGINE`, then docker when a daemon answers, then podman).
   */
  readonly engine?: ContainerEngine;
  /** Waits between collect's polls (default a timer); tests may shorten them. */
  readonly pollSeconds?: number;
  /**
   * Aborted when the user interrupts (Ctrl-C): dispatch starts no runners and collect stops waiting
   * (and restarts no runner) with an {@link InterruptedError}, so a teardown can follow safely.
   */
  readonly signal?: AbortSignal;
  /**
   * The watcher Lambda's deployment package, which provisioning an ECS run deploys: entry points
   * that carry the bundle give it (`loadWatcherZip(locateWatcherBundle(import.meta.url))`).
   */
  readonly watcherZip?: () => Promise<Uint8Array>;
}

/** A poll's wait, cut short when the user interrupts. */
async function sleepUnlessAborted(ms: number, signal: AbortSignal | undefined): Promise<void> {
  if (signal === undefined) {
    await defaultSleep(ms);
    return;
  }
  await new Promise<void>((resolve) => {
    const done = (): void => {
      clearTimeout(timer);
      signal.removeEventListener('abort', done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    signal.addEventListener('abort', done, { once: true });
  });
}

function throwIfInterrupted(context: StepContext, during: string): void {
  if (context.signal?.aborted === true) throw new InterruptedError(during);
}

export interface ProvisionStepResult {
  readonly runId: string;
  readonly queueUrl: string;
  /** `s3://bucket/prefix/`: where the user uploads input files. */
  readonly uploadTo: string;
  /** `s3://input-bucket/_sluice/<run-id>/end`: upload any object there to say the input is complete. */
  readonly endMarker: string;
  readonly warnings: readonly string[];
  /** The dead-letter queue's URL. */
  readonly deadLetterQueueUrl?: string;
  /** What this call created (empty on a repeat). */
  readonly created?: readonly string[];
  /** The job's `keep`: the run is continuous intake, never torn down at the end of a chain. */
  readonly keep?: boolean;
}

export interface DispatchStepResult {
  readonly runId: string;
  readonly listed: number;
  readonly enqueued: number;
  readonly skippedDone: number;
  readonly skippedFiltered: number;
  readonly failed: number;
  /** Runner workers running for the run after this step (local containers or ECS tasks). */
  readonly workers: number;
}

export interface CollectStepOptions {
  readonly until: 'idle' | 'marker' | 'count';
  readonly expectedCount?: number;
  readonly idleSeconds?: number;
  readonly timeoutSeconds?: number;
  readonly retryFailed?: boolean;
}

export interface CollectStepResult {
  readonly report: CollectReport;
  /** GitHub-flavoured Markdown, always under 1 MiB: counts, failures with log tails, slowest tasks. */
  readonly summaryMarkdown: string;
  /**
   * The same, shorter, for a commit comment (GitHub takes 65,536 characters): counts, the first
   * failures without their logs, the slowest tasks.
   */
  readonly commentMarkdown: string;
}

// ---------------------------------------------------------------------------------------------
// The world a step talks to.

interface AwsContext {
  readonly s3: S3Client;
  readonly sqs: SQSClient;
  readonly deps: RunDeps;
  readonly region: string | undefined;
  readonly endpoint: string | undefined;
  /** The ECS backend's clients, made on first use (a local run never needs them). */
  readonly ecs: () => EcsClients;
  readonly destroyEcs: () => void;
}

/** S3 and SQS clients from the caller's environment and the job's `aws` settings (see runClientConfig). */
function awsContext(context: StepContext, job: Pick<Job, 'aws'> | undefined): AwsContext {
  const config = runClientConfig(context.env, job);
  const s3 = new S3Client(config.s3);
  const sqs = new SQSClient(config.base);
  const deps: RunDeps = {
    store: new S3ObjectStore(s3),
    queues: new SqsRunQueues(sqs),
    buckets: new S3BucketAdmin(s3),
    logger: context.logger,
  };
  let ecs: EcsClients | undefined;
  return {
    s3,
    sqs,
    deps,
    region: config.region,
    endpoint: config.endpoint,
    // runClientConfig builds `base` from plain values only (no providers): the cast holds.
    ecs: () => (ecs ??= ecsClients(config.base as EcsClientSettings)),
    destroyEcs: () => {
      if (ecs !== undefined) destroyEcsClients(ecs);
    },
  };
}

function destroy(aws: AwsContext): void {
  aws.s3.destroy();
  aws.sqs.destroy();
  aws.destroyEcs();
}

/** The region and endpoint ECS resources are made in, and the logger. */
async function ecsSettings(aws: AwsContext, context: StepContext): Promise<EcsSettings> {
  return {
    region: aws.region ?? (await aws.s3.config.region()),
    endpoint: aws.endpoint,
    logger: context.logger,
    ...(context.watcherZip !== undefined && { watcherZip: context.watcherZip }),
  };
}

async function readJobFile(jobPath: string): Promise<Job> {
  let text: string;
  try {
    text = await readFile(jobPath, 'utf8');
  } catch (thrown: unknown) {
    throw new ConfigurationError(`cannot read the job file ${jobPath}: ${toError(thrown).message}`, {
      cause: thrown,
    });
  }
  return parseJob(text, jobPath);
}

/**
 * Messages about the job name it `job.json`; the user's file may be called anything: name it.
 * Only the leading file name changes, so the JSON path and the hint stay as written.
 */
async function namingJobFile<T>(jobPath: string | undefined, step: () => Promise<T>): Promise<T> {
  try {
    return await step();
  } catch (thrown: unknown) {
    if (
      jobPath === undefined ||
      jobPath === 'job.json' ||
      !(thrown instanceof ConfigurationError) ||
      thrown instanceof ValidationError ||
      !thrown.message.startsWith('job.json $')
    )
      throw thrown;
    throw new ConfigurationError(`${jobPath}${thrown.message.slice('job.json'.length)}`, { cause: thrown });
  }
}

/** The job (when a file is given), the run id, and the clients. */
async function resolveTarget(
  target: RunTarget,
  context: StepContext,
): Promise<{ job: Job | undefined; runId: string; bucket: string | undefined; aws: AwsContext }> {
  if (target.jobPath !== undefined) {
    const job = await readJobFile(target.jobPath);
    return { job, runId: makeRunId(job), bucket: job.output.bucket, aws: awsContext(context, job) };
  }
  return {
    job: undefined,
    runId: target.runId,
    bucket: context.outputBucket,
    aws: awsContext(context, undefined),
  };
}

/** Variables handed to the engine CLI: its own settings (podman's CONTAINERS_*, docker's DOCKER_*). */
function engineVariables(env: StepContext['env']): Record<string, string> {
  const picked: Record<string, string> = {};
  for (const [name, value] of Object.entries(env)) {
    if (value !== undefined && /^(CONTAINERS_|DOCKER_|SLUICE_CONTAINER_ENGINE$)/.test(name))
      picked[name] = value;
  }
  return picked;
}

async function engineOf(context: StepContext): Promise<ContainerEngine> {
  return (
    context.engine ??
    detectContainerEngine({
      environment: context.env,
      env: engineVariables(context.env),
      logger: context.logger,
    })
  );
}

function hasImageLister(engine: ContainerEngine): engine is ContainerEngine & ImageLister {
  return typeof (engine as Partial<ImageLister>).listImages === 'function';
}

/** The wrapped image of a job's algorithm in the local image store, with its manifest. */
async function localAlgorithm(
  algorithm: Job['algorithm'],
  engine: ContainerEngine,
): Promise<{ image: string; manifest: Manifest }> {
  if (algorithm.kind === 'catalogue') {
    if (!hasImageLister(engine)) {
      throw new ConfigurationError(
        `the ${engine.kind} engine given cannot list images, so the local catalogue cannot be read`,
      );
    }
    const entry = await new LocalCatalogue(engine).resolve(algorithm);
    return { image: entry.image, manifest: entry.manifest };
  }
  return wrappedImageByReference(algorithm.reference, engine);
}

async function wrappedImageByReference(
  reference: string,
  engine: ContainerEngine,
): Promise<{ image: string; manifest: Manifest }> {
  if (!(await engine.imageExists(reference))) await engine.pull(reference);
  const details = await engine.inspectImage(reference);
  const text = details.labels[WRAPPED_LABELS.manifestJson];
  if (text === undefined || text === '') {
    throw new ConfigurationError(
      `image ${reference} was not made by sluice wrap (no ${WRAPPED_LABELS.manifestJson} label): wrap the algorithm (sluice wrap algorithm.json) and name it as name@version or by the wrapped image.`,
    );
  }
  return { image: details.id, manifest: parseManifest(text, `image ${reference}`) };
}

function checkJobAgainstManifest(job: Job, manifest: Manifest, jobFile: string): void {
  const problems = crossCheckJob(job, manifest, {
    job: jobFile,
    manifest: `${manifest.name}@${manifest.version}`,
  });
  if (problems.length > 0) throw new ValidationError(problems);
}

function secretVariablesOf(manifest: Manifest): string[] {
  return Object.entries(manifest.env)
    .filter(([, spec]) => spec.secret)
    .map(([name]) => name);
}

// ---------------------------------------------------------------------------------------------
// The local backend: what the runner containers of a run are made of.

interface LocalBackend {
  readonly workers: LocalWorkers;
  readonly spec: LocalWorkerSpec;
  /** Values to mask in summaries (the secret variables' values). */
  readonly secrets: readonly string[];
  /** Why runners cannot be restarted by this step (a value the run state does not keep). */
  readonly restartBlocked?: string;
}

/** `SLUICE_RUN` values and secret values for the job's `env`. */
function runnerVariables(
  job: Job,
  env: StepContext['env'],
  logger: Logger,
): {
  literals: Record<string, string>;
  secretEnv: string[];
  secretValues: Record<string, string>;
  redacted: string[];
} {
  const literals: Record<string, string> = {};
  const secretEnv: string[] = [];
  const secretValues: Record<string, string> = {};
  const redacted: string[] = [];
  for (const [name, value] of Object.entries(job.env)) {
    if (typeof value === 'string') {
      if (value === REDACTED) redacted.push(name);
      literals[name] = value;
    } else if ('fromEnv' in value) {
      const found = env[value.fromEnv];
      if (found === undefined) {
        throw new ConfigurationError(
          `job.json $.env.${name}: it is read from the environment variable ${value.fromEnv}, which is not set. ` +
            `Set it for this step (in a workflow: env: { ${value.fromEnv}: \${{ secrets.${value.fromEnv} }} }).`,
        );
      }
      if (found !== '') logger.setSecret(found);
      secretEnv.push(name);
      secretValues[name] = found;
    } else {
      throw new ConfigurationError(
        `job.json $.env.${name}: {"fromSecret": …} is resolved by AWS for the ECS backend; the local backend cannot read Secrets Manager. ` +
          `For a local run use {"fromEnv": "NAME"} and set NAME in the environment.`,
      );
    }
  }
  return { literals, secretEnv, secretValues, redacted };
}

/** The AWS settings a runner container needs: endpoint, region and the caller's resolved credentials. */
async function containerAwsEnv(aws: AwsContext, logger: Logger): Promise<Record<string, string>> {
  const env: Record<string, string> = {};
  if (aws.endpoint !== undefined) env.AWS_ENDPOINT_URL = aws.endpoint;
  const region = aws.region ?? (await aws.s3.config.region());
  env.AWS_REGION = region;
  // Whatever the source (environment, profile, an assumed role), the container gets the session the
  // caller has now: it has no ~/.aws and no OIDC token of its own.
  const credentials = await aws.s3.config.credentials();
  logger.setSecret(credentials.secretAccessKey);
  env.AWS_ACCESS_KEY_ID = credentials.accessKeyId;
  env.AWS_SECRET_ACCESS_KEY = credentials.secretAccessKey;
  if (credentials.sessionToken !== undefined) {
    logger.setSecret(credentials.sessionToken);
    env.AWS_SESSION_TOKEN = credentials.sessionToken;
  }
  return env;
}

async function localBackend(
  state: RunState,
  job: Job | undefined,
  aws: AwsContext,
  context: StepContext,
): Promise<LocalBackend> {
  const engine = await engineOf(context);
  const runJobValue = job ?? runJob(state);
  const { image, manifest } =
    state.algorithm.image !== undefined
      ? await wrappedImageByReference(state.algorithm.image, engine)
      : await localAlgorithm(runJobValue.algorithm, engine);
  const variables = runnerVariables(runJobValue, context.env, context.logger);
  const config = runnerConfigFor(state, runJobValue, variables);
  const limits = localWorkerLimits(runJobValue.compute, manifest);
  if (limits.note !== undefined) context.logger.warning(`run ${state.runId}: ${limits.note}`);
  const spec: LocalWorkerSpec = {
    runId: state.runId,
    image,
    manifest,
    config,
    env: { ...(await containerAwsEnv(aws, context.logger)), ...variables.secretValues },
    workers: limits.workers,
    minWorkers: limits.minWorkers,
  };
  return {
    workers: new LocalWorkers(engine, context.logger),
    spec,
    secrets: Object.values(variables.secretValues).filter((value) => value !== ''),
    ...(variables.redacted.length > 0 && {
      restartBlocked: `run.json does not keep the values of ${variables.redacted.join(', ')}: pass the job file to start runners`,
    }),
  };
}

async function ensureWorkers(local: LocalBackend, state: RunState, aws: AwsContext): Promise<number> {
  const url = state.queue.url;
  const counts = url === undefined ? undefined : await aws.deps.queues.taskQueue(url).counts();
  const workRemains = counts === undefined || counts.visible + counts.inFlight + counts.delayed > 0;
  if (local.restartBlocked !== undefined) {
    const current = await local.workers.count(state.runId);
    if (workRemains && current.running === 0)
      aws.deps.logger?.warning(`run ${state.runId}: ${local.restartBlocked}`);
    return current.running;
  }
  return (await local.workers.ensure(local.spec, { workRemains })).running;
}

/** A run's workers, whichever the backend: topped up to what the queue's backlog calls for. */
interface RunWorkers {
  /** Starts (or restarts) workers while work remains; returns how many run. */
  ensure(): Promise<number>;
  /** Values to mask in summaries. */
  readonly secrets: readonly string[];
}

/**
 * The run's workers: local runner containers, or ECS tasks. Everything they need is checked here,
 * before a step enqueues or waits for anything.
 */
async function runWorkers(
  state: RunState,
  job: Job | undefined,
  aws: AwsContext,
  context: StepContext,
): Promise<RunWorkers> {
  if (backendOf(state, context) === 'local') {
    const local = await localBackend(state, job, aws, context);
    return { ensure: () => ensureWorkers(local, state, aws), secrets: local.secrets };
  }
  const pool = ecsWorkerPool(state, job ?? runJob(state), aws.ecs(), await ecsSettings(aws, context));
  const url = state.queue.url;
  return {
    ensure: async () =>
      pool.ensure(url === undefined ? undefined : await aws.deps.queues.taskQueue(url).counts()),
    // ECS resolves secrets itself: their values never reach sluice.
    secrets: [],
  };
}

function backendOf(state: RunState, context: StepContext): 'local' | 'ecs' {
  return context.backend ?? state.backend;
}

// ---------------------------------------------------------------------------------------------
// The steps.

/**
 * Provisions the run of a job file (idempotent): resolves the job's algorithm (the local image store
 * for the local backend), checks the job against its manifest, then creates or reuses the buckets,
 * queues, queue policy and S3 notification ({@link provisionRun}).
 *
 * @example
 * const { runId, uploadTo } = await provisionStep('job.json', { logger, env: process.env });
 * @throws {ConfigurationError} for a job that does not validate, an unknown algorithm, a missing
 *   input bucket; {@link ValidationError} when the job does not fit the manifest; AwsRequestError
 *   for AWS faults (provision again to resume).
 */
export async function provisionStep(jobPath: string, context: StepContext): Promise<ProvisionStepResult> {
  return namingJobFile(jobPath, () => provisionJob(jobPath, context));
}

async function provisionJob(jobPath: string, context: StepContext): Promise<ProvisionStepResult> {
  const job = await readJobFile(jobPath);
  const backend = context.backend ?? job.compute.backend;
  let algorithm: { image?: string; digest?: string } = {};
  let secretVariables: string[] = [];
  if (backend === 'local') {
    const found = await localAlgorithm(job.algorithm, await engineOf(context));
    checkJobAgainstManifest(job, found.manifest, jobPath);
    // The local image id is the config digest, `sha256:…`: recorded in every task record.
    algorithm = { image: found.image, digest: found.image };
    secretVariables = secretVariablesOf(found.manifest);
  }
  const aws = awsContext(context, job);
  try {
    if (backend === 'ecs') {
      // Checked before anything is made: the algorithm in the catalogue, the job against its manifest,
      // and env values ECS can take without plain-text secrets.
      ecsRunnerVariables(job.env);
      const found = await ecsAlgorithm(job, aws.ecs(), await ecsSettings(aws, context));
      checkJobAgainstManifest(job, found.manifest, jobPath);
      const digest = /@(sha256:[a-f0-9]{64})$/.exec(found.image)?.[1];
      algorithm = { image: found.image, ...(digest !== undefined && { digest }) };
      secretVariables = secretVariablesOf(found.manifest);
    }
    const result = await provisionRun(job, aws.deps, { backend, algorithm, secretVariables });
    const created = [...result.created];
    if (backend === 'ecs') {
      const provisioned = await provisionEcs(result.state, job, aws.ecs(), await ecsSettings(aws, context));
      await writeRunState(aws.deps.store, {
        ...result.state,
        ecs: provisioned.ecs,
        updatedAt: new Date().toISOString(),
      });
      created.push(...provisioned.created);
      context.logger.info(
        `run ${result.runId}: ECS workers on cluster ${provisioned.ecs.cluster}; the watcher ${provisioned.ecs.watcher.functionName} starts them as files arrive`,
      );
    }
    return {
      runId: result.runId,
      queueUrl: result.queueUrl,
      deadLetterQueueUrl: result.deadLetterQueueUrl,
      uploadTo: result.uploadTo,
      endMarker: result.endMarker,
      warnings: result.warnings,
      created,
      keep: result.state.keep,
    };
  } finally {
    destroy(aws);
  }
}

/**
 * Enqueues the files already in the input prefix ({@link dispatchTasks}) and, with the local
 * backend, starts the run's runner containers (`compute.maxWorkers` of them while work remains;
 * dispatching again starts none beyond that).
 *
 * @example
 * const { enqueued, workers } = await dispatchStep({ jobPath: 'job.json' }, { logger, env: process.env });
 * @throws {ConfigurationError} when the run is not provisioned, a `fromEnv` variable is unset, the
 *   algorithm's image is gone, or an ECS run has no ECS resources (provision it with backend ecs).
 */
export async function dispatchStep(
  target: RunTarget,
  context: StepContext,
  onProgress?: (progress: DispatchProgress) => void,
): Promise<DispatchStepResult> {
  return namingJobFile(target.jobPath, () => dispatchRun(target, context, onProgress));
}

async function dispatchRun(
  target: RunTarget,
  context: StepContext,
  onProgress?: (progress: DispatchProgress) => void,
): Promise<DispatchStepResult> {
  const { job, runId, bucket, aws } = await resolveTarget(target, context);
  try {
    const state = await openRun(runId, aws.deps, bucket === undefined ? {} : { bucket });
    // Everything the runners need is checked before anything is enqueued.
    const workers = await runWorkers(state, job, aws, context);
    const report = await dispatchTasks(state, aws.deps, {
      ...(onProgress !== undefined && { onProgress }),
      ...(state.algorithm.digest !== undefined && { algorithmDigest: state.algorithm.digest }),
    });
    throwIfInterrupted(context, 'dispatch');
    warnWhenNothingListed(report, state, context.logger);
    return {
      runId,
      listed: report.listed,
      enqueued: report.enqueued,
      skippedDone: report.skippedDone,
      skippedFiltered: report.skippedFiltered,
      failed: report.failed,
      workers: await workers.ensure(),
    };
  } finally {
    destroy(aws);
  }
}

/** An empty prefix is often a typo in input.prefix: say so, since the run would wait for nothing. */
function warnWhenNothingListed(
  report: { readonly listed: number; readonly skippedFiltered: number },
  state: RunState,
  logger: Logger,
): void {
  const at = `s3://${state.input.bucket}/${state.input.prefix}`;
  if (report.listed === 0) {
    logger.warning(
      `run ${state.runId}: no files under ${at} yet. Files uploaded there from now on are enqueued as they ` +
        'arrive; if files were expected already, check input.bucket and input.prefix in the job.',
    );
  } else if (report.skippedFiltered === report.listed) {
    logger.warning(
      `run ${state.runId}: none of the ${report.listed} file(s) under ${at} matches input.include ` +
        `(${state.input.include.join(', ')}): nothing was enqueued. Check the globs in the job.`,
    );
  }
}

function inputCompletion(options: CollectStepOptions): InputCompletion {
  switch (options.until) {
    case 'marker':
      return { until: 'marker' };
    case 'count':
      if (
        options.expectedCount === undefined ||
        !Number.isInteger(options.expectedCount) ||
        options.expectedCount < 0
      ) {
        throw new ConfigurationError(
          'collecting until a count needs the number of inputs to expect (action input expected-count, CLI --count N).',
        );
      }
      return { until: 'count', expected: options.expectedCount };
    case 'idle':
      return {
        until: 'idle',
        ...(options.idleSeconds !== undefined && { idleSeconds: options.idleSeconds }),
      };
  }
}

/**
 * Waits for the run to drain ({@link collectResults}) — with the local backend watching the runner
 * containers between polls, restarting crashed ones and starting new ones while work remains —
 * writes results.json and renders the summary (failures with their log tails, secrets masked).
 *
 * @example
 * const { report, summaryMarkdown } = await collectStep({ runId }, { until: 'marker', timeoutSeconds: 1800 }, context);
 * @throws {ConfigurationError} when the run is not provisioned, `until: 'count'` has no count, or a
 *   runner stops on a configuration error; AwsRequestError for AWS faults.
 */
export async function collectStep(
  target: RunTarget,
  options: CollectStepOptions,
  context: StepContext,
  onProgress?: (progress: CollectProgress) => void,
): Promise<CollectStepResult> {
  const until = inputCompletion(options);
  const { job, runId, bucket, aws } = await resolveTarget(target, context);
  try {
    const state = await openRun(runId, aws.deps, bucket === undefined ? {} : { bucket });
    const workers = await runWorkers(state, job, aws, context);
    throwIfInterrupted(context, 'collect');
    await workers.ensure();
    const sleep = async (ms: number): Promise<void> => {
      throwIfInterrupted(context, 'collect');
      await sleepUnlessAborted(ms, context.signal);
      // Checked again after the wait: no runner is restarted once the user has interrupted.
      throwIfInterrupted(context, 'collect');
      await workers.ensure();
    };
    const report = await collectResults(
      state,
      {
        until,
        ...(options.timeoutSeconds !== undefined && { timeoutSeconds: options.timeoutSeconds }),
        ...(options.retryFailed !== undefined && { retryFailed: options.retryFailed }),
        ...(context.pollSeconds !== undefined && { pollSeconds: context.pollSeconds }),
        ...(onProgress !== undefined && { onProgress }),
      },
      { ...aws.deps, sleep },
    );
    const logTails = await fetchLogTails(report, aws.deps.store, state.output.bucket);
    const links =
      state.ecs === undefined
        ? {}
        : awsConsoleLinks((await ecsSettings(aws, context)).region, runId, {
            bucket: state.output.bucket,
            key: report.resultsKey,
          });
    const summaryMarkdown = renderSummary(report, { logTails, secrets: workers.secrets, ...links });
    const commentMarkdown = renderSummary(report, {
      secrets: workers.secrets,
      maxBytes: COMMENT_MAX_BYTES,
      maxFailures: COMMENT_MAX_FAILURES,
      ...links,
    });
    return { report, summaryMarkdown, commentMarkdown };
  } finally {
    destroy(aws);
  }
}

/** A commit comment holds at most 65,536 characters; the rendered comment stays well under. */
const COMMENT_MAX_BYTES = 60_000;
/** Failures a commit comment lists; the job summary and results.json have the rest. */
const COMMENT_MAX_FAILURES = 20;

/** Console links of an ECS run: its runners' log group and results.json in the S3 console. */
function awsConsoleLinks(
  region: string,
  runId: string,
  results: { readonly bucket: string; readonly key: string },
): { runnerLogs: ReturnType<typeof runLogGroupLink>; resultsConsoleUrl: string } {
  return {
    runnerLogs: runLogGroupLink({ region, runId }),
    resultsConsoleUrl: s3ObjectConsoleUrl({ region, ...results }),
  };
}

/**
 * Stops and removes the run's local runner containers (whatever the backend: any left behind go),
 * then removes what provisioning created ({@link teardownRun}); data is kept unless `deleteData`.
 * Idempotent.
 *
 * @example
 * const { deleted } = await teardownStep({ jobPath: 'job.json' }, { deleteData: false }, context);
 * @throws ContainerEngineError when the engine fails; AwsRequestError for AWS faults (tear down again).
 */
export async function teardownStep(
  target: RunTarget,
  options: { readonly deleteData?: boolean },
  context: StepContext,
): Promise<TeardownReport> {
  const { runId, bucket, aws } = await resolveTarget(target, context);
  try {
    const containers: string[] = [];
    let engine: ContainerEngine | undefined;
    try {
      engine = await engineOf(context);
    } catch (thrown: unknown) {
      // No engine on this machine: no local runner can exist here either.
      if (context.backend === 'local') throw thrown;
      context.logger.debug(`no container engine, so no local runners to stop: ${toError(thrown).message}`);
    }
    if (engine !== undefined) {
      const removed = await new LocalWorkers(engine, context.logger).stop(runId);
      if (removed > 0) containers.push(`${removed} runner container(s) labelled org.sluice.run=${runId}`);
    }
    const state = await findRunState(runId, aws.deps, bucket === undefined ? {} : { bucket });
    const ecs =
      state?.backend === 'ecs' || state?.ecs !== undefined || context.backend === 'ecs'
        ? await teardownEcs(runId, state?.ecs?.cluster, aws.ecs(), {
            deleteData: options.deleteData === true,
            logger: context.logger,
          })
        : { deleted: [], kept: [] };
    const report = await teardownRun(runId, aws.deps, {
      ...(options.deleteData !== undefined && { deleteData: options.deleteData }),
      ...(bucket !== undefined && { bucket }),
    });
    return {
      ...report,
      deleted: [...containers, ...ecs.deleted, ...report.deleted],
      kept: [...report.kept, ...ecs.kept],
    };
  } finally {
    destroy(aws);
  }
}

// The local backend: a run's workers are runner containers of the wrapped image on this machine's
// container engine (docker, or podman), holding the address and token of the run's local broker
// (sealed mode) or an AWS session for the run's endpoint (direct mode). The token or session is in a
// file mounted read-only and private to root (runner-credentials.ts), never in a container variable.
import {
  ConfigurationError,
  jobProblem,
  parseManifest,
  REDACTED,
  RUNNER_BROKER_TOKEN_FILE_VARIABLE,
  runJob,
  type Job,
  type Logger,
  type Manifest,
  type RunnerConfig,
  type RunState,
} from '@sluice/core';
import {
  containerReachableUrl,
  detectContainerEngine,
  detectLocalGpus,
  LocalCatalogue,
  LocalWorkers,
  RUNNER_CREDENTIAL_FILES,
  RUNNER_CREDENTIALS_DIRECTORY,
  WRAPPED_LABELS,
  type ContainerEngine,
  type ImageLister,
  taskBacklog,
  type LocalWorkerSpec,
  workerSize,
} from '@sluice/core/compute';

import { regionOf, type AwsContext } from '../aws-context.js';
import type { StepContext } from '../context.js';
import type { EcsClientSettings } from './ecs-resources.js';
import { localBroker } from './local-broker.js';
import { LocalRunnerSessions, localSessionClients } from './local-session.js';
import { runnerConfigFor } from './runner-config.js';
import { brokerTokenCredentials, sessionCredentials } from './runner-credentials.js';
import type { WorkerBackend } from './worker-backend.js';

/** Variables handed to the engine CLI: its own settings (podman's CONTAINERS_*, docker's DOCKER_*). */
function engineVariables(env: StepContext['env']): Record<string, string> {
  const picked: Record<string, string> = {};
  for (const [name, value] of Object.entries(env)) {
    if (value !== undefined && /^(CONTAINERS_|DOCKER_|SLUICE_CONTAINER_ENGINE$)/.test(name))
      picked[name] = value;
  }
  return picked;
}

export async function engineOf(context: StepContext): Promise<ContainerEngine> {
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
export async function localAlgorithm(
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

interface LocalBackend {
  readonly workers: LocalWorkers;
  /**
   * The spec runners are started with now: in direct mode with a session fresh enough for a whole
   * task (re-resolved at every ensure(), as sessions expire), else always the same.
   */
  currentSpec(): Promise<LocalWorkerSpec>;
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
        throw jobProblem(
          `$.env.${name}`,
          `it is read from the environment variable ${value.fromEnv}, which is not set`,
          `Set it for this step (in a workflow: env: { ${value.fromEnv}: \${{ secrets.${value.fromEnv} }} }).`,
        );
      }
      if (found !== '') logger.setSecret(found);
      secretEnv.push(name);
      secretValues[name] = found;
    } else {
      throw jobProblem(
        `$.env.${name}`,
        '{"fromSecret": …} is resolved by AWS for the ECS backend; the local backend cannot read Secrets Manager',
        'For a local run use {"fromEnv": "NAME"} and set NAME in the environment.',
      );
    }
  }
  return { literals, secretEnv, secretValues, redacted };
}

/**
 * The AWS settings a direct-mode runner container needs besides its session: endpoint and region.
 * Its credentials are a session of the run's local runner role, never the caller's own
 * (local-session.ts), and are added by {@link LocalBackend.currentSpec} at every ensure().
 */
async function containerAwsEnv(aws: AwsContext): Promise<Record<string, string>> {
  const env: Record<string, string> = {};
  if (aws.endpoint !== undefined) env.AWS_ENDPOINT_URL = aws.endpoint;
  env.AWS_REGION = await regionOf(aws);
  return env;
}

/** What {@link runnerAccess} gives: the runner's config and environment, and a direct run's sessions. */
interface RunnerAccess {
  readonly config: RunnerConfig;
  readonly env: Record<string, string>;
  /** Sealed mode: the host directory holding the broker token, mounted into every runner. */
  readonly credentials?: string;
  /** Direct mode: where each ensure() gets a session fresh enough for the runners it starts. */
  readonly sessions?: LocalRunnerSessions;
}

/** The path inside a runner container of one of its credential files. */
function containerCredentialFile(file: keyof typeof RUNNER_CREDENTIAL_FILES): string {
  return `${RUNNER_CREDENTIALS_DIRECTORY}/${RUNNER_CREDENTIAL_FILES[file]}`;
}

/**
 * What a runner container holds to reach its run: in sealed mode the run's broker address and token
 * (in a mounted file) and nothing else; in direct mode the AWS endpoint, region and a session scoped
 * to the run (in a mounted shared credentials file, added at every ensure()).
 */
async function runnerAccess(
  state: RunState,
  job: Job,
  config: RunnerConfig,
  manifest: Manifest,
  engine: ContainerEngine,
  aws: AwsContext,
  context: StepContext,
): Promise<RunnerAccess> {
  if (job.mode === 'direct') {
    const sessions = new LocalRunnerSessions(state, config.timeoutSeconds ?? manifest.timeoutSeconds, {
      clients: () => localSessionClients(aws.config.base as EcsClientSettings),
      logger: context.logger,
    });
    return { config, env: await containerAwsEnv(aws), sessions };
  }
  const broker = await localBroker(config, manifest, aws, context, (url) =>
    containerReachableUrl(url, engine.kind),
  );
  return {
    config: { ...config, broker: { url: containerReachableUrl(broker.url, engine.kind), auth: 'token' } },
    env: { [RUNNER_BROKER_TOKEN_FILE_VARIABLE]: containerCredentialFile('brokerToken') },
    credentials: await brokerTokenCredentials(state.runId, broker.token, context.env),
  };
}

/**
 * Credential variables an algorithm image's ENV may set, set empty for a direct-mode runner: the
 * SDK takes environment credentials (and a profile) ahead of the mounted credentials file, and an
 * empty value counts as unset.
 */
const IMAGE_CREDENTIAL_VARIABLES_BLANKED: Readonly<Record<string, string>> = {
  AWS_ACCESS_KEY_ID: '',
  AWS_SECRET_ACCESS_KEY: '',
  AWS_SESSION_TOKEN: '',
  AWS_PROFILE: '',
};

async function localWorkerSetup(
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
  // Before anything is started: a GPU algorithm on a machine without GPUs fails here, saying why.
  const gpus =
    manifest.gpu > 0
      ? await detectLocalGpus({
          kind: engine.kind,
          gpu: manifest.gpu,
          env: engineVariables(context.env),
          logger: context.logger,
        })
      : undefined;
  // Locally only tasksPerWorker counts (default 1): maxWorkers is already the user's measure of this
  // machine, and the worker's cpu and memory are ECS's.
  const { tasksPerWorker } = workerSize(manifest, { ...runJobValue.compute, backend: 'local' });
  const variables = runnerVariables(runJobValue, context.env, context.logger);
  const config = runnerConfigFor(state, runJobValue, variables);
  const access = await runnerAccess(state, runJobValue, config, manifest, engine, aws, context);
  const spec: LocalWorkerSpec = {
    runId: state.runId,
    image,
    manifest,
    config: access.config,
    env: { ...access.env, ...variables.secretValues },
    ...(access.credentials !== undefined && { credentials: access.credentials }),
    ...(gpus !== undefined && { gpus }),
    // A worker is `tasksPerWorker` runner containers here too, one task each. Each runner has a network
    // of its own, so a port algorithm's servers never meet: every runner counts.
    workers: runJobValue.compute.maxWorkers * tasksPerWorker,
    minWorkers: runJobValue.compute.minWorkers * tasksPerWorker,
  };
  const { sessions } = access;
  const currentSpec =
    sessions === undefined
      ? () => Promise.resolve(spec)
      : async (): Promise<LocalWorkerSpec> => {
          const session = await sessions.current();
          // A directory per session: runners started earlier keep the session they were given.
          return {
            ...spec,
            config: { ...spec.config, credentialsExpireAt: session.expiresAt.toISOString() },
            env: {
              ...spec.env,
              // Blank what an image's ENV could set ahead of the file in the SDK's chain.
              ...IMAGE_CREDENTIAL_VARIABLES_BLANKED,
              AWS_SHARED_CREDENTIALS_FILE: containerCredentialFile('awsCredentials'),
            },
            credentials: await sessionCredentials(state.runId, session.env, context.env),
          };
        };
  return {
    workers: new LocalWorkers(engine, context.logger),
    currentSpec,
    secrets: Object.values(variables.secretValues).filter((value) => value !== ''),
    ...(variables.redacted.length > 0 && {
      restartBlocked: `run.json does not keep the values of ${variables.redacted.join(', ')}: pass the job file to start runners`,
    }),
  };
}

async function ensureWorkers(local: LocalBackend, state: RunState, aws: AwsContext): Promise<number> {
  const url = state.queue.url;
  const counts = url === undefined ? undefined : await aws.deps.queues.taskQueue(url).counts();
  // The backlog falling between two calls is the run advancing: runners that die meanwhile are
  // replaced, and only deaths without it count toward a crash loop (LocalWorkers.ensure).
  const backlog = counts === undefined ? undefined : taskBacklog(counts);
  const workRemains = backlog === undefined || backlog > 0;
  if (local.restartBlocked !== undefined) {
    const current = await local.workers.count(state.runId);
    if (workRemains && current.running === 0)
      aws.deps.logger?.warning(`run ${state.runId}: ${local.restartBlocked}`);
    return current.running;
  }
  const progress = backlog === undefined ? {} : { backlog };
  return (await local.workers.ensure(await local.currentSpec(), { workRemains, ...progress })).running;
}

/**
 * The run's local runner containers as a {@link WorkerBackend}: everything they need (the wrapped
 * image, the `fromEnv` values, the engine) is checked here, before a step enqueues or waits.
 *
 * @example
 * const workers = await localWorkerBackend(state, job, aws, context); await workers.ensure();
 * @throws {ConfigurationError} when a `fromEnv` variable is unset, a value is `fromSecret`, the
 *   algorithm's image is gone, or it needs GPUs the engine does not have; ContainerEngineError when no engine answers.
 */
export async function localWorkerBackend(
  state: RunState,
  job: Job | undefined,
  aws: AwsContext,
  context: StepContext,
): Promise<WorkerBackend> {
  const local = await localWorkerSetup(state, job, aws, context);
  return { ensure: () => ensureWorkers(local, state, aws), secrets: local.secrets };
}

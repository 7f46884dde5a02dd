// provision: the run of a job file made (or found again), with the ECS side for an ECS run.
import {
  crossCheckJob,
  provisionRun,
  ValidationError,
  writeRunState,
  type Job,
  type Manifest,
} from '@sluice/core';
import { ecsRunnerVariables } from '@sluice/core/ecs';

import { awsContext } from '../aws-context.js';
import { namingJobFile, readJobFile, type StepContext } from '../context.js';
import {
  destroyEcsClients,
  ecsAlgorithm,
  ecsClients,
  provisionEcs,
  type EcsClients,
  type EcsClientSettings,
} from '../backends/ecs-resources.js';
import { engineOf, localAlgorithm } from '../backends/local.js';
import { ecsSettingsOf } from '../backends/run-workers.js';

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
export async function provisionStep(
  jobPath: string,
  context: StepContext,
  options: ProvisionStepOptions = {},
): Promise<ProvisionStepResult> {
  return namingJobFile(jobPath, () => provisionJob(jobPath, context, options));
}

/** Options of {@link provisionStep}. */
export interface ProvisionStepOptions {
  /**
   * Leave the S3 notification to the dispatch step (`sluice run --upload`: the batch uploaded in
   * between is enqueued once, by dispatch's listing); see core's `ProvisionOptions.deferIntake`.
   */
  readonly deferIntake?: boolean;
}

async function provisionJob(
  jobPath: string,
  context: StepContext,
  options: ProvisionStepOptions,
): Promise<ProvisionStepResult> {
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
  // The ECS side's clients (IAM, EC2, Logs, Lambda, EventBridge): made only for an ECS run.
  let resources: EcsClients | undefined;
  const ecs = (): EcsClients => (resources ??= ecsClients(aws.config.base as EcsClientSettings));
  try {
    if (backend === 'ecs') {
      // Checked before anything is made: the algorithm in the catalogue, the job against its manifest,
      // and env values ECS can take without plain-text secrets.
      ecsRunnerVariables(job.env);
      const found = await ecsAlgorithm(job, ecs(), await ecsSettingsOf(aws, context));
      checkJobAgainstManifest(job, found.manifest, jobPath);
      const digest = /@(sha256:[a-f0-9]{64})$/.exec(found.image)?.[1];
      algorithm = { image: found.image, ...(digest !== undefined && { digest }) };
      secretVariables = secretVariablesOf(found.manifest);
    }
    const result = await provisionRun(job, aws.deps, {
      backend,
      algorithm,
      secretVariables,
      ...(options.deferIntake === true && { deferIntake: true }),
    });
    const created = [...result.created];
    if (backend === 'ecs') {
      const provisioned = await provisionEcs(result.state, job, ecs(), await ecsSettingsOf(aws, context));
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
    if (resources !== undefined) destroyEcsClients(resources);
    aws.close();
  }
}

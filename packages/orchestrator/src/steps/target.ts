// The run a step works on, from a job file or a run id, with the step's clients.
import { runId as makeRunId, type Job } from '@sluice/core';

import { awsContext, type AwsContext } from '../aws-context.js';
import { readJobFile, type RunTarget, type StepContext } from '../context.js';

/** The job (when a file is given), the run id, and the clients. */
export async function resolveTarget(
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

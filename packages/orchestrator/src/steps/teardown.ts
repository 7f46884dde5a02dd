// teardown: the run's local runner containers stopped (and their credential files removed), its ECS side and what provisioning made removed.
import { findRunState, teardownRun, toError, type TeardownReport } from '@sluice/core';
import { LocalWorkers, type ContainerEngine } from '@sluice/core/compute';

import type { RunTarget, StepContext } from '../context.js';
import {
  destroyEcsClients,
  ecsClients,
  teardownEcs,
  type EcsClients,
  type EcsClientSettings,
} from '../backends/ecs-resources.js';
import { engineOf } from '../backends/local.js';
import { deleteLocalRunnerRole } from '../backends/local-session.js';
import { removeRunnerCredentials } from '../backends/runner-credentials.js';
import { resolveTarget } from './target.js';

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
  let resources: EcsClients | undefined;
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
    // The files their credentials were mounted from (this machine's state directory).
    if (await removeRunnerCredentials(runId, context.env)) containers.push('runner credential files');
    const state = await findRunState(runId, aws.deps, bucket === undefined ? {} : { bucket });
    const ecs =
      state?.backend === 'ecs' || state?.ecs !== undefined || context.backend === 'ecs'
        ? await teardownEcs(
            runId,
            state?.ecs?.cluster,
            (resources = ecsClients(aws.config.base as EcsClientSettings)),
            {
              deleteData: options.deleteData === true,
              logger: context.logger,
            },
          )
        : { deleted: [], kept: [] };
    // Direct mode on the local backend: the role whose sessions the runners held.
    const localRole =
      state !== undefined && state.backend === 'local' && state.job.mode === 'direct'
        ? (await deleteLocalRunnerRole(runId, aws.config.base as EcsClientSettings)).map(
            (name) => `IAM role ${name}`,
          )
        : [];
    const report = await teardownRun(runId, aws.deps, {
      ...(options.deleteData !== undefined && { deleteData: options.deleteData }),
      ...(bucket !== undefined && { bucket }),
    });
    return {
      ...report,
      deleted: [...containers, ...ecs.deleted, ...localRole, ...report.deleted],
      kept: [...report.kept, ...ecs.kept],
    };
  } finally {
    if (resources !== undefined) destroyEcsClients(resources);
    aws.close();
  }
}

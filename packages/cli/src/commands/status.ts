// `sluice status RUN`, and what the commands around a run (status, logs, runs, cancel) share: the
// S3/SQS adapters and the local runner containers, made from the environment or given by tests.
import {
  ConfigurationError,
  findRunState,
  isRunId,
  silentLogger,
  taskQueueName,
  type QueueCounts,
  type RunState,
} from '@sluice/core';
import { LocalWorkers, detectContainerEngine, type LocalWorkerCounts } from '@sluice/core/compute';
import { inspectClients, runStatus, type InspectDeps, type RunStatus } from '@sluice/orchestrator';
import type { Command } from 'commander';

import type { CommandContext } from '../context.js';

type Env = Readonly<Record<string, string | undefined>>;

/** The run's local runner containers, as the inspection commands use them. */
export type RunWorkers = Pick<LocalWorkers, 'count' | 'stop'>;

/** What status, logs, runs and cancel reach the world through; tests pass fakes. */
export interface InspectCommandDeps {
  /** S3 and SQS adapters from the environment; `close` releases them. */
  readonly connect: (env: Env) => { readonly deps: InspectDeps; readonly close: () => void };
  /** The local runner containers, or undefined when this machine has no container engine. */
  readonly workers: (env: Env) => Promise<RunWorkers | undefined>;
  readonly env: Env;
}

/** Variables handed to the engine CLI: its own settings (podman's CONTAINERS_*, docker's DOCKER_*). */
function engineVariables(env: Env): Record<string, string> {
  const picked: Record<string, string> = {};
  for (const [name, value] of Object.entries(env)) {
    if (value !== undefined && /^(CONTAINERS_|DOCKER_|SLUICE_CONTAINER_ENGINE$)/.test(name))
      picked[name] = value;
  }
  return picked;
}

/** The real adapters, on this process's environment. */
export function defaultInspectDeps(): InspectCommandDeps {
  return {
    connect: inspectClients,
    workers: async (env) => {
      try {
        const engine = await detectContainerEngine({ environment: env, env: engineVariables(env) });
        return new LocalWorkers(engine, silentLogger);
      } catch (thrown: unknown) {
        // No engine on this machine: no local runner can exist here either.
        if (thrown instanceof ConfigurationError) return undefined;
        throw thrown;
      }
    },
    env: process.env,
  };
}

/** Runs `work` with adapters from `deps`, releasing them after. */
export async function withConnection<T>(
  deps: InspectCommandDeps,
  work: (inspect: InspectDeps) => Promise<T>,
): Promise<T> {
  const { deps: inspect, close } = deps.connect(deps.env);
  try {
    return await work(inspect);
  } finally {
    close();
  }
}

/**
 * The state of run `runId`, torn down or not.
 * @throws {ConfigurationError} for a malformed run id or a run that cannot be found (saying how to find runs).
 */
export async function findRun(
  runId: string,
  inspect: InspectDeps,
  outputBucket: string | undefined,
): Promise<RunState> {
  if (!isRunId(runId)) {
    throw new ConfigurationError(
      `${JSON.stringify(runId)} is not a run id (lower-case letters, digits and dashes, as printed by sluice provision). List the runs with: sluice runs`,
    );
  }
  const state = await findRunState(
    runId,
    inspect,
    outputBucket === undefined ? {} : { bucket: outputBucket },
  );
  if (state === undefined) {
    const where =
      outputBucket !== undefined
        ? `no _sluice/${runId}/run.json in s3://${outputBucket}`
        : `no queue ${taskQueueName(runId)} points to its output bucket`;
    throw new ConfigurationError(
      `run ${runId} was not found (${where}). List the runs with: sluice runs` +
        (outputBucket === undefined
          ? '; for a torn-down run, give its output bucket: --output-bucket BUCKET'
          : ''),
    );
  }
  return state;
}

/** The run id option every inspection command takes. */
export const OUTPUT_BUCKET_HELP =
  'the output bucket, where the run state is (default: found by the run queue tags; needed once the run is torn down)';

const EXAMPLES = `
Examples:
  $ sluice status thumbnails-3f9a0c12
  $ sluice status thumbnails-3f9a0c12 --output-bucket my-results --json

Shows the run's state (from _sluice/<run>/run.json), its queues (queued, in flight, dead-lettered),
its task records counted by status, and — for the local backend — its runner containers.

Exit status: 0 shown, 2 the run is not found or the command line is wrong, 1 sluice or AWS failed.
`;

interface StatusOptions {
  readonly outputBucket?: string;
  readonly json?: boolean;
}

/** What `sluice status` reports. */
export interface StatusReport extends RunStatus {
  /** The local runner containers; absent for the ECS backend, a torn-down run, or without an engine. */
  readonly workers?: LocalWorkerCounts;
}

function queueLine(name: string, counts: QueueCounts | undefined): string {
  if (counts === undefined) return `${name}: none`;
  return `${name}: ${counts.visible} queued, ${counts.inFlight} in flight, ${counts.delayed} delayed`;
}

/** The lines `sluice status` prints. */
export function describeStatus(status: StatusReport, workersNote?: string): string {
  const { records } = status;
  const lines = [
    `run ${status.runId} (${status.jobName}): ${status.state}, backend ${status.backend}`,
    `  created ${status.createdAt}, updated ${status.updatedAt}` +
      (status.tornDownAt === undefined ? '' : `, torn down ${status.tornDownAt}`),
    `  input:  s3://${status.input.bucket}/${status.input.prefix}`,
    `  output: s3://${status.output.bucket}/${status.output.prefix}`,
    `  ${queueLine('task queue', status.queue)}`,
    `  ${status.deadLetter === undefined ? 'dead-letter queue: none' : `dead-letter queue: ${status.deadLetter.visible + status.deadLetter.inFlight + status.deadLetter.delayed} message(s)`}`,
    `  records: ${records.total} (${records.succeeded} succeeded, ${records.failed} failed, ${records.running} running` +
      (records.unreadable > 0 ? `, ${records.unreadable} unreadable` : '') +
      ')',
  ];
  if (status.workers !== undefined) {
    const { running, finished, failed } = status.workers;
    lines.push(`  local workers: ${running} running, ${finished} exited, ${failed} failed`);
  } else if (workersNote !== undefined) {
    lines.push(`  local workers: ${workersNote}`);
  }
  if (records.failed > 0) lines.push(`failed tasks and their logs: sluice logs ${status.runId}`);
  return `${lines.join('\n')}\n`;
}

/** `sluice status RUN`: where a run stands. */
export function registerStatus(
  program: Command,
  context: CommandContext,
  deps: Partial<InspectCommandDeps> = {},
): void {
  program
    .command('status')
    .summary("show a run's state, queues, task counts and workers")
    .description(
      "Show a run's state, its task and dead-letter queues, its task records counted by status " +
        '(succeeded, failed, running) and, for the local backend, its runner containers.',
    )
    .argument('<run>', 'the run id printed by sluice provision (sluice runs lists them)')
    .option('--output-bucket <bucket>', OUTPUT_BUCKET_HELP)
    .option('--json', 'print the status as JSON')
    .addHelpText('after', EXAMPLES)
    .action(async (runId: string, options: StatusOptions) => {
      const all = { ...defaultInspectDeps(), ...deps };
      const { status, workersNote } = await withConnection(all, async (inspect) => {
        const state = await findRun(runId, inspect, options.outputBucket);
        const found = await runStatus(state, inspect);
        if (state.backend !== 'local' || state.state === 'torn-down') return { status: found };
        const workers = await all.workers(all.env);
        if (workers === undefined)
          return { status: found, workersNote: 'no container engine on this machine' };
        return { status: { ...found, workers: await workers.count(runId) } };
      });
      context.io.out(
        options.json === true ? `${JSON.stringify(status, null, 2)}\n` : describeStatus(status, workersNote),
      );
    });
}

// Deploying a run's watcher: the Lambda function (one bundle for every run, the run's settings in
// the schedule's Input), the EventBridge rule that invokes it every minute, and the permission that
// lets EventBridge do so. All named from the run id and tagged with it, created or brought up to date
// idempotently, and removed idempotently. The function's side is watcher-function.ts, the schedule's
// watcher-schedule.ts, the zip watcher-package.ts.
import type { EventBridgeClient } from '@aws-sdk/client-eventbridge';
import { DeleteFunctionCommand, type LambdaClient } from '@aws-sdk/client-lambda';

import { ConfigurationError, SluiceError } from '../errors.js';
import { silentLogger, type Logger } from '../logging/logger.js';
import { parseWatcherEvent, type WatcherEvent } from '../schemas/watcher-event.js';
import { classifyAwsError } from '../aws/errors.js';
import { canonicalJson } from '../ids/canonical-json.js';
import { RUN_ID_PATTERN } from '../ids/run-id.js';
import { RUN_ID_TAG } from '../ids/run-names.js';
import { isNotFound } from './watcher-calls.js';
import { ensureFunction, ensureInvokeConfig, ensurePermission, getFunction } from './watcher-function.js';
import { codeSha256 } from './watcher-package.js';
import { describeRule, ensureRule, ensureTarget, removeRule, ruleRunId } from './watcher-schedule.js';

/** EventBridge's limit on a target's constant Input. */
const MAX_TARGET_INPUT_LENGTH = 8192;

function checkRunId(runId: string): void {
  if (!RUN_ID_PATTERN.test(runId)) {
    throw new SluiceError(`"${runId}" is not a run id (expected a slug, "-" and 8 hex digits)`);
  }
}

/**
 * The watcher function's name: `sluice-<run-id>-watch` (at most 51 characters; Lambda allows 64).
 *
 * @example
 * watcherFunctionName('thumbs-3f9a0c12'); // 'sluice-thumbs-3f9a0c12-watch'
 * @throws {SluiceError} when the run id is malformed.
 */
export function watcherFunctionName(runId: string): string {
  checkRunId(runId);
  return `sluice-${runId}-watch`;
}

/**
 * The schedule rule's name: `sluice-<run-id>-watch` (EventBridge allows 64 characters).
 *
 * @example
 * watcherRuleName('thumbs-3f9a0c12'); // 'sluice-thumbs-3f9a0c12-watch'
 * @throws {SluiceError} when the run id is malformed.
 */
export function watcherRuleName(runId: string): string {
  checkRunId(runId);
  return `sluice-${runId}-watch`;
}

/** The SDK clients the watcher's deployment uses. */
export interface WatcherClients {
  readonly lambda: LambdaClient;
  readonly events: EventBridgeClient;
}

/** Options of {@link ensureWatcher}. */
export interface EnsureWatcherOptions {
  /** The schedule's Input; its `runId` names and tags everything. Checked before anything is made. */
  readonly event: WatcherEvent;
  /** The role the function runs as (made by the caller: SQS attributes, ECS RunTask/ListTasks, PassRole). */
  readonly roleArn: string;
  /** The deployment package: `watcherZip` (watcher-package.ts), or the orchestrator's `loadWatcherZip`. */
  readonly zip: Uint8Array;
  /** `AWS_ENDPOINT_URL` for the function, only when the run uses a custom endpoint (moto, LocalStack). */
  readonly endpoint?: string;
  readonly logger?: Logger;
  /** Longest wait for the function to become active or finish an update (default 300 s). */
  readonly waitSeconds?: number;
  /** Longest wait for a new role to become usable by Lambda (IAM propagation; default 60 s). */
  readonly roleWaitSeconds?: number;
}

/** What {@link ensureWatcher} deployed. */
export interface WatcherDeployment {
  readonly functionName: string;
  readonly functionArn: string;
  readonly ruleName: string;
  readonly ruleArn: string;
  readonly codeSha256: string;
  /** What this call created or changed, e.g. `function sluice-<run-id>-watch (code)`; empty on a repeat. */
  readonly changed: readonly string[];
}

/**
 * Deploys a run's watcher, idempotently: the Lambda function `sluice-<run-id>-watch` (created, or
 * its code updated when the zip's SHA-256 differs, its configuration when a setting differs), the
 * EventBridge rule of the same name firing `rate(1 minute)`, the permission for
 * `events.amazonaws.com` to invoke the function from that rule, and the rule's target carrying the
 * event as its Input. Function and rule are tagged `sluice:run-id`/`sluice:managed`. A second call
 * with the same inputs changes nothing.
 *
 * @example
 * const zip = await loadWatcherZip();
 * const { functionArn, changed } = await ensureWatcher({ lambda, events }, { event, roleArn, zip });
 * @throws {ValidationError} when the event does not fit the watcher event schema.
 * @throws {ConfigurationError} when the event is too long for a target Input (8192 characters), a
 *   function or rule of that name belongs to something else, Lambda cannot assume the role (after
 *   waiting `roleWaitSeconds` for IAM to propagate a new one), or access is denied.
 * @throws AwsRequestError for AWS faults (ensure again to resume).
 */
export async function ensureWatcher(
  clients: WatcherClients,
  options: EnsureWatcherOptions,
): Promise<WatcherDeployment> {
  const logger = options.logger ?? silentLogger;
  const event = parseWatcherEvent(options.event, 'the watcher event');
  const input = canonicalJson(event);
  if (input.length > MAX_TARGET_INPUT_LENGTH) {
    throw new ConfigurationError(
      `the watcher event for run ${event.runId} is ${input.length} characters, over EventBridge's ${MAX_TARGET_INPUT_LENGTH} ` +
        'for a target Input: the launch overrides carry too much (long environment values?). Shorten them.',
    );
  }
  const runId = event.runId;
  const functionName = watcherFunctionName(runId);
  const ruleName = watcherRuleName(runId);
  const sha = codeSha256(options.zip);
  const waitSeconds = options.waitSeconds ?? 300;
  const changed: string[] = [];

  const fn = await ensureFunction(clients.lambda, {
    functionName,
    runId,
    roleArn: options.roleArn,
    zip: options.zip,
    sha,
    endpoint: options.endpoint,
    waitSeconds,
    roleWaitSeconds: options.roleWaitSeconds ?? 60,
    changed,
  });
  await ensureInvokeConfig(clients.lambda, functionName, changed);
  const ruleArn = await ensureRule(clients.events, ruleName, runId, changed);
  await ensurePermission(clients.lambda, functionName, ruleArn, changed);
  await ensureTarget(clients.events, ruleName, fn, input, changed);

  logger.info(
    changed.length > 0
      ? `run ${runId}: watcher ${functionName}: ${changed.join(', ')}`
      : `run ${runId}: watcher ${functionName} is up to date`,
  );
  return { functionName, functionArn: fn, ruleName, ruleArn, codeSha256: sha, changed };
}

/** What {@link removeWatcher} did. */
export interface WatcherRemoval {
  /** What was deleted, e.g. `rule sluice-<run-id>-watch`. */
  readonly deleted: readonly string[];
  /** What was left, and why (not tagged for this run). */
  readonly kept: readonly string[];
}

/**
 * Removes a run's watcher: the rule's targets and the rule, then the function (its permission goes
 * with it). Only what carries the run's `sluice:run-id` tag is deleted. Idempotent: what is already
 * gone is skipped.
 *
 * @example
 * const { deleted } = await removeWatcher({ lambda, events }, 'thumbs-3f9a0c12');
 * @throws {ConfigurationError} when access is denied; AwsRequestError for faults (remove again).
 */
export async function removeWatcher(clients: WatcherClients, runId: string): Promise<WatcherRemoval> {
  const { lambda, events } = clients;
  const ruleName = watcherRuleName(runId);
  const functionName = watcherFunctionName(runId);
  const deleted: string[] = [];
  const kept: string[] = [];

  // The rule first, so nothing invokes a function that is about to go.
  const rule = await describeRule(events, ruleName);
  if (rule !== undefined) {
    if ((await ruleRunId(events, ruleName, rule.arn)) !== runId) {
      kept.push(`rule ${ruleName} (not tagged ${RUN_ID_TAG}=${runId})`);
    } else {
      await removeRule(events, ruleName);
      deleted.push(`rule ${ruleName}`);
    }
  }

  const fn = await getFunction(lambda, functionName);
  if (fn !== undefined) {
    if (fn.tags[RUN_ID_TAG] !== runId) {
      kept.push(`function ${functionName} (not tagged ${RUN_ID_TAG}=${runId})`);
    } else {
      try {
        await lambda.send(new DeleteFunctionCommand({ FunctionName: functionName }));
        deleted.push(`function ${functionName}`);
      } catch (thrown: unknown) {
        if (!isNotFound(thrown)) throw classifyAwsError(thrown, 'Lambda.DeleteFunction', functionName);
      }
    }
  }
  return { deleted, kept };
}

// Deploying a run's watcher: the Lambda function (one bundle for every run, the run's settings in
// the schedule's Input), the EventBridge rule that invokes it every minute, and the permission that
// lets EventBridge do so. All named from the run id and tagged with it, created or brought up to date
// idempotently, and removed idempotently.
import { createHash } from 'node:crypto';

import {
  DeleteRuleCommand,
  DescribeRuleCommand,
  EventBridgeClient,
  ListTagsForResourceCommand,
  ListTargetsByRuleCommand,
  PutRuleCommand,
  PutTargetsCommand,
  RemoveTargetsCommand,
} from '@aws-sdk/client-eventbridge';
import {
  AddPermissionCommand,
  CreateFunctionCommand,
  DeleteFunctionCommand,
  GetFunctionCommand,
  GetFunctionEventInvokeConfigCommand,
  GetPolicyCommand,
  LambdaClient,
  PutFunctionEventInvokeConfigCommand,
  RemovePermissionCommand,
  UpdateFunctionCodeCommand,
  UpdateFunctionConfigurationCommand,
  waitUntilFunctionActiveV2,
  waitUntilFunctionUpdatedV2,
  type CreateFunctionCommandInput,
  type FunctionConfiguration,
  type GetFunctionEventInvokeConfigCommandOutput,
} from '@aws-sdk/client-lambda';
import { zipSync } from 'fflate';

import { ConfigurationError, InfrastructureError, SluiceError, toError } from '../errors.js';
import { silentLogger, type Logger } from '../logging/logger.js';
import { parseWatcherEvent, type WatcherEvent } from '../schemas/watcher-event.js';
import { classifyAwsError, describeAwsError } from '../aws/errors.js';
import { withRetries } from '../aws/retry.js';
import { canonicalJson } from '../ids/canonical-json.js';
import { RUN_ID_PATTERN } from '../ids/run-id.js';
import { RUN_ID_TAG, runTags } from '../ids/run-names.js';

/** The watcher's Lambda settings: small and short, it makes a handful of API calls a minute. */
export const WATCHER_FUNCTION_SETTINGS = {
  runtime: 'nodejs22.x',
  handler: 'index.handler',
  memoryMiB: 128,
  timeoutSeconds: 60,
  // The schedule invokes it again within a minute: Lambda's own retries of a failed invocation
  // (2 by default, a minute or two later) would only overlap a later watcher and start tasks twice.
  asyncRetries: 0,
  maxEventAgeSeconds: 60,
} as const;

/** How often the schedule invokes the watcher (EventBridge's shortest rate). */
export const WATCHER_SCHEDULE = 'rate(1 minute)';

/** The Id of the watcher's target on its rule, and the Sid of the permission letting the rule invoke it. */
export const WATCHER_TARGET_ID = 'sluice-watcher';
export const WATCHER_PERMISSION_ID = 'sluice-watch-schedule';

/** EventBridge's limit on a target's constant Input. */
const MAX_TARGET_INPUT_LENGTH = 8192;

/** The `package.json` next to the bundle: Lambda's Node runtime then loads `index.js` as an ES module. */
export const WATCHER_PACKAGE_JSON = '{\n  "type": "module"\n}\n';

/**
 * DOS time in a zip is local time; a date built from local fields gives the same bytes in every time
 * zone, so the zip (and its CodeSha256) is the same wherever it is built.
 */
function fixedZipTime(): Date {
  return new Date(1980, 0, 2, 0, 0, 0);
}

/** `-rw-r--r--` on a Unix zip entry: Lambda must be able to read the files it unpacks. */
const ZIP_FILE_ATTRIBUTES = { os: 3, attrs: 0o100644 << 16 } as const;

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

/**
 * The deployment package: a zip of `index.js` (the watcher bundle) and `package.json`, entries
 * sorted, with fixed times and modes, so the same bundle always gives the same bytes and the same
 * CodeSha256 — what {@link ensureWatcher} compares to skip an unchanged upload.
 *
 * @example
 * const zip = watcherZip(await readFile('dist/lambda/index.js'));
 * @throws never.
 */
export function watcherZip(
  bundleJs: Uint8Array,
  packageJson: Uint8Array | string = WATCHER_PACKAGE_JSON,
): Uint8Array {
  const mtime = fixedZipTime();
  const json = typeof packageJson === 'string' ? new TextEncoder().encode(packageJson) : packageJson;
  const files: [string, Uint8Array][] = [
    ['index.js', bundleJs],
    ['package.json', json],
  ];
  files.sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  return zipSync(
    Object.fromEntries(files.map(([name, data]) => [name, [data, { ...ZIP_FILE_ATTRIBUTES, mtime }]])),
    { level: 9, mtime },
  );
}

/**
 * The base64 SHA-256 of a deployment package: what Lambda reports as `CodeSha256`.
 *
 * @example
 * codeSha256(watcherZip(bundle)); // 'k1l7...='
 * @throws never.
 */
export function codeSha256(zip: Uint8Array): string {
  return createHash('sha256').update(zip).digest('base64');
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
  /** The deployment package, from {@link watcherZip} or {@link loadWatcherZip}. */
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

interface FunctionSpec {
  readonly functionName: string;
  readonly runId: string;
  readonly roleArn: string;
  readonly zip: Uint8Array;
  readonly sha: string;
  readonly endpoint: string | undefined;
  readonly waitSeconds: number;
  readonly roleWaitSeconds: number;
  readonly changed: string[];
}

function desiredConfiguration(spec: FunctionSpec) {
  return {
    FunctionName: spec.functionName,
    Description: `sluice watcher of run ${spec.runId}: starts runner tasks while its queue has work`,
    Runtime: WATCHER_FUNCTION_SETTINGS.runtime,
    Handler: WATCHER_FUNCTION_SETTINGS.handler,
    Role: spec.roleArn,
    MemorySize: WATCHER_FUNCTION_SETTINGS.memoryMiB,
    Timeout: WATCHER_FUNCTION_SETTINGS.timeoutSeconds,
    Environment: {
      Variables: spec.endpoint === undefined ? {} : { AWS_ENDPOINT_URL: spec.endpoint },
    },
  };
}

/** The settings that differ between the function as it is and as it should be. */
function configurationDrift(
  current: FunctionConfiguration,
  desired: ReturnType<typeof desiredConfiguration>,
): string[] {
  const drift: string[] = [];
  if (current.Runtime !== desired.Runtime) drift.push('runtime');
  if (current.Handler !== desired.Handler) drift.push('handler');
  if (current.Role !== desired.Role) drift.push('role');
  if (current.MemorySize !== desired.MemorySize) drift.push('memory');
  if (current.Timeout !== desired.Timeout) drift.push('timeout');
  if ((current.Description ?? '') !== desired.Description) drift.push('description');
  if (canonicalJson(current.Environment?.Variables ?? {}) !== canonicalJson(desired.Environment.Variables)) {
    drift.push('environment');
  }
  return drift;
}

/** Creates or updates the function; returns its ARN. */
async function ensureFunction(lambda: LambdaClient, spec: FunctionSpec): Promise<string> {
  const { functionName } = spec;
  const desired = desiredConfiguration(spec);
  const waiter = { client: lambda, maxWaitTime: spec.waitSeconds };
  const current = await getFunction(lambda, functionName);
  if (current === undefined) {
    const created = await createFunction(
      lambda,
      {
        ...desired,
        Code: { ZipFile: spec.zip },
        PackageType: 'Zip',
        Tags: runTags(spec.runId),
      },
      spec.roleWaitSeconds,
    );
    spec.changed.push(`function ${functionName} (created)`);
    await waitFor(() => waitUntilFunctionActiveV2(waiter, { FunctionName: functionName }), functionName);
    return created.FunctionArn ?? fail('Lambda.CreateFunction', functionName, 'no FunctionArn');
  }

  const owner = current.tags[RUN_ID_TAG];
  if (owner !== spec.runId) {
    throw new ConfigurationError(
      `a Lambda function named ${functionName} exists and is not tagged ${RUN_ID_TAG}=${spec.runId}` +
        `${owner === undefined ? '' : ` (it is tagged for run ${owner})`}: sluice will not take it over. ` +
        'Delete it, or tear down the run it belongs to.',
    );
  }
  if (current.configuration.CodeSha256 !== spec.sha) {
    await send(
      () => lambda.send(new UpdateFunctionCodeCommand({ FunctionName: functionName, ZipFile: spec.zip })),
      'Lambda.UpdateFunctionCode',
      functionName,
    );
    spec.changed.push(`function ${functionName} (code)`);
    // A configuration update while the code update is in progress is refused (ResourceConflictException).
    await waitFor(() => waitUntilFunctionUpdatedV2(waiter, { FunctionName: functionName }), functionName);
  }
  const drift = configurationDrift(current.configuration, desired);
  if (drift.length > 0) {
    await send(
      () => lambda.send(new UpdateFunctionConfigurationCommand(desired)),
      'Lambda.UpdateFunctionConfiguration',
      functionName,
    );
    spec.changed.push(`function ${functionName} (${drift.join(', ')})`);
    await waitFor(() => waitUntilFunctionUpdatedV2(waiter, { FunctionName: functionName }), functionName);
  }
  return current.configuration.FunctionArn ?? fail('Lambda.GetFunction', functionName, 'no FunctionArn');
}

/**
 * CreateFunction, waiting out IAM's propagation: a role made moments ago is refused for a few seconds
 * ("cannot be assumed by Lambda") before Lambda sees it.
 */
async function createFunction(
  lambda: LambdaClient,
  input: CreateFunctionCommandInput,
  roleWaitSeconds: number,
): Promise<{ FunctionArn?: string | undefined }> {
  const roleRefused = (thrown: unknown): boolean =>
    describeAwsError(thrown).code === 'InvalidParameterValueException' &&
    /cannot be assumed/i.test(toError(thrown).message);
  try {
    return await withRetries(() => lambda.send(new CreateFunctionCommand(input)), {
      retryOn: roleRefused,
      maxAttempts: Infinity,
      maxElapsedMs: roleWaitSeconds * 1000,
      baseDelayMs: 1000,
      maxDelayMs: 8000,
      jitter: 'none',
    });
  } catch (thrown: unknown) {
    if (!roleRefused(thrown))
      throw classifyAwsError(thrown, 'Lambda.CreateFunction', input.FunctionName ?? '');
    throw new ConfigurationError(
      `Lambda.CreateFunction on ${input.FunctionName ?? ''}: the role ${input.Role ?? ''} cannot be assumed by Lambda ` +
        `(still refused after ${roleWaitSeconds} s). Check that it exists and that its trust policy lets ` +
        'lambda.amazonaws.com assume it.',
      { cause: thrown },
    );
  }
}

async function getFunction(
  lambda: LambdaClient,
  functionName: string,
): Promise<{ configuration: FunctionConfiguration; tags: Record<string, string> } | undefined> {
  try {
    const found = await lambda.send(new GetFunctionCommand({ FunctionName: functionName }));
    if (found.Configuration === undefined) return undefined;
    return { configuration: found.Configuration, tags: found.Tags ?? {} };
  } catch (thrown: unknown) {
    if (isNotFound(thrown)) return undefined;
    throw classifyAwsError(thrown, 'Lambda.GetFunction', functionName);
  }
}

/** No retries of a failed scheduled invocation, and no stale ones: the next minute's run takes over. */
async function ensureInvokeConfig(
  lambda: LambdaClient,
  functionName: string,
  changed: string[],
): Promise<void> {
  const { asyncRetries, maxEventAgeSeconds } = WATCHER_FUNCTION_SETTINGS;
  let current: GetFunctionEventInvokeConfigCommandOutput | undefined;
  try {
    current = await lambda.send(new GetFunctionEventInvokeConfigCommand({ FunctionName: functionName }));
  } catch (thrown: unknown) {
    if (!isNotFound(thrown))
      throw classifyAwsError(thrown, 'Lambda.GetFunctionEventInvokeConfig', functionName);
  }
  if (
    current?.MaximumRetryAttempts === asyncRetries &&
    current.MaximumEventAgeInSeconds === maxEventAgeSeconds
  ) {
    return;
  }
  await send(
    () =>
      lambda.send(
        new PutFunctionEventInvokeConfigCommand({
          FunctionName: functionName,
          MaximumRetryAttempts: asyncRetries,
          MaximumEventAgeInSeconds: maxEventAgeSeconds,
        }),
      ),
    'Lambda.PutFunctionEventInvokeConfig',
    functionName,
  );
  changed.push(`function ${functionName} (no retries of a failed invocation)`);
}

/** Creates the schedule rule or brings it back to `rate(1 minute)`, enabled; returns its ARN. */
async function ensureRule(
  events: EventBridgeClient,
  ruleName: string,
  runId: string,
  changed: string[],
): Promise<string> {
  const current = await describeRule(events, ruleName);
  if (current !== undefined) {
    const tags = await send(
      () => events.send(new ListTagsForResourceCommand({ ResourceARN: current.arn })),
      'EventBridge.ListTagsForResource',
      ruleName,
    );
    const owner = tags.Tags?.find((tag) => tag.Key === RUN_ID_TAG)?.Value;
    if (owner !== runId) {
      throw new ConfigurationError(
        `an EventBridge rule named ${ruleName} exists and is not tagged ${RUN_ID_TAG}=${runId}: sluice will not ` +
          'take it over. Delete it, or tear down the run it belongs to.',
      );
    }
    if (current.schedule === WATCHER_SCHEDULE && current.state === 'ENABLED') return current.arn;
  }
  const put = await send(
    () =>
      events.send(
        new PutRuleCommand({
          Name: ruleName,
          ScheduleExpression: WATCHER_SCHEDULE,
          State: 'ENABLED',
          Description: `sluice: invokes the watcher of run ${runId} every minute`,
          // Tags apply when the rule is created; an existing rule keeps its own.
          Tags: Object.entries(runTags(runId)).map(([Key, Value]) => ({ Key, Value })),
        }),
      ),
    'EventBridge.PutRule',
    ruleName,
  );
  changed.push(`rule ${ruleName} (${current === undefined ? 'created' : 'schedule'})`);
  return put.RuleArn ?? fail('EventBridge.PutRule', ruleName, 'no RuleArn');
}

async function describeRule(
  events: EventBridgeClient,
  ruleName: string,
): Promise<{ arn: string; schedule: string | undefined; state: string | undefined } | undefined> {
  try {
    const rule = await events.send(new DescribeRuleCommand({ Name: ruleName }));
    return {
      arn: rule.Arn ?? fail('EventBridge.DescribeRule', ruleName, 'no Arn'),
      schedule: rule.ScheduleExpression,
      state: rule.State,
    };
  } catch (thrown: unknown) {
    if (isNotFound(thrown)) return undefined;
    throw classifyAwsError(thrown, 'EventBridge.DescribeRule', ruleName);
  }
}

/**
 * Lets the rule invoke the function. The policy is read first: AWS answers a repeated statement id
 * with ResourceConflictException, but moto appends a duplicate, so looking is what keeps it single.
 */
async function ensurePermission(
  lambda: LambdaClient,
  functionName: string,
  ruleArn: string,
  changed: string[],
): Promise<void> {
  const statement = (await policyStatements(lambda, functionName)).find(
    (entry) => entry.Sid === WATCHER_PERMISSION_ID,
  );
  if (statement !== undefined) {
    if (JSON.stringify(statement).includes(JSON.stringify(ruleArn))) return;
    // Granted to another rule ARN (another region or account): replace it.
    await send(
      () =>
        lambda.send(
          new RemovePermissionCommand({ FunctionName: functionName, StatementId: WATCHER_PERMISSION_ID }),
        ),
      'Lambda.RemovePermission',
      functionName,
    );
  }
  try {
    await lambda.send(
      new AddPermissionCommand({
        FunctionName: functionName,
        StatementId: WATCHER_PERMISSION_ID,
        Action: 'lambda:InvokeFunction',
        Principal: 'events.amazonaws.com',
        SourceArn: ruleArn,
      }),
    );
    changed.push(`permission ${WATCHER_PERMISSION_ID} on ${functionName}`);
  } catch (thrown: unknown) {
    // Added meanwhile by a concurrent ensure: the permission is there, which is what was wanted.
    if (describeAwsError(thrown).code === 'ResourceConflictException') return;
    throw classifyAwsError(thrown, 'Lambda.AddPermission', functionName);
  }
}

async function policyStatements(
  lambda: LambdaClient,
  functionName: string,
): Promise<{ Sid?: unknown; [key: string]: unknown }[]> {
  try {
    const { Policy } = await lambda.send(new GetPolicyCommand({ FunctionName: functionName }));
    const parsed = JSON.parse(Policy ?? '{}') as { Statement?: unknown };
    return Array.isArray(parsed.Statement) ? (parsed.Statement as { Sid?: unknown }[]) : [];
  } catch (thrown: unknown) {
    // A function with no resource policy yet answers ResourceNotFoundException.
    if (isNotFound(thrown)) return [];
    throw classifyAwsError(thrown, 'Lambda.GetPolicy', functionName);
  }
}

async function ensureTarget(
  events: EventBridgeClient,
  ruleName: string,
  functionArn: string,
  input: string,
  changed: string[],
): Promise<void> {
  const listed = await send(
    () => events.send(new ListTargetsByRuleCommand({ Rule: ruleName })),
    'EventBridge.ListTargetsByRule',
    ruleName,
  );
  const current = listed.Targets?.find((target) => target.Id === WATCHER_TARGET_ID);
  if (current?.Arn === functionArn && current.Input === input) return;
  const put = await send(
    () =>
      events.send(
        new PutTargetsCommand({
          Rule: ruleName,
          Targets: [{ Id: WATCHER_TARGET_ID, Arn: functionArn, Input: input }],
        }),
      ),
    'EventBridge.PutTargets',
    ruleName,
  );
  const failed = put.FailedEntries?.[0];
  if ((put.FailedEntryCount ?? 0) > 0 && failed !== undefined) {
    throw new InfrastructureError(
      `EventBridge.PutTargets on ${ruleName} failed: ${failed.ErrorCode ?? 'Unknown'}: ${failed.ErrorMessage ?? ''}`,
    );
  }
  changed.push(
    `target ${WATCHER_TARGET_ID} on rule ${ruleName} (${current === undefined ? 'created' : 'input'})`,
  );
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
    const tags = await send(
      () => events.send(new ListTagsForResourceCommand({ ResourceARN: rule.arn })),
      'EventBridge.ListTagsForResource',
      ruleName,
    );
    if (tags.Tags?.find((tag) => tag.Key === RUN_ID_TAG)?.Value !== runId) {
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

async function removeRule(events: EventBridgeClient, ruleName: string): Promise<void> {
  try {
    // A rule with targets cannot be deleted; a rule has at most 5 targets, so one page holds them.
    const listed = await events.send(new ListTargetsByRuleCommand({ Rule: ruleName }));
    const ids = (listed.Targets ?? [])
      .map((target) => target.Id)
      .filter((id): id is string => id !== undefined);
    if (ids.length > 0) await events.send(new RemoveTargetsCommand({ Rule: ruleName, Ids: ids }));
    await events.send(new DeleteRuleCommand({ Name: ruleName }));
  } catch (thrown: unknown) {
    if (isNotFound(thrown)) return;
    throw classifyAwsError(thrown, 'EventBridge.DeleteRule', ruleName);
  }
}

function isNotFound(thrown: unknown): boolean {
  return describeAwsError(thrown).code === 'ResourceNotFoundException';
}

async function send<T>(call: () => Promise<T>, operation: string, target: string): Promise<T> {
  try {
    return await call();
  } catch (thrown: unknown) {
    throw classifyAwsError(thrown, operation, target);
  }
}

async function waitFor(wait: () => Promise<unknown>, functionName: string): Promise<void> {
  try {
    await wait();
  } catch (thrown: unknown) {
    throw new InfrastructureError(
      `Lambda function ${functionName} did not become ready: ${describeAwsError(thrown).code}. Ensure again to resume.`,
      { cause: thrown },
    );
  }
}

function fail(operation: string, target: string, what: string): never {
  throw new InfrastructureError(`${operation} on ${target} returned ${what}`);
}

// The watcher's Lambda function: created or brought up to date (code by its SHA-256, settings by
// drift), its asynchronous invocations never retried, and the permission that lets its schedule
// invoke it.
import {
  AddPermissionCommand,
  CreateFunctionCommand,
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

import { ConfigurationError, InfrastructureError, toError } from '../errors.js';
import { classifyAwsError, describeAwsError } from '../aws/errors.js';
import { withRetries } from '../aws/retry.js';
import { canonicalJson } from '../ids/canonical-json.js';
import { RUN_ID_TAG, runTags } from '../ids/run-names.js';
import { fail, isNotFound, send } from './watcher-calls.js';

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

/** The Sid of the permission letting the schedule rule invoke the function. */
export const WATCHER_PERMISSION_ID = 'sluice-watch-schedule';

/** What {@link ensureFunction} makes: the function's name, code and settings, and where to note a change. */
export interface FunctionSpec {
  readonly functionName: string;
  readonly runId: string;
  readonly roleArn: string;
  readonly zip: Uint8Array;
  readonly sha: string;
  readonly endpoint: string | undefined;
  readonly waitSeconds: number;
  readonly roleWaitSeconds: number;
  readonly changed: string[];
  /** Another function of the run from the same bundle (the broker): its handler, size, limit and variables. */
  readonly settings?: {
    readonly description: string;
    readonly handler: string;
    readonly memoryMiB: number;
    readonly timeoutSeconds: number;
    readonly variables: Readonly<Record<string, string>>;
  };
}

function desiredConfiguration(spec: FunctionSpec) {
  const endpoint = spec.endpoint === undefined ? {} : { AWS_ENDPOINT_URL: spec.endpoint };
  return {
    FunctionName: spec.functionName,
    Description:
      spec.settings?.description ??
      `sluice watcher of run ${spec.runId}: starts runner tasks while its queue has work`,
    Runtime: WATCHER_FUNCTION_SETTINGS.runtime,
    Handler: spec.settings?.handler ?? WATCHER_FUNCTION_SETTINGS.handler,
    Role: spec.roleArn,
    MemorySize: spec.settings?.memoryMiB ?? WATCHER_FUNCTION_SETTINGS.memoryMiB,
    Timeout: spec.settings?.timeoutSeconds ?? WATCHER_FUNCTION_SETTINGS.timeoutSeconds,
    Environment: { Variables: { ...spec.settings?.variables, ...endpoint } },
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

/**
 * Creates the function or updates its code (when the SHA-256 differs) and settings (when one drifts);
 * refuses a function of that name not tagged for the run.
 *
 * @example
 * const functionArn = await ensureFunction(lambda, { functionName, runId, roleArn, zip, sha, ... });
 * @throws {ConfigurationError} when the function belongs to something else or Lambda cannot assume
 *   the role; InfrastructureError when it does not become ready; AwsRequestError for AWS faults.
 */
export async function ensureFunction(lambda: LambdaClient, spec: FunctionSpec): Promise<string> {
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

/**
 * The function's configuration and tags, or undefined when there is none of that name.
 *
 * @example
 * const fn = await getFunction(lambda, 'sluice-thumbs-3f9a0c12-watch');
 * @throws ConfigurationError or AwsRequestError for a failed call other than not-found.
 */
export async function getFunction(
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

/**
 * No retries of a failed scheduled invocation, and no stale ones: the next minute's run takes over.
 *
 * @example
 * await ensureInvokeConfig(lambda, functionName, changed);
 * @throws ConfigurationError or AwsRequestError for a failed call.
 */
export async function ensureInvokeConfig(
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

/**
 * Lets the rule invoke the function. The policy is read first: AWS answers a repeated statement id
 * with ResourceConflictException, but moto appends a duplicate, so looking is what keeps it single.
 *
 * @example
 * await ensurePermission(lambda, functionName, ruleArn, changed);
 * @throws ConfigurationError or AwsRequestError for a failed call.
 */
export async function ensurePermission(
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

// Sealed mode's broker on AWS: one Lambda function per run (`sluice-<run-id>-broker`, from the same
// bundle as the watcher, handler `index.brokerHandler`) behind a function URL with IAM auth. The
// runners' task role may call that URL and nothing else; the function's role holds the run's S3 and
// SQS access. Its environment carries the run's control settings and the run's broker key, which signs
// the lease tokens: the key is kept across re-provisions, so tokens already handed out stay valid.
import {
  CreateFunctionUrlConfigCommand,
  DeleteFunctionCommand,
  GetFunctionUrlConfigCommand,
  UpdateFunctionUrlConfigCommand,
  type LambdaClient,
} from '@aws-sdk/client-lambda';

import { newBrokerKey } from '../broker/lease-token.js';
import type { ControlSettings } from '../broker/control-settings.js';
import { SluiceError } from '../errors.js';
import { silentLogger, type Logger } from '../logging/logger.js';
import { classifyAwsError } from '../aws/errors.js';
import { RUN_ID_PATTERN } from '../ids/run-id.js';
import { RUN_ID_TAG } from '../ids/run-names.js';
import { fail, isNotFound, send } from './watcher-calls.js';
import { ensureFunction, getFunction } from './watcher-function.js';
import { codeSha256 } from './watcher-package.js';

/** The variable holding the broker's control settings (JSON of {@link BrokerFunctionSettings}). */
export const BROKER_SETTINGS_VARIABLE = 'SLUICE_BROKER';
/** The variable holding the run's broker key (`newBrokerKey`), which signs lease tokens. */
export const BROKER_KEY_VARIABLE = 'SLUICE_BROKER_KEY';

/**
 * The broker function's settings. Timeout: a lease long-polls up to 20 s and a commit may wait up to
 * 30 s for another worker's claim, so 90 s leaves room for both and S3's slowest answers.
 */
export const BROKER_FUNCTION_SETTINGS = {
  handler: 'index.brokerHandler',
  memoryMiB: 512,
  timeoutSeconds: 90,
  authType: 'AWS_IAM',
} as const;

/**
 * What the broker function needs of the run: the task control's settings, as a runner's, without the
 * algorithm's variables (the broker never runs the algorithm, and its environment is readable by
 * whoever may read the function's configuration).
 */
export type BrokerFunctionSettings = ControlSettings;

/**
 * The broker function's name: `sluice-<run-id>-broker` (at most 52 characters; Lambda allows 64).
 *
 * @example
 * brokerFunctionName('thumbs-3f9a0c12'); // 'sluice-thumbs-3f9a0c12-broker'
 * @throws {SluiceError} when the run id is malformed.
 */
export function brokerFunctionName(runId: string): string {
  if (!RUN_ID_PATTERN.test(runId)) {
    throw new SluiceError(`"${runId}" is not a run id (expected a slug, "-" and 8 hex digits)`);
  }
  return `sluice-${runId}-broker`;
}

/** Options of {@link ensureBroker}. */
export interface EnsureBrokerOptions {
  readonly runId: string;
  readonly settings: BrokerFunctionSettings;
  /** The broker's role (its run's S3 and SQS access, `brokerRolePolicy`). */
  readonly roleArn: string;
  /** The Lambda bundle's deployment package (the watcher's: one bundle, two handlers). */
  readonly zip: Uint8Array;
  /** `AWS_ENDPOINT_URL` for the function, only when the run uses a custom endpoint (moto, LocalStack). */
  readonly endpoint?: string;
  readonly logger?: Logger;
  readonly waitSeconds?: number;
  readonly roleWaitSeconds?: number;
}

/** What {@link ensureBroker} deployed. */
export interface BrokerDeployment {
  readonly functionName: string;
  readonly functionArn: string;
  /** The function URL, `https://<id>.lambda-url.<region>.on.aws/`. */
  readonly url: string;
  readonly changed: readonly string[];
}

/**
 * Deploys a run's broker, idempotently: the function `sluice-<run-id>-broker` (created, or brought
 * up to date like the watcher's) and its function URL with `AWS_IAM` auth (created, or set back to
 * IAM auth when someone changed it). The run's broker key is read from the function when it exists,
 * else made.
 *
 * @example
 * const { url } = await ensureBroker(lambda, { runId, settings, roleArn: arns.broker, zip });
 * @throws {ConfigurationError} when a function of that name belongs to something else, Lambda cannot
 *   assume the role, or access is denied; AwsRequestError for faults (provision again).
 */
export async function ensureBroker(
  lambda: LambdaClient,
  options: EnsureBrokerOptions,
): Promise<BrokerDeployment> {
  const { runId } = options;
  const functionName = brokerFunctionName(runId);
  const changed: string[] = [];
  const current = await getFunction(lambda, functionName);
  const kept =
    current?.tags[RUN_ID_TAG] === runId
      ? current.configuration.Environment?.Variables?.[BROKER_KEY_VARIABLE]
      : undefined;
  const key = kept ?? newBrokerKey();
  const functionArn = await ensureFunction(lambda, {
    functionName,
    runId,
    roleArn: options.roleArn,
    zip: options.zip,
    sha: codeSha256(options.zip),
    endpoint: options.endpoint,
    waitSeconds: options.waitSeconds ?? 300,
    roleWaitSeconds: options.roleWaitSeconds ?? 60,
    changed,
    settings: {
      description: `sluice broker of run ${runId}: leases tasks to the run's runners and commits their results`,
      handler: BROKER_FUNCTION_SETTINGS.handler,
      memoryMiB: BROKER_FUNCTION_SETTINGS.memoryMiB,
      timeoutSeconds: BROKER_FUNCTION_SETTINGS.timeoutSeconds,
      variables: {
        [BROKER_SETTINGS_VARIABLE]: JSON.stringify(options.settings),
        [BROKER_KEY_VARIABLE]: key,
      },
    },
  });
  const url = await ensureFunctionUrl(lambda, functionName, changed);
  const logger = options.logger ?? silentLogger;
  logger.info(
    changed.length > 0
      ? `run ${runId}: broker ${functionName}: ${changed.join(', ')}`
      : `run ${runId}: broker ${functionName} is up to date`,
  );
  return { functionName, functionArn, url, changed };
}

async function ensureFunctionUrl(
  lambda: LambdaClient,
  functionName: string,
  changed: string[],
): Promise<string> {
  const { authType } = BROKER_FUNCTION_SETTINGS;
  let current: { FunctionUrl?: string | undefined; AuthType?: string | undefined } | undefined;
  try {
    current = await lambda.send(new GetFunctionUrlConfigCommand({ FunctionName: functionName }));
  } catch (thrown: unknown) {
    if (!isNotFound(thrown)) throw classifyAwsError(thrown, 'Lambda.GetFunctionUrlConfig', functionName);
  }
  if (current === undefined) {
    const created = await send(
      () =>
        lambda.send(new CreateFunctionUrlConfigCommand({ FunctionName: functionName, AuthType: authType })),
      'Lambda.CreateFunctionUrlConfig',
      functionName,
    );
    changed.push(`function URL of ${functionName} (created, IAM auth)`);
    return created.FunctionUrl ?? fail('Lambda.CreateFunctionUrlConfig', functionName, 'no FunctionUrl');
  }
  if (current.AuthType !== authType) {
    await send(
      () =>
        lambda.send(new UpdateFunctionUrlConfigCommand({ FunctionName: functionName, AuthType: authType })),
      'Lambda.UpdateFunctionUrlConfig',
      functionName,
    );
    changed.push(`function URL of ${functionName} (back to IAM auth)`);
  }
  return current.FunctionUrl ?? fail('Lambda.GetFunctionUrlConfig', functionName, 'no FunctionUrl');
}

/**
 * Removes a run's broker function (its URL goes with it). Only a function tagged with the run id is
 * deleted; idempotent.
 *
 * @example
 * const { deleted } = await removeBroker(lambda, 'thumbs-3f9a0c12');
 * @throws {ConfigurationError} when access is denied; AwsRequestError for faults (remove again).
 */
export async function removeBroker(
  lambda: LambdaClient,
  runId: string,
): Promise<{ deleted: string[]; kept: string[] }> {
  const functionName = brokerFunctionName(runId);
  const fn = await getFunction(lambda, functionName);
  if (fn === undefined) return { deleted: [], kept: [] };
  if (fn.tags[RUN_ID_TAG] !== runId) {
    return { deleted: [], kept: [`function ${functionName} (not tagged ${RUN_ID_TAG}=${runId})`] };
  }
  try {
    await lambda.send(new DeleteFunctionCommand({ FunctionName: functionName }));
  } catch (thrown: unknown) {
    if (!isNotFound(thrown)) throw classifyAwsError(thrown, 'Lambda.DeleteFunction', functionName);
    return { deleted: [], kept: [] };
  }
  return { deleted: [`function ${functionName} and its URL`], kept: [] };
}

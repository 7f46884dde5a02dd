// A run's CloudWatch Logs group: where its runner tasks' awslogs streams go, one group per run so
// retention and teardown are per run, and so a task's log can be linked from records and summaries.
import {
  CreateLogGroupCommand,
  DeleteLogGroupCommand,
  PutRetentionPolicyCommand,
  type CloudWatchLogsClient,
} from '@aws-sdk/client-cloudwatch-logs';
import type { LogConfiguration } from '@aws-sdk/client-ecs';

import { silentLogger, type Logger } from '../logging/logger.js';
import { runTags } from '../ids/run-names.js';
import { classifyAwsError, describeAwsError } from '../aws/errors.js';
import { ALGORITHM_CONTAINER } from './task-definition.js';

/** Days a run's logs are kept unless asked otherwise (a value CloudWatch Logs accepts). */
export const RUN_LOG_RETENTION_DAYS = 30;

/**
 * The log group of a run's tasks: `/sluice/runs/<run-id>`.
 *
 * @example
 * runLogGroupName('thumbs-3f9a0c12'); // '/sluice/runs/thumbs-3f9a0c12'
 * @throws never.
 */
export function runLogGroupName(runId: string): string {
  return `/sluice/runs/${runId}`;
}

/**
 * The awslogs configuration of a run's `algorithm` container: the run's group, its region, and the run
 * id as stream prefix, so a task's stream is `<run-id>/algorithm/<task-id>`.
 *
 * @example
 * runLogConfiguration('thumbs-3f9a0c12', 'eu-west-1').options?.['awslogs-group']; // '/sluice/runs/thumbs-3f9a0c12'
 * @throws never.
 */
export function runLogConfiguration(runId: string, region: string): LogConfiguration {
  return {
    logDriver: 'awslogs',
    options: {
      'awslogs-group': runLogGroupName(runId),
      'awslogs-region': region,
      'awslogs-stream-prefix': runId,
    },
  };
}

/** The task id of a task ARN (`…:task/<cluster>/<id>` or `…:task/<id>`), or the id itself. */
function taskIdOf(task: string): string {
  return task.slice(task.lastIndexOf('/') + 1);
}

/**
 * The awslogs stream of one task's container: `<prefix>/<container>/<task-id>` (how the awslogs
 * driver names it on ECS).
 *
 * @example
 * taskLogStreamName('thumbs-3f9a0c12', 'arn:aws:ecs:eu-west-1:123456789012:task/sluice/0f1e2d'); // 'thumbs-3f9a0c12/algorithm/0f1e2d'
 * @throws never.
 */
export function taskLogStreamName(
  streamPrefix: string,
  task: string,
  container: string = ALGORITHM_CONTAINER,
): string {
  return `${streamPrefix}/${container}/${taskIdOf(task)}`;
}

/** Where to read a task's log. */
export interface TaskLogLink {
  readonly logGroup: string;
  readonly logStream: string;
  /** The CloudWatch console page of the stream. */
  readonly consoleUrl: string;
  /** The same with the AWS CLI. */
  readonly command: string;
}

/** The console's host for a region's partition. */
function consoleHost(region: string): string {
  if (region.startsWith('cn-')) return `${region}.console.amazonaws.cn`;
  if (region.startsWith('us-gov-')) return `${region}.console.amazonaws-us-gov.com`;
  return `${region}.console.aws.amazon.com`;
}

/** The console's encoding of a path part in its `#logsV2:` fragment: URL-encoded twice, `%` as `$`. */
function consoleEncode(text: string): string {
  return encodeURIComponent(encodeURIComponent(text)).replace(/%/g, '$');
}

/**
 * Where to read the log of a run's task: the CloudWatch console page of its stream and the `aws logs`
 * command that prints it, for records and summaries to link to.
 *
 * @example
 * taskLogLink({ region: 'eu-west-1', runId: 'thumbs-3f9a0c12', task: 'arn:aws:ecs:eu-west-1:123456789012:task/sluice/0f1e2d' }).consoleUrl;
 * // 'https://eu-west-1.console.aws.amazon.com/cloudwatch/home?region=eu-west-1#logsV2:log-groups/log-group/$252Fsluice$252Fruns$252Fthumbs-3f9a0c12/log-events/thumbs-3f9a0c12$252Falgorithm$252F0f1e2d'
 * @throws never.
 */
export function taskLogLink(options: {
  readonly region: string;
  readonly runId: string;
  /** The task's ARN or id. */
  readonly task: string;
  readonly container?: string;
}): TaskLogLink {
  const logGroup = runLogGroupName(options.runId);
  const logStream = taskLogStreamName(options.runId, options.task, options.container);
  const { region } = options;
  return {
    logGroup,
    logStream,
    consoleUrl:
      `https://${consoleHost(region)}/cloudwatch/home?region=${region}#logsV2:log-groups/log-group/` +
      `${consoleEncode(logGroup)}/log-events/${consoleEncode(logStream)}`,
    command: `aws logs get-log-events --region ${region} --log-group-name '${logGroup}' --log-stream-name '${logStream}'`,
  };
}

/**
 * The CloudWatch console page of a run's log group, for summaries.
 *
 * @example
 * runLogGroupLink({ region: 'eu-west-1', runId: 'thumbs-3f9a0c12' }).logGroup; // '/sluice/runs/thumbs-3f9a0c12'
 * @throws never.
 */
export function runLogGroupLink(options: { readonly region: string; readonly runId: string }): {
  readonly logGroup: string;
  readonly consoleUrl: string;
} {
  const logGroup = runLogGroupName(options.runId);
  const { region } = options;
  return {
    logGroup,
    consoleUrl: `https://${consoleHost(region)}/cloudwatch/home?region=${region}#logsV2:log-groups/log-group/${consoleEncode(logGroup)}`,
  };
}

/**
 * The S3 console page of one object, for summaries.
 *
 * @example
 * s3ObjectConsoleUrl({ region: 'eu-west-1', bucket: 'out', key: '_sluice/r-1/results.json' });
 * // 'https://eu-west-1.console.aws.amazon.com/s3/object/out?region=eu-west-1&prefix=_sluice%2Fr-1%2Fresults.json'
 */
export function s3ObjectConsoleUrl(options: {
  readonly region: string;
  readonly bucket: string;
  readonly key: string;
}): string {
  const { region, bucket, key } = options;
  return `https://${consoleHost(region)}/s3/object/${encodeURIComponent(bucket)}?region=${region}&prefix=${encodeURIComponent(key)}`;
}

/**
 * A run's log group on CloudWatch Logs: created (tagged with the run, with a retention) at provisioning,
 * deleted at teardown.
 *
 * @example
 * const logs = new RunLogGroups(new CloudWatchLogsClient({ region }), logger);
 * await logs.ensure('thumbs-3f9a0c12');   // { name: '/sluice/runs/thumbs-3f9a0c12', created: true }
 * await logs.delete('thumbs-3f9a0c12');   // true
 * @throws {ConfigurationError} when denied; AwsRequestError for faults.
 */
export class RunLogGroups {
  constructor(
    private readonly client: CloudWatchLogsClient,
    private readonly logger: Logger = silentLogger,
  ) {}

  /**
   * Creates the run's log group, or reuses it, and sets its retention (also on a reused group).
   *
   * @example
   * await logs.ensure('thumbs-3f9a0c12', { retentionDays: 7 });
   * @throws {ConfigurationError} when denied or the retention is not one CloudWatch accepts; AwsRequestError for faults.
   */
  async ensure(
    runId: string,
    options: { readonly retentionDays?: number } = {},
  ): Promise<{ name: string; created: boolean }> {
    const name = runLogGroupName(runId);
    let created = true;
    try {
      await this.client.send(new CreateLogGroupCommand({ logGroupName: name, tags: runTags(runId) }));
    } catch (thrown: unknown) {
      if (describeAwsError(thrown).code !== 'ResourceAlreadyExistsException') {
        throw classifyAwsError(thrown, 'Logs.CreateLogGroup', name);
      }
      created = false;
    }
    try {
      await this.client.send(
        new PutRetentionPolicyCommand({
          logGroupName: name,
          retentionInDays: options.retentionDays ?? RUN_LOG_RETENTION_DAYS,
        }),
      );
    } catch (thrown: unknown) {
      throw classifyAwsError(thrown, 'Logs.PutRetentionPolicy', name);
    }
    if (created) this.logger.info(`created log group ${name}`);
    return { name, created };
  }

  /**
   * Deletes the run's log group and its streams. Idempotent: false when there was none.
   *
   * @example
   * const deleted = await logs.delete('thumbs-3f9a0c12');
   * @throws {ConfigurationError} when denied; AwsRequestError for faults.
   */
  async delete(runId: string): Promise<boolean> {
    const name = runLogGroupName(runId);
    try {
      await this.client.send(new DeleteLogGroupCommand({ logGroupName: name }));
    } catch (thrown: unknown) {
      if (describeAwsError(thrown).code === 'ResourceNotFoundException') return false;
      throw classifyAwsError(thrown, 'Logs.DeleteLogGroup', name);
    }
    this.logger.info(`deleted log group ${name}`);
    return true;
  }
}

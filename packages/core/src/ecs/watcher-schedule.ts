// The watcher's schedule: the EventBridge rule that fires every minute and its one target, the
// function with the run's event as Input.
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

import { ConfigurationError, InfrastructureError } from '../errors.js';
import { classifyAwsError } from '../aws/errors.js';
import { RUN_ID_TAG, runTags } from '../ids/run-names.js';
import { fail, isNotFound, send } from './watcher-calls.js';

/** How often the schedule invokes the watcher (EventBridge's shortest rate). */
export const WATCHER_SCHEDULE = 'rate(1 minute)';

/** The Id of the watcher's target on its rule. */
export const WATCHER_TARGET_ID = 'sluice-watcher';

/**
 * Creates the schedule rule or brings it back to `rate(1 minute)`, enabled; returns its ARN.
 *
 * @example
 * const ruleArn = await ensureRule(events, 'sluice-thumbs-3f9a0c12-watch', 'thumbs-3f9a0c12', changed);
 * @throws {ConfigurationError} when a rule of that name is not tagged for the run; AwsRequestError
 *   for AWS faults.
 */
export async function ensureRule(
  events: EventBridgeClient,
  ruleName: string,
  runId: string,
  changed: string[],
): Promise<string> {
  const current = await describeRule(events, ruleName);
  if (current !== undefined) {
    const owner = await ruleRunId(events, ruleName, current.arn);
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

/**
 * The rule's ARN, schedule and state, or undefined when there is none of that name.
 *
 * @example
 * const rule = await describeRule(events, 'sluice-thumbs-3f9a0c12-watch');
 * @throws ConfigurationError or AwsRequestError for a failed call other than not-found.
 */
export async function describeRule(
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
 * Points the rule's one target at the function with the run's event as its constant Input.
 *
 * @example
 * await ensureTarget(events, ruleName, functionArn, canonicalJson(event), changed);
 * @throws {InfrastructureError} when EventBridge reports the target failed; AwsRequestError for faults.
 */
export async function ensureTarget(
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

/**
 * The `sluice:run-id` tag of a rule: who it belongs to (undefined when untagged).
 *
 * @example
 * if ((await ruleRunId(events, ruleName, rule.arn)) !== runId) kept.push(ruleName);
 * @throws ConfigurationError or AwsRequestError for a failed call.
 */
export async function ruleRunId(
  events: EventBridgeClient,
  ruleName: string,
  ruleArn: string,
): Promise<string | undefined> {
  const tags = await send(
    () => events.send(new ListTagsForResourceCommand({ ResourceARN: ruleArn })),
    'EventBridge.ListTagsForResource',
    ruleName,
  );
  return tags.Tags?.find((tag) => tag.Key === RUN_ID_TAG)?.Value;
}

/**
 * Removes the rule's targets, then the rule; one already gone is skipped.
 *
 * @example
 * await removeRule(events, 'sluice-thumbs-3f9a0c12-watch');
 * @throws ConfigurationError or AwsRequestError for a failed call other than not-found.
 */
export async function removeRule(events: EventBridgeClient, ruleName: string): Promise<void> {
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

// How the watcher's deployment calls AWS: one classification of a failed call, and the two answers
// both halves of it (the Lambda function, the EventBridge schedule) read the same way.
import { InfrastructureError } from '../errors.js';
import { classifyAwsError, describeAwsError } from '../aws/errors.js';

/**
 * Whether Lambda or EventBridge answered that the thing named does not exist.
 *
 * @example
 * if (isNotFound(thrown)) return undefined;
 * @throws never.
 */
export function isNotFound(thrown: unknown): boolean {
  return describeAwsError(thrown).code === 'ResourceNotFoundException';
}

/**
 * Makes one AWS call, classifying its failure with the operation and what it acted on.
 *
 * @example
 * await send(() => events.send(new DeleteRuleCommand({ Name })), 'EventBridge.DeleteRule', Name);
 * @throws ConfigurationError or AwsRequestError, from {@link classifyAwsError}.
 */
export async function send<T>(call: () => Promise<T>, operation: string, target: string): Promise<T> {
  try {
    return await call();
  } catch (thrown: unknown) {
    throw classifyAwsError(thrown, operation, target);
  }
}

/**
 * Fails on an answer that lacks what AWS always returns (an ARN after a create).
 *
 * @example
 * return put.RuleArn ?? fail('EventBridge.PutRule', ruleName, 'no RuleArn');
 * @throws {InfrastructureError} always.
 */
export function fail(operation: string, target: string, what: string): never {
  throw new InfrastructureError(`${operation} on ${target} returned ${what}`);
}

// A job's variables on ECS: `{"fromSecret": …}` values become the run task definition's container
// `secrets` (ECS reads them when the task starts), literals travel in SLUICE_RUN.
import { ConfigurationError, jobProblem } from '../errors.js';
import type { Job } from '../schemas/job.js';

/** Where an ARN is: its partition, region and account (`arn:<partition>:<service>:<region>:<account>:…`). */
export interface ArnContext {
  readonly partition: string;
  readonly region: string;
  readonly account: string;
}

/**
 * The partition, region and account of an ARN; an IAM role's ARN has no region, so `region` is
 * taken from the argument.
 *
 * @example
 * arnContext('arn:aws:iam::123456789012:role/sluice-x-execution', 'eu-west-1'); // { partition: 'aws', region: 'eu-west-1', account: '123456789012' }
 * @throws {ConfigurationError} when it is not an ARN with an account.
 */
export function arnContext(arn: string, region: string): ArnContext {
  const match = /^arn:([a-z-]+):[a-z0-9-]+:([a-z0-9-]*):([0-9]{12}):/.exec(arn);
  if (match === null) {
    throw new ConfigurationError(
      `"${arn}" is not an ARN with an account id (arn:aws:iam::123456789012:role/…)`,
    );
  }
  return { partition: match[1] ?? 'aws', region: match[2] || region, account: match[3] ?? '' };
}

const SECRET_NAME = /^[A-Za-z0-9/_+=.@-]{1,512}$/;
const SECRET_ARN = /^arn:[a-z-]+:(secretsmanager|ssm):[a-z0-9-]+:[0-9]{12}:(secret:|parameter\/)/;

/**
 * The `valueFrom` of a container secret for a job's `{"fromSecret": reference}`: a Secrets Manager
 * or SSM Parameter Store ARN is used as it is (with a Secrets Manager JSON key or version suffix, if
 * any); a name is a Secrets Manager secret in the run's account and region, written as the partial
 * ARN `arn:<partition>:secretsmanager:<region>:<account>:secret:<name>` — Secrets Manager resolves an
 * ARN without its random 6-character suffix, and ECS wants an ARN for Secrets Manager (a bare name only
 * works for SSM parameters). An SSM parameter is therefore always given by its ARN.
 *
 * @example
 * secretValueFrom('watermark/token', { partition: 'aws', region: 'eu-west-1', account: '123456789012' });
 * // 'arn:aws:secretsmanager:eu-west-1:123456789012:secret:watermark/token'
 * @throws {ConfigurationError} when the reference is neither such an ARN nor a valid secret name.
 */
export function secretValueFrom(reference: string, context: ArnContext): string {
  if (reference.startsWith('arn:')) {
    if (!SECRET_ARN.test(reference)) {
      throw new ConfigurationError(
        `job.json: {"fromSecret": "${reference}"} is an ARN of neither a Secrets Manager secret (arn:aws:secretsmanager:…:secret:NAME) nor an SSM parameter (arn:aws:ssm:…:parameter/NAME)`,
      );
    }
    return reference;
  }
  if (!SECRET_NAME.test(reference)) {
    throw new ConfigurationError(
      `job.json: {"fromSecret": "${reference}"} is not a Secrets Manager secret name (letters, digits and /_+=.@-, at most 512): write the name or the secret's ARN`,
    );
  }
  return `arn:${context.partition}:secretsmanager:${context.region}:${context.account}:secret:${reference}`;
}

/** A job's variables as the ECS backend hands them over. */
export interface EcsRunnerVariables {
  /** Literal values: `RunnerConfig.env`. */
  readonly env: Record<string, string>;
  /** Names of the `fromSecret` variables: `RunnerConfig.secretEnv`, so the runner masks them. */
  readonly secretEnv: string[];
  /** Variable name → the job's `fromSecret` reference (name or ARN): the run task definition's secrets. */
  readonly secrets: Record<string, string>;
}

/**
 * Splits a job's `env` for ECS: literals go into SLUICE_RUN, `fromSecret` references into the run task
 * definition's `secrets` (ECS reads them with the execution role when the task starts).
 *
 * @example
 * ecsRunnerVariables({ SIZE: '256', TOKEN: { fromSecret: 'watermark/token' } });
 * // { env: { SIZE: '256' }, secretEnv: ['TOKEN'], secrets: { TOKEN: 'watermark/token' } }
 * @throws {ConfigurationError} for a `{"fromEnv": …}` value: on ECS the value would have to travel as
 *   plain environment in the RunTask request (visible to anyone who may DescribeTasks); the message
 *   says to store it in Secrets Manager and use `fromSecret`.
 */
export function ecsRunnerVariables(env: Job['env']): EcsRunnerVariables {
  const literals: Record<string, string> = {};
  const secretEnv: string[] = [];
  const secrets: Record<string, string> = {};
  for (const [name, value] of Object.entries(env)) {
    if (typeof value === 'string') literals[name] = value;
    else if ('fromSecret' in value) {
      secretEnv.push(name);
      secrets[name] = value.fromSecret;
    } else {
      throw jobProblem(
        `$.env.${name}`,
        `{"fromEnv": "${value.fromEnv}"} cannot be handed to ECS workers without putting the value in plain task environment`,
        'Store it in AWS Secrets Manager (aws secretsmanager create-secret --name NAME --secret-string …) and write {"fromSecret": "NAME"}.',
      );
    }
  }
  return { env: literals, secretEnv: secretEnv.sort(), secrets };
}

// Which variables the algorithm never inherits: a rule the runner configuration's schema checks
// (a job may not set them) and the runner applies (execution/environment.ts).

/**
 * Variables that carry or locate AWS credentials. The algorithm never receives them: in direct mode
 * the runner holds the task role; in sealed mode nobody in the container does.
 */
const CREDENTIAL_VARIABLES = new Set([
  'AWS_ACCESS_KEY_ID',
  'AWS_SECRET_ACCESS_KEY',
  'AWS_SESSION_TOKEN',
  'AWS_SECURITY_TOKEN',
  'AWS_CREDENTIAL_EXPIRATION',
  'AWS_PROFILE',
  'AWS_DEFAULT_PROFILE',
  'AWS_SHARED_CREDENTIALS_FILE',
  'AWS_CONFIG_FILE',
  'AWS_ROLE_ARN',
  'AWS_ROLE_SESSION_NAME',
  'AWS_WEB_IDENTITY_TOKEN_FILE',
  'AWS_CONTAINER_CREDENTIALS_RELATIVE_URI',
  'AWS_CONTAINER_CREDENTIALS_FULL_URI',
  'AWS_CONTAINER_AUTHORIZATION_TOKEN',
  'AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE',
  'AWS_EC2_METADATA_SERVICE_ENDPOINT',
  'ECS_CONTAINER_METADATA_URI',
  'ECS_CONTAINER_METADATA_URI_V4',
]);

/** `AWS_ENDPOINT_URL` and `AWS_ENDPOINT_URL_<SERVICE>`: where the runner's AWS is, none of the algorithm's business. */
const ENDPOINT_VARIABLE_PREFIX = 'AWS_ENDPOINT_URL';

/** Prefix of the runner's own settings, which the algorithm has no business reading. */
export const RUNNER_VARIABLE_PREFIX = 'SLUICE_';

/**
 * True for a variable the algorithm must not inherit: AWS credentials and where to find them, AWS
 * endpoint overrides, and the runner's own `SLUICE_*` settings (queue URL, run id).
 *
 * @example
 * isWithheldVariable('AWS_SECRET_ACCESS_KEY'); // true
 * isWithheldVariable('PATH');                  // false
 */
export function isWithheldVariable(name: string): boolean {
  const upper = name.toUpperCase();
  return (
    CREDENTIAL_VARIABLES.has(upper) ||
    upper.startsWith(ENDPOINT_VARIABLE_PREFIX) ||
    name.startsWith(RUNNER_VARIABLE_PREFIX)
  );
}

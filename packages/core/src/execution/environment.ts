import { isWithheldVariable } from '../schemas/withheld-variables.js';

/**
 * The algorithm's environment: the container's own variables (PATH, HOME, what the image set) less
 * anything withheld, then the job's values on top. A job value is never withheld: the user asked
 * for it, and the job validator has already refused literal credentials.
 *
 * @example
 * algorithmEnvironment(process.env, { SIZE: '128' }); // { PATH: ..., SIZE: '128' } without AWS_* keys
 */
export function algorithmEnvironment(
  inherited: Readonly<Record<string, string | undefined>>,
  jobValues: Readonly<Record<string, string>>,
): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [name, value] of Object.entries(inherited)) {
    if (value !== undefined && !isWithheldVariable(name)) env[name] = value;
  }
  return { ...env, ...jobValues };
}

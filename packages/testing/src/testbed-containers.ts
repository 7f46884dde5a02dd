// The podman/buildah settings these machines need (vfs, runc, cgroupfs, lower ulimits), applied
// through environment variables that point at project-local files, so nothing under /etc changes
// and a user's Docker (which reads none of these) is untouched.
import { fileURLToPath } from 'node:url';

const confDir = new URL('../../../test/testbed/', import.meta.url);

/** The project-local containers.conf: runtime runc, cgroupfs, default ulimits, file events/logs. */
export const TESTBED_CONTAINERS_CONF: string = fileURLToPath(new URL('containers.conf', confDir));
/** The project-local storage.conf: driver vfs and a store apart from /var/lib/containers. */
export const TESTBED_STORAGE_CONF: string = fileURLToPath(new URL('storage.conf', confDir));
/** The project-local registries.conf: plain HTTP allowed for registries on 127.0.0.1 / localhost. */
export const TESTBED_REGISTRIES_CONF: string = fileURLToPath(new URL('registries.conf', confDir));

/** Environment variables that select the test bed's podman/buildah configuration. */
export interface ContainerEngineEnv {
  readonly CONTAINERS_CONF: string;
  readonly CONTAINERS_STORAGE_CONF: string;
  readonly CONTAINERS_REGISTRIES_CONF: string;
}

/**
 * The environment that makes podman, buildah and skopeo use the test bed's settings. Merge it into
 * the environment of every engine command (the container-engine adapter, `make demo`, tests);
 * `scripts/testbed.sh env` prints the same variables for a shell.
 *
 * @example
 * await execFileAsync('podman', ['run', '--rm', image], { env: { ...process.env, ...containerEngineEnv() } });
 */
export function containerEngineEnv(): ContainerEngineEnv {
  return {
    CONTAINERS_CONF: TESTBED_CONTAINERS_CONF,
    CONTAINERS_STORAGE_CONF: TESTBED_STORAGE_CONF,
    CONTAINERS_REGISTRIES_CONF: TESTBED_REGISTRIES_CONF,
  };
}

// Picking the engine this machine has: the user's choice, else a Docker daemon that answers, else podman.
import { ConfigurationError } from '../errors.js';
import type { Logger } from '../logging/logger.js';
import { CliContainerEngine } from './cli-container-engine.js';
import { CommandNotFoundError, ProcessCommandRunner, type CommandRunner } from './command-runner.js';
import { CONTAINER_ENGINE_ENV, type ContainerEngine, type ContainerEngineKind } from './container-engine.js';
import { INSTALL_HINT, tailLines } from './container-engine-errors.js';

/** How {@link detectContainerEngine} looks for an engine. */
export interface DetectContainerEngineOptions {
  /** Where `SLUICE_CONTAINER_ENGINE` is read; default `process.env`. */
  readonly environment?: Readonly<Record<string, string | undefined>>;
  /** Added to every engine command's environment. */
  readonly env?: Readonly<Record<string, string>>;
  readonly runner?: CommandRunner;
  readonly logger?: Logger;
  /** How long to wait for a Docker daemon to answer; default 15 s. */
  readonly dockerTimeoutMs?: number;
}

/**
 * Picks the container engine: `SLUICE_CONTAINER_ENGINE` (`docker` or `podman`) when set; otherwise
 * docker when a Docker daemon answers (`DOCKER_HOST` and contexts are honoured, so podman's
 * Docker-compatible socket counts); otherwise podman when it is installed.
 *
 * @example
 * const engine = await detectContainerEngine({ logger });
 * logger.info(`building with ${engine.kind}`);
 * @throws {ConfigurationError} when `SLUICE_CONTAINER_ENGINE` names another engine, or no engine is found
 *   (the message says what to install).
 */
export async function detectContainerEngine(
  options: DetectContainerEngineOptions = {},
): Promise<ContainerEngine> {
  const environment = options.environment ?? process.env;
  const runner = options.runner ?? new ProcessCommandRunner();
  const make = (kind: ContainerEngineKind): ContainerEngine =>
    new CliContainerEngine({
      kind,
      runner,
      ...(options.env !== undefined ? { env: options.env } : {}),
      ...(options.logger !== undefined ? { logger: options.logger } : {}),
    });
  const chosen = environment[CONTAINER_ENGINE_ENV]?.trim();
  if (chosen !== undefined && chosen !== '') {
    if (chosen === 'docker' || chosen === 'podman') return make(chosen);
    throw new ConfigurationError(
      `${CONTAINER_ENGINE_ENV}=${JSON.stringify(chosen)} is not an engine sluice can use: set it to "docker" or "podman", or unset it to detect one.`,
    );
  }
  let dockerProblem = 'docker is not installed';
  try {
    const docker = await runner.run('docker', ['version', '--format', '{{json .Server.Version}}'], {
      timeoutMs: options.dockerTimeoutMs ?? 15000,
      ...(options.env !== undefined ? { env: options.env } : {}),
    });
    if (docker.exitCode === 0) return make('docker');
    dockerProblem = `docker is installed but no Docker daemon answers (${tailLines(docker.stderr, 2).trim() || `exit code ${docker.exitCode}`})`;
  } catch (e: unknown) {
    if (!(e instanceof CommandNotFoundError)) throw e;
  }
  try {
    const podman = await runner.run('podman', ['--version'], {
      ...(options.env !== undefined ? { env: options.env } : {}),
    });
    if (podman.exitCode === 0) return make('podman');
  } catch (e: unknown) {
    if (!(e instanceof CommandNotFoundError)) throw e;
  }
  throw new ConfigurationError(
    `no container engine found: ${dockerProblem}, and podman is not installed. ${INSTALL_HINT}`,
  );
}

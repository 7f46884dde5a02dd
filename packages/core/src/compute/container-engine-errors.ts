// The errors the container engines raise, and the log tail their messages quote: kept apart from
// the engine so the interface, the inspect parsers and the CLI engine can all throw them.
import { ConfigurationError, InfrastructureError } from '../errors.js';
import type { ContainerEngineKind } from './container-engine.js';

/** An engine command failed for a reason outside the user's files (daemon down, disk full, …). */
export class ContainerEngineError extends InfrastructureError {
  readonly exitCode: number;
  readonly stderr: string;

  constructor(message: string, exitCode: number, stderr: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'ContainerEngineError';
    this.exitCode = exitCode;
    this.stderr = stderr;
  }
}

/** An image build failed; `logTail` is the end of the build log, where the error is. */
export class ImageBuildError extends ConfigurationError {
  readonly logTail: string;

  constructor(message: string, logTail: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'ImageBuildError';
    this.logTail = logTail;
  }
}

/** No local image by that name. */
export class ImageNotFoundError extends ConfigurationError {
  readonly image: string;

  constructor(image: string, options?: { cause?: unknown }) {
    super(`image ${image} is not in the local image store: build or pull it first`, options);
    this.name = 'ImageNotFoundError';
    this.image = image;
  }
}

/** Lines of a failed command's output quoted in an error. */
const TAIL_LINES = 40;

/**
 * The last lines of a log, for error messages.
 *
 * @example
 * tailLines('a\nb\nc\n', 2); // 'b\nc'
 */
export function tailLines(text: string, lines: number = TAIL_LINES): string {
  const all = text.replace(/\s+$/, '').split('\n');
  return all.slice(Math.max(0, all.length - lines)).join('\n');
}

/** What to do when no engine is there; shared by the CLI engine and detection. */
export const INSTALL_HINT =
  'Install Docker (with its daemon running) or Podman, or set SLUICE_CONTAINER_ENGINE=docker|podman to choose one.';

/**
 * The error for an engine CLI that is not on PATH, saying what to install.
 *
 * @example
 * throw notInstalled('podman', new CommandNotFoundError('podman'));
 */
export function notInstalled(kind: ContainerEngineKind, cause: unknown): ConfigurationError {
  return new ConfigurationError(
    `the container engine ${kind} is not installed (no "${kind}" on PATH). ${INSTALL_HINT}`,
    { cause },
  );
}

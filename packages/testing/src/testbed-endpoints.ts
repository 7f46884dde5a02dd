// Where the test bed's servers are: read from the environment that jest's global setup (or
// `scripts/testbed.sh env`) sets, falling back to `.testbed/endpoints.json` in the repository.
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

import { SluiceError, toError } from '@sluice/core';

/** Environment variable with the moto server's base URL, e.g. `http://127.0.0.1:40123`. */
export const TESTBED_AWS_ENDPOINT_ENV = 'SLUICE_TEST_AWS_ENDPOINT';
/** Environment variable with the local registry's `host:port`, e.g. `127.0.0.1:40124` (plain HTTP). */
export const TESTBED_REGISTRY_ENV = 'SLUICE_TEST_REGISTRY';
/** The region every test bed client uses. */
export const TESTBED_REGION = 'us-east-1';

/** The repository root (this file is `packages/testing/src/testbed-endpoints.ts`). */
export const REPOSITORY_ROOT: string = fileURLToPath(new URL('../../../', import.meta.url));
/** Directory for the test bed's state: endpoints file, logs, pid files. Ignored by git. */
export const TESTBED_STATE_DIR: string = fileURLToPath(new URL('../../../.testbed/', import.meta.url));
/** The endpoints file written by jest's global setup and by `scripts/testbed.sh start`. */
export const TESTBED_ENDPOINTS_FILE: string = fileURLToPath(
  new URL('../../../.testbed/endpoints.json', import.meta.url),
);

/** What `.testbed/endpoints.json` holds. */
export interface TestbedEndpointsFile {
  /** moto server base URL. */
  readonly awsEndpoint: string;
  /** Local registry `host:port`. */
  readonly registry: string;
  readonly region: string;
  /** Who started the servers: `jest` (global setup) or `testbed.sh`. */
  readonly owner: string;
  /** The process that wrote the file. */
  readonly pid: number;
  /** Environment for podman/buildah (CONTAINERS_CONF and friends). */
  readonly containerEnv: Readonly<Record<string, string>>;
  /** SeaweedFS S3 base URL (testbed-seaweed.ts); absent in files written before it was added. */
  readonly seaweedEndpoint?: string;
}

/** The servers a test talks to. */
export interface TestbedEndpoints {
  readonly awsEndpoint: string;
  readonly registry: string;
  readonly region: string;
}

/** Raised when a test asks for the test bed and it is not running. */
export class TestbedNotRunningError extends SluiceError {
  constructor(detail: string, options?: { cause?: unknown }) {
    super(
      `the test bed is not running: run the integration tests through jest, or \`scripts/testbed.sh start\` (${detail})`,
      options,
    );
    this.name = 'TestbedNotRunningError';
  }
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/**
 * Reads `.testbed/endpoints.json`; `undefined` when it does not exist.
 *
 * @throws TestbedNotRunningError when the file exists but is not what the test bed writes.
 */
export function readEndpointsFile(file: string = TESTBED_ENDPOINTS_FILE): TestbedEndpointsFile | undefined {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (e: unknown) {
    if (isRecord(e) && e.code === 'ENOENT') return undefined;
    throw new TestbedNotRunningError(`cannot read ${file}: ${toError(e).message}`, { cause: e });
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (e: unknown) {
    throw new TestbedNotRunningError(`${file} is not JSON: ${toError(e).message}`, { cause: e });
  }
  if (
    !isRecord(parsed) ||
    typeof parsed.awsEndpoint !== 'string' ||
    typeof parsed.registry !== 'string' ||
    typeof parsed.region !== 'string' ||
    typeof parsed.owner !== 'string' ||
    typeof parsed.pid !== 'number' ||
    !isRecord(parsed.containerEnv)
  ) {
    throw new TestbedNotRunningError(
      `${file} lacks awsEndpoint, registry, region, owner, pid or containerEnv; delete it and restart the test bed`,
    );
  }
  const containerEnv: Record<string, string> = {};
  for (const [name, value] of Object.entries(parsed.containerEnv)) {
    if (typeof value === 'string') containerEnv[name] = value;
  }
  return {
    awsEndpoint: parsed.awsEndpoint,
    registry: parsed.registry,
    region: parsed.region,
    owner: parsed.owner,
    pid: parsed.pid,
    containerEnv,
    ...(typeof parsed.seaweedEndpoint === 'string' && { seaweedEndpoint: parsed.seaweedEndpoint }),
  };
}

/**
 * The test bed's endpoints: from `SLUICE_TEST_AWS_ENDPOINT` / `SLUICE_TEST_REGISTRY`, else from
 * `.testbed/endpoints.json`.
 *
 * @example
 * const { awsEndpoint, registry } = testbedEndpoints();
 * @throws TestbedNotRunningError when neither the environment nor the file names the servers.
 */
export function testbedEndpoints(env: NodeJS.ProcessEnv = process.env): TestbedEndpoints {
  const awsEndpoint = env[TESTBED_AWS_ENDPOINT_ENV];
  const registry = env[TESTBED_REGISTRY_ENV];
  if (awsEndpoint !== undefined && awsEndpoint !== '' && registry !== undefined && registry !== '') {
    return { awsEndpoint, registry, region: TESTBED_REGION };
  }
  const file = readEndpointsFile();
  if (file === undefined) {
    throw new TestbedNotRunningError(
      `${TESTBED_AWS_ENDPOINT_ENV} / ${TESTBED_REGISTRY_ENV} are not set and ${TESTBED_ENDPOINTS_FILE} does not exist`,
    );
  }
  return { awsEndpoint: file.awsEndpoint, registry: file.registry, region: file.region };
}

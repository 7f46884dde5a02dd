// Starts and stops the test bed for jest (global-setup.ts, global-teardown.ts): the moto server,
// SeaweedFS and the local registry on free loopback ports, or the servers named by
// SLUICE_TEST_AWS_ENDPOINT / SLUICE_TEST_SEAWEED_ENDPOINT / SLUICE_TEST_REGISTRY when those are set; the project-local podman configuration; and the
// addresses, handed to the tests through process.env (inherited by jest's workers) and
// .testbed/endpoints.json. It never skips: anything missing is an error that says what to run.
import { execFile } from 'node:child_process';
import { mkdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';

import { toError } from '@sluice/core';
// The test bed's own modules, not the @sluice/testing index: that also loads the fakes and contract
// suites, which import @jest/globals, and jest's global setup runs outside any test environment.
import { containerEngineEnv } from '../../packages/testing/src/testbed-containers.js';
import {
  REPOSITORY_ROOT,
  TESTBED_AWS_ENDPOINT_ENV,
  TESTBED_REGION,
  TESTBED_REGISTRY_ENV,
  TESTBED_STATE_DIR,
} from '../../packages/testing/src/testbed-endpoints.js';
import { TESTBED_SEAWEED_ENDPOINT_ENV } from '../../packages/testing/src/testbed-seaweed.js';

import { answers, startMoto, startRegistry, startSeaweed, type StartedServer } from './servers.js';
import { releaseEndpointsFile, saveState, takeState, writeEndpointsFile } from './state.js';

const execFileAsync = promisify(execFile);

/** Fails loudly when a container tool is missing: the container smoke tests need all of them. */
async function requireContainerTools(env: NodeJS.ProcessEnv): Promise<void> {
  for (const tool of ['podman', 'buildah']) {
    try {
      await execFileAsync(tool, ['--version'], { env });
    } catch (e: unknown) {
      throw new Error(
        `the test bed cannot start: \`${tool} --version\` failed (${toError(e).message}). Run scripts/bootstrap.sh to install it.`,
        { cause: e },
      );
    }
  }
}

/** Checks a server named in the environment answers; a set-but-dead variable is an error, not a skip. */
async function reuse(variable: string, value: string, probeUrl: string): Promise<void> {
  if (!(await answers(probeUrl, 3_000))) {
    throw new Error(
      `the test bed cannot start: ${variable}=${value} is set but nothing answers ${probeUrl}. Start it (scripts/testbed.sh start) or unset ${variable}.`,
    );
  }
}

/** Starts the test bed (or checks the reused servers answer) and publishes its addresses. */
export async function startTestbed(): Promise<void> {
  const logDir = join(TESTBED_STATE_DIR, 'logs');
  mkdirSync(logDir, { recursive: true });

  const containerEnv = containerEngineEnv();
  const formerEnv: Record<string, string | undefined> = {};
  for (const name of [
    ...Object.keys(containerEnv),
    TESTBED_AWS_ENDPOINT_ENV,
    TESTBED_SEAWEED_ENDPOINT_ENV,
    TESTBED_REGISTRY_ENV,
  ]) {
    formerEnv[name] = process.env[name];
  }
  Object.assign(process.env, containerEnv);
  await requireContainerTools(process.env);

  const started: StartedServer[] = [];
  // SeaweedFS takes ~3 s to start (its volume server registers late): started beside moto, not after.
  const seaweedGiven = process.env[TESTBED_SEAWEED_ENDPOINT_ENV] ?? '';
  const seaweedStarting =
    seaweedGiven === ''
      ? startSeaweed(join(REPOSITORY_ROOT, '.venv'), join(logDir, `seaweed-${process.pid}.log`))
      : undefined;
  // Handled below (awaited, or stopped in the catch); this keeps a failure while moto starts from
  // counting as an unhandled rejection meanwhile.
  seaweedStarting?.catch(() => undefined);
  try {
    let awsEndpoint = process.env[TESTBED_AWS_ENDPOINT_ENV] ?? '';
    if (awsEndpoint !== '') {
      await reuse(TESTBED_AWS_ENDPOINT_ENV, awsEndpoint, `${awsEndpoint}/moto-api/`);
    } else {
      const moto = await startMoto(join(REPOSITORY_ROOT, '.venv'), join(logDir, `moto-${process.pid}.log`));
      started.push(moto);
      awsEndpoint = moto.url;
    }

    let seaweedEndpoint = seaweedGiven;
    if (seaweedStarting === undefined) {
      await reuse(TESTBED_SEAWEED_ENDPOINT_ENV, seaweedEndpoint, `${seaweedEndpoint}/healthz`);
    } else {
      const seaweed = await seaweedStarting;
      started.push(seaweed);
      seaweedEndpoint = seaweed.url;
    }

    let registry = process.env[TESTBED_REGISTRY_ENV] ?? '';
    if (registry !== '') {
      await reuse(TESTBED_REGISTRY_ENV, registry, `http://${registry}/v2/`);
    } else {
      const server = await startRegistry(join(logDir, `registry-${process.pid}.log`));
      started.push(server);
      registry = `127.0.0.1:${server.port}`;
    }

    process.env[TESTBED_AWS_ENDPOINT_ENV] = awsEndpoint;
    process.env[TESTBED_SEAWEED_ENDPOINT_ENV] = seaweedEndpoint;
    process.env[TESTBED_REGISTRY_ENV] = registry;
    const previousEndpointsFile = writeEndpointsFile({
      awsEndpoint,
      seaweedEndpoint,
      registry,
      region: TESTBED_REGION,
      owner: 'jest',
      pid: process.pid,
      containerEnv: { ...containerEnv },
    });
    saveState({ started, formerEnv, previousEndpointsFile });
  } catch (e: unknown) {
    // Stop what did start, so a failed setup leaves nothing running behind it (SeaweedFS too, when
    // moto failed while it was starting).
    const seaweed = await seaweedStarting?.catch(() => undefined);
    if (seaweed !== undefined && !started.includes(seaweed)) started.push(seaweed);
    await Promise.allSettled(started.map((server) => server.stop()));
    throw e;
  }
}

/** Stops the servers {@link startTestbed} started (not reused ones) and restores the environment. */
export async function stopTestbed(): Promise<void> {
  const state = takeState();
  if (state === undefined) return; // the setup failed, and stopped what it had started
  const results = await Promise.allSettled(state.started.map((server) => server.stop()));
  for (const [name, value] of Object.entries(state.formerEnv)) {
    if (value === undefined) Reflect.deleteProperty(process.env, name);
    else process.env[name] = value;
  }
  releaseEndpointsFile(state.previousEndpointsFile);
  const failures = results.flatMap((result, index) =>
    result.status === 'rejected'
      ? [`${state.started[index]?.name ?? 'a server'}: ${toError(result.reason).message}`]
      : [],
  );
  if (failures.length > 0) throw new Error(`the test bed could not stop: ${failures.join('; ')}`);
  // Logs matter when something fails to start (the error quotes them); a clean run leaves none.
  for (const server of state.started) rmSync(server.logFile, { force: true });
}

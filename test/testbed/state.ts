// What jest's global setup hands to its global teardown (the same process, but modules loaded
// separately, hence globalThis), and the endpoints file both write.
import { mkdirSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';

import {
  readEndpointsFile,
  TESTBED_ENDPOINTS_FILE,
  type TestbedEndpointsFile,
} from '../../packages/testing/src/testbed-endpoints.js';

import type { StartedServer } from './servers.js';

export interface TestbedState {
  /** Servers this process started (and must stop); reused servers are not listed. */
  readonly started: readonly StartedServer[];
  /** Environment variables the setup changed, with their former values, restored in teardown
   * (so a `jest --watch` re-run does not "reuse" servers that teardown stopped). */
  readonly formerEnv: Readonly<Record<string, string | undefined>>;
  /** The endpoints file another live test bed had written, put back in teardown. */
  readonly previousEndpointsFile: TestbedEndpointsFile | undefined;
}

const KEY = Symbol.for('sluice.testbed.state');
type Holder = Record<symbol, TestbedState | undefined>;

export function saveState(state: TestbedState): void {
  (globalThis as unknown as Holder)[KEY] = state;
}

/** The state saved by the setup, once; `undefined` when the setup did not run or failed. */
export function takeState(): TestbedState | undefined {
  const holder = globalThis as unknown as Holder;
  const state = holder[KEY];
  holder[KEY] = undefined;
  return state;
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

function writeAtomically(file: string, text: string): void {
  mkdirSync(dirname(file), { recursive: true });
  const temporary = `${file}.${process.pid}.tmp`;
  writeFileSync(temporary, text);
  renameSync(temporary, file);
}

/**
 * Writes `.testbed/endpoints.json`. Returns the file it replaced when that belonged to another test
 * bed still running (`scripts/testbed.sh start`, another jest run), so teardown can put it back.
 */
export function writeEndpointsFile(endpoints: TestbedEndpointsFile): TestbedEndpointsFile | undefined {
  let previous: TestbedEndpointsFile | undefined;
  try {
    previous = readEndpointsFile();
  } catch {
    previous = undefined; // unreadable: ours replaces it
  }
  writeAtomically(TESTBED_ENDPOINTS_FILE, `${JSON.stringify(endpoints, null, 2)}\n`);
  return previous !== undefined && previous.pid !== process.pid && isAlive(previous.pid)
    ? previous
    : undefined;
}

/** Removes this process's endpoints file (or puts back the one it replaced); leaves others' alone. */
export function releaseEndpointsFile(previous: TestbedEndpointsFile | undefined): void {
  let current: TestbedEndpointsFile | undefined;
  try {
    current = readEndpointsFile();
  } catch {
    return;
  }
  if (current?.pid !== process.pid) return; // another run has written it since: theirs now
  if (previous !== undefined && isAlive(previous.pid)) {
    writeAtomically(TESTBED_ENDPOINTS_FILE, `${JSON.stringify(previous, null, 2)}\n`);
  } else {
    rmSync(TESTBED_ENDPOINTS_FILE, { force: true });
  }
}

// The chaos suite (issue 16): whole runs through the real chain — the committed CLI bundle's `sluice
// run`, the local backend's runner containers of a wrapped busybox algorithm under podman, the test
// bed's moto for S3 and SQS — while, seeded by SLUICE_CHAOS_SEED:
// - runner containers are SIGKILLed at each phase of a task and at random moments;
// - a fault proxy in front of S3 and SQS answers 500/503/SlowDown, resets connections, delays
//   requests and cuts answers short;
// - every input is delivered two or three times (dispatch's listing plus task messages of our own);
// - the algorithm leaves a helper writing late, times out, runs out of memory, exits 7, writes
//   thousands of files;
// - in sealed mode, `sluice run` (and the broker inside it) is SIGKILLed and the run carried on by
//   `sluice collect`, itself SIGKILLed once and started again.
// After each run checks.ts reads the buckets: nothing lost, nothing duplicated, no wrong output, the
// true failure class of each failing input. Size: SLUICE_CHAOS_FILES (default 60 per run, the CI
// size; `make chaos` runs 1,000). docs/chaos.md says how to replay a seed.
import { appendFileSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { CliContainerEngine } from '@sluice/core/compute';
import { TestAwsAccount, containerEngineEnv } from '@sluice/testing';

import { runCli, userShellEnv } from '../e2e/e2e-support.js';
import { chaosInputs, writeChaosAlgorithm } from './chaos-algorithm.js';
import { chaosRun, killContainer, type ChaosRunResult } from './chaos-run.js';
import { FAULT_KINDS, FaultProxy, KILL_PHASES, type FaultKind, type KillPhase } from './fault-proxy.js';
import { Prng, chaosSeed } from './prng.js';

const SEED = chaosSeed();
const FILES = Number.parseInt(process.env.SLUICE_CHAOS_FILES ?? '60', 10);
const LARGE = FILES >= 500;
/** Which runs to make (SLUICE_CHAOS_MODES=direct or sealed runs one alone). */
const MODES = (process.env.SLUICE_CHAOS_MODES ?? 'direct,sealed')
  .split(',')
  .filter((m): m is 'direct' | 'sealed' => m === 'direct' || m === 'sealed');
/** Wall time allowed for one run (and for each sluice process in it). */
const RUN_SECONDS = LARGE ? 3 * 3600 : 600;
/** Where every fault and kill is traced, for a finding's log excerpts. */
const TRACE = process.env.SLUICE_CHAOS_TRACE;

const aws = new TestAwsAccount({ label: 'chaos' });
const workspace = mkdtempSync(join(tmpdir(), 'sluice-chaos-'));
const algorithm = `chaos-${aws.id.slice(0, 8)}`;
const prng = new Prng(SEED);
const log = (line: string): void => {
  const stamped = `chaos ${new Date().toISOString().slice(11, 19)} ${line}`;
  process.stderr.write(`${stamped}\n`);
  if (TRACE !== undefined) appendFileSync(TRACE, `${stamped}\n`);
};
/** One fault proxy per run (the runs go side by side); the report sums them. */
const proxies: FaultProxy[] = [];
function newProxy(label: string): FaultProxy {
  const proxy = new FaultProxy({
    target: aws.endpoint,
    prng: prng.fork(`proxy-${label}`),
    containerFaultRate: 0.03,
    hostFaultRate: 0.01,
    killsPerPhase: LARGE ? 3 : 1,
    killChance: Math.min(0.5, 10 / FILES),
    kill: (worker) => killContainer(worker),
    trace: (line) => {
      if (line.startsWith('kill')) log(`${label}: ${line}`);
      if (TRACE !== undefined) appendFileSync(TRACE, `${label}: ${line}\n`);
    },
  });
  proxies.push(proxy);
  return proxy;
}
const results: ChaosRunResult[] = [];

beforeAll(async () => {
  log(`seed ${SEED} (SLUICE_CHAOS_SEED), ${FILES} files per run (SLUICE_CHAOS_FILES)`);
  const manifest = await writeChaosAlgorithm(join(workspace, 'algorithm'), algorithm);
  const wrapped = await runCli(
    ['wrap', manifest],
    workspace,
    userShellEnv({ workspace, awsEndpoint: aws.endpoint, region: aws.region }),
    600_000,
  );
  if (wrapped.code !== 0) throw new Error(`sluice wrap failed:\n${wrapped.stderr}`);
}, 900_000);

afterAll(async () => {
  printReport();
  await Promise.all(proxies.map((p) => p.close()));
  const engine = new CliContainerEngine({ kind: 'podman', env: { ...containerEngineEnv() } });
  await engine
    .removeImages([`localhost/sluice/${algorithm}:1.0`, `localhost/sluice/${algorithm}-algorithm:1.0`])
    .catch((e: unknown) => {
      log(`could not remove the images: ${String(e)}`);
    });
  if (process.env.SLUICE_CHAOS_KEEP === undefined) await aws.cleanup();
  rmSync(workspace, { recursive: true, force: true });
}, 300_000);

function printReport(): void {
  const sum = (f: (r: ChaosRunResult) => number): number => results.reduce((n, r) => n + f(r), 0);
  const killsOf = (p: KillPhase | 'random'): number => proxies.reduce((n, x) => n + (x.kills.get(p) ?? 0), 0);
  const faultsOf = (k: FaultKind): number => proxies.reduce((n, x) => n + (x.faults.get(k) ?? 0), 0);
  const phases = [...KILL_PHASES, 'random' as const];
  const kills = phases.map((p) => `${p} ${killsOf(p)}`).join(', ');
  const faults = FAULT_KINDS.map((k) => `${k} ${faultsOf(k)}`).join(', ');
  const lines = [
    `chaos report — seed ${SEED}, ${FILES} files per run`,
    `runs: ${results.length} (${results.map((r) => `${r.label} ${r.runId} ${Math.round(r.ms / 1000)} s, ${r.check.inputs} inputs, ${r.deliveries} deliveries, ${r.check.extraAttempts} extra attempts`).join('; ')})`,
    `kills: ${phases.reduce((n, p) => n + killsOf(p), 0)} runner containers (${kills}); sluice run with its broker ${sum((r) => r.sluiceKills.broker)}, sluice collect ${sum((r) => r.sluiceKills.collect)}`,
    `phase kills planned but not made (a run too short for them): ${
      proxies.flatMap((x) => [...x.phaseKillsDue()].map(([p, n]) => `${p} ${n}`)).join(', ') || 'none'
    }`,
    `faults injected: ${FAULT_KINDS.reduce((n, k) => n + faultsOf(k), 0)} (${faults})`,
    `inputs lost: ${sum((r) => r.check.lost)}, duplicates: ${sum((r) => r.check.duplicates)}, wrong outputs: ${sum((r) => r.check.wrongOutputs)}, other violations: ${sum((r) => r.check.violations.filter((v) => !['lost', 'duplicate', 'wrong-output'].includes(v.property)).length)}`,
    ...results.flatMap((r) =>
      r.check.violations.slice(0, 20).map((v) => `  ${r.label} [${v.property}] ${v.input}: ${v.detail}`),
    ),
    ...results.flatMap((r) =>
      r.exits
        .filter((e) => e.code !== 0)
        .map((e) => `  ${r.label}: sluice ${e.step} exited ${String(e.code)}:\n${e.tail}`),
    ),
    `replay: SLUICE_CHAOS_SEED=${SEED} SLUICE_CHAOS_FILES=${FILES} make chaos   (or the jest command in docs/chaos.md)`,
  ];
  console.log(lines.join('\n'));
}

/** The assertions every run makes; each names the seed so a failure can be replayed. */
function expectClean(result: ChaosRunResult): void {
  const { check } = result;
  const where = `seed ${SEED}, run ${result.label} (${result.runId})`;
  expect({ where, lost: check.lost, duplicates: check.duplicates, wrongOutputs: check.wrongOutputs }).toEqual(
    {
      where,
      lost: 0,
      duplicates: 0,
      wrongOutputs: 0,
    },
  );
  expect({ where, violations: check.violations }).toEqual({ where, violations: [] });
  expect({ where, exits: result.exits.map((e) => `${e.step}: ${String(e.code)}`) }).toEqual({
    where,
    exits: [`${result.exits[0]?.step ?? 'run'}: 0`],
  });
}

/** A run, started in beforeAll so both go side by side (most of a chaos run is waiting out leases). */
async function startRun(mode: 'direct' | 'sealed'): Promise<ChaosRunResult> {
  const proxy = newProxy(mode);
  await proxy.start();
  const result = await chaosRun(
    { aws, workspace, algorithm, proxy, prng, log },
    {
      label: mode,
      mode,
      inputs: chaosInputs(prng.fork(`${mode}-inputs`), FILES),
      randomKills: LARGE ? 8 : 2,
      thirdDeliveryShare: 0.25,
      // The broker lives in the sluice process: sealed mode kills it (and then collect).
      restartSluice: mode === 'sealed',
      retries: 3,
      timeoutSeconds: RUN_SECONDS,
    },
  );
  results.push(result);
  return result;
}

const runs = new Map<'direct' | 'sealed', Promise<ChaosRunResult>>();

beforeAll(() => {
  for (const mode of MODES) {
    const run = startRun(mode);
    run.catch(() => undefined); // awaited (and reported) by its test
    runs.set(mode, run);
  }
});

describe('chaos: whole runs while runners die, requests fail and messages repeat', () => {
  (MODES.includes('direct') ? it : it.skip)(
    'direct mode: runners SIGKILLed at every phase and at random, a fault proxy, duplicate deliveries, a hostile algorithm',
    async () => {
      expectClean(await (runs.get('direct') as Promise<ChaosRunResult>));
    },
    RUN_SECONDS * 1000 + 120_000,
  );

  (MODES.includes('sealed') ? it : it.skip)(
    'sealed mode: the broker (sluice run) and sluice collect SIGKILLed and restarted, beside the same faults',
    async () => {
      expectClean(await (runs.get('sealed') as Promise<ChaosRunResult>));
    },
    RUN_SECONDS * 1000 + 120_000,
  );
});

// The chaos suite's algorithm and inputs. One busybox script does, by the first line of its input:
// ok/slow — three outputs derived from the input (slow sleeps 1 s first, so a kill can land while
// it runs); fork — the same, plus a helper left behind that writes into the output directory 1.5 s
// later (into whatever task the runner runs next); many — the three plus thousands of small files;
// exit — exits 7 (a permanent code); timeout — sleeps past the time limit; oom — allocates past the
// memory limit. Every successful input's outputs are known in advance (expectedOutputs), so a wrong
// or extra output is found, not just a missing one.
import { createHash } from 'node:crypto';
import { chmod, copyFile, mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';

import type { Prng } from './prng.js';

/** What an input asks the algorithm to do. */
export type InputKind = 'ok' | 'slow' | 'fork' | 'many' | 'exit' | 'timeout' | 'oom';

/** The failure class each failing kind must end with (docs/contracts.md, "Failure classes and retries"). */
export const EXPECTED_FAILURE: Partial<Record<InputKind, string>> = {
  exit: 'algorithm-exit',
  timeout: 'timeout',
  oom: 'out-of-memory',
};

/** The exit code of `exit` inputs; the manifest lists it as permanent, so one attempt is allowed. */
export const EXIT_CODE = 7;
/** The algorithm's time limit (manifest `timeoutSeconds`). */
export const TIME_LIMIT_SECONDS = 6;

/** One input of a chaos run. */
export interface ChaosInput {
  readonly kind: InputKind;
  /** The key relative to the input prefix (one segment). */
  readonly name: string;
  readonly content: string;
}

const SCRIPT = `#!/bin/sh
in="$1"
out="$2"
kind=$(head -n 1 "$in")
case "$kind" in
  exit) echo "exiting ${EXIT_CODE} as this input asks" >&2; exit ${EXIT_CODE} ;;
  timeout) echo "sleeping past the limit" >&2; sleep 600; exit 0 ;;
  oom) echo "allocating 400 MiB" >&2; exec dd if=/dev/zero of=/dev/null bs=400M count=1 ;;
  slow) sleep 1 ;;
  fork) ( sleep 1.5; echo "late from $(basename "$in")" > "$out/late.txt" ) </dev/null >/dev/null 2>&1 & ;;
  many)
    n=$(sed -n 2p "$in")
    mkdir -p "$out/many"
    i=1
    while [ "$i" -le "$n" ]; do echo "$i" > "$out/many/$i.txt"; i=$((i + 1)); done ;;
esac
{ echo processed; cat "$in"; } > "$out/a.txt"
md5sum < "$in" > "$out/b.txt"
wc -c < "$in" > "$out/c.txt"
`;

/**
 * Writes the algorithm's directory for `sluice wrap` (`algorithm.json`, name@1.0, a FROM-scratch
 * busybox image with /app/run.sh): 64 MiB of memory, the time limit above, exit 7 permanent and no
 * retry on time-out, so each failing input takes exactly one attempt unless a kill costs it one.
 */
export async function writeChaosAlgorithm(dir: string, name: string): Promise<string> {
  const image = join(dir, 'image');
  await mkdir(image, { recursive: true });
  await copyFile('/bin/busybox', join(image, 'busybox'));
  await writeFile(join(image, 'run.sh'), SCRIPT);
  await chmod(join(image, 'run.sh'), 0o755);
  await writeFile(
    join(image, 'Containerfile'),
    'FROM scratch\nCOPY busybox /bin/busybox\nRUN ["/bin/busybox", "--install", "-s", "/bin"]\nCOPY run.sh /app/run.sh\n',
  );
  const manifest = join(dir, 'algorithm.json');
  await writeFile(
    manifest,
    `${JSON.stringify(
      {
        name,
        version: '1.0',
        build: { context: 'image', dockerfile: 'Containerfile' },
        command: ['/app/run.sh', '{input}', '{output}'],
        input: '/data/in/',
        output: '/data/out/',
        memory: 64,
        timeoutSeconds: TIME_LIMIT_SECONDS,
        retry: { permanentExitCodes: [EXIT_CODE], retryOnTimeout: false },
      },
      null,
      2,
    )}\n`,
  );
  return manifest;
}

/** How many inputs of each kind a run of `files` inputs has (the rest are ok/slow). */
export function kindCounts(files: number): Record<Exclude<InputKind, 'ok' | 'slow'>, number> {
  const share = (per: number, min: number): number => Math.max(min, Math.round(files / per));
  return {
    fork: share(20, 2),
    many: share(400, 1),
    exit: share(30, 2),
    timeout: share(100, 1),
    oom: share(100, 1),
  };
}

/** The files of `many` inputs. */
export function manyFiles(files: number): number {
  return files >= 500 ? 2500 : 1200;
}

/** The inputs of a run of `files` inputs, drawn from `prng`, in a shuffled order. */
export function chaosInputs(prng: Prng, files: number): ChaosInput[] {
  const kinds: InputKind[] = [];
  for (const [kind, count] of Object.entries(kindCounts(files))) {
    for (let i = 0; i < count; i += 1) kinds.push(kind as InputKind);
  }
  while (kinds.length < files) kinds.push(prng.chance(0.15) ? 'slow' : 'ok');
  for (let i = kinds.length - 1; i > 0; i -= 1) {
    const j = prng.int(0, i);
    [kinds[i], kinds[j]] = [kinds[j] as InputKind, kinds[i] as InputKind];
  }
  return kinds.map((kind, i) => {
    const body = kind === 'many' ? `${manyFiles(files)}\n` : prng.text(prng.int(0, 3000));
    return { kind, name: `${kind}-${String(i).padStart(4, '0')}.txt`, content: `${kind}\n${body}` };
  });
}

/** The outputs (relative path → content) a successful input must have, exactly; undefined for a failing one. */
export function expectedOutputs(input: ChaosInput): Map<string, string> | undefined {
  if (EXPECTED_FAILURE[input.kind] !== undefined) return undefined;
  const bytes = Buffer.from(input.content);
  const outputs = new Map<string, string>([
    ['a.txt', `processed\n${input.content}`],
    ['b.txt', `${createHash('md5').update(bytes).digest('hex')}  -\n`],
    ['c.txt', `${bytes.length}\n`],
  ]);
  if (input.kind === 'many') {
    const n = Number.parseInt(input.content.split('\n')[1] ?? '0', 10);
    for (let i = 1; i <= n; i += 1) outputs.set(`many/${i}.txt`, `${i}\n`);
  }
  return outputs;
}

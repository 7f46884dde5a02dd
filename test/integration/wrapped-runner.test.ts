// Integration, real parts: two FROM-scratch algorithm images of different layouts are wrapped with
// the committed runner bundle, pushed to the local registry, removed, pulled back by digest and run
// as runners (podman, host network) against moto, where 30 files with awkward keys arrive through
// real S3 → SQS notifications.
// - busybox: a shell script, a non-root USER, a WORKDIR, /tmp and /data made by the image;
// - glibc: a C program compiled here, copied in with its `ldd` libraries: no shell, no /tmp, root.
// Every output, task record, completion marker and task log is checked, and the environment the
// busybox algorithm dumps holds no credential, no endpoint and no SLUICE_* setting.
import { randomBytes } from 'node:crypto';
import { mkdtempSync } from 'node:fs';
import { readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { afterAll, beforeAll, describe, expect, it, jest } from '@jest/globals';
import { S3Client } from '@aws-sdk/client-s3';
import { S3ObjectStore, parseManifest, taskId, validateCompletionMarker } from '@sluice/core';
import { localMemoryLimitMiB } from '@sluice/core/compute';
import { TestAwsAccount, attemptLogText, testbedEndpoints } from '@sluice/testing';

import {
  AWKWARD_KEYS,
  createRun,
  listKeys,
  readRecord,
  runnerConfig,
  type TestRun,
} from './runner-support.js';
import {
  LEAK_CANARY,
  buildBusyboxImage,
  buildGlibcImage,
  containerEnv,
  shipThroughRegistry,
  startRunner,
  testEngine,
  wrapManifest,
} from './wrapped-support.js';

jest.setTimeout(240_000);

const KEYS = AWKWARD_KEYS;

/** The busybox algorithm: copies, records the size, and dumps its environment for plain.txt. */
const COPY_SH = `#!/bin/sh
set -eu
in="$1"
out="$2"
echo "processing $(basename "$in") in $(pwd) as $(id -u)"
cp "$in" "$out/result.bin"
mkdir -p "$out/meta"
wc -c < "$in" | tr -d ' ' > "$out/meta/size.txt"
case "$(basename "$in")" in
  plain.txt) env > "$out/env.txt" ;;
esac
`;

/** The glibc algorithm: the same job in C, for an image with no shell and no tools at all. */
const COPY_C = `
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
int main(int argc, char **argv) {
  if (argc != 3) { fprintf(stderr, "usage: copy INPUT OUTPUT_DIR\\n"); return 64; }
  const char *base = strrchr(argv[1], '/');
  char cwd[256];
  if (getcwd(cwd, sizeof cwd) == NULL) return 70;
  printf("processing %s in %s as %d\\n", base ? base + 1 : argv[1], cwd, (int)getuid());
  char path[4096];
  FILE *in = fopen(argv[1], "rb");
  if (!in) { perror("open input"); return 66; }
  snprintf(path, sizeof path, "%s/result.bin", argv[2]);
  FILE *out = fopen(path, "wb");
  if (!out) { perror("open result"); return 73; }
  char buffer[65536];
  size_t n, total = 0;
  while ((n = fread(buffer, 1, sizeof buffer, in)) > 0) {
    if (fwrite(buffer, 1, n, out) != n) { perror("write"); return 74; }
    total += n;
  }
  fclose(in);
  if (fclose(out) != 0) { perror("close"); return 74; }
  snprintf(path, sizeof path, "%s/meta", argv[2]);
  if (mkdir(path, 0755) != 0 && errno != EEXIST) { perror("mkdir"); return 73; }
  snprintf(path, sizeof path, "%s/meta/size.txt", argv[2]);
  FILE *size = fopen(path, "w");
  if (!size) { perror("open size"); return 73; }
  fprintf(size, "%zu\\n", total);
  return fclose(size) == 0 ? 0 : 74;
}
`;

interface Layout {
  readonly label: 'busybox' | 'glibc';
  readonly manifest: Record<string, unknown>;
  /** What the algorithm prints: its working directory and the uid it runs as. */
  readonly cwd: string;
  readonly uid: number;
  reference: string;
  digest: string;
  removedLocally: boolean;
  run: TestRun;
  aws: TestAwsAccount;
}

describe('wrapped images as runners in containers, on moto, after a trip through the registry', () => {
  const id = randomBytes(4).toString('hex');
  const engine = testEngine();
  const { registry } = testbedEndpoints();
  const images: string[] = [];
  const bodies = new Map<string, Buffer>();
  /** One account per layout: a run's buckets and queue are named by its account. */
  const accounts: TestAwsAccount[] = [];
  const runs: TestRun[] = [];
  const work = mkdtempSync(join(tmpdir(), 'sluice-wrapped-runner-'));
  let busybox: Layout;
  let glibc: Layout;
  const timings: Record<string, number> = {};

  async function timed<T>(label: string, step: () => Promise<T>): Promise<T> {
    const started = Date.now();
    try {
      return await step();
    } finally {
      timings[label] = Date.now() - started;
    }
  }

  beforeAll(async () => {
    const cacheDir = join(work, 'cache');
    const busyboxTag = `localhost/sluice-it-${id}/wr-busybox-algorithm:1`;
    const glibcTag = `localhost/sluice-it-${id}/wr-glibc-algorithm:1`;
    images.push(busyboxTag, glibcTag);

    await timed('algorithm images', async () => {
      await buildBusyboxImage(
        engine,
        join(work, 'busybox'),
        busyboxTag,
        { 'copy.sh': { text: COPY_SH, mode: 0o755 } },
        [
          'COPY copy.sh /app/copy.sh',
          'RUN ["/bin/mkdir", "-p", "-m", "1777", "/tmp"]',
          'RUN ["/bin/mkdir", "-p", "/data/in", "/data/out", "/work"]',
          'RUN ["/bin/chown", "-R", "1000:1000", "/data", "/work"]',
          'WORKDIR /work',
          'USER 1000:1000',
          'ENTRYPOINT ["/app/copy.sh"]',
        ],
      );
      await buildGlibcImage(engine, join(work, 'glibc'), glibcTag, 'copy', COPY_C);
    });

    const common = { version: '1.0', memory: 128, input: '/data/in/', output: '/data/out/' };
    const layouts: Layout[] = [
      {
        label: 'busybox',
        manifest: {
          ...common,
          name: `wr-busybox-${id}`,
          image: busyboxTag,
          command: ['{input}', '{output}'],
          env: { GREETING: {} },
        },
        cwd: '/work',
        uid: 1000,
        reference: '',
        digest: '',
        removedLocally: false,
        run: undefined as unknown as TestRun,
        aws: undefined as unknown as TestAwsAccount,
      },
      {
        label: 'glibc',
        // Root in a FROM-scratch image (no /tmp, no /data) under a read-only root: only the
        // hardened runner's mounts are writable, and it has no capability to create directories.
        manifest: {
          ...common,
          name: `wr-glibc-${id}`,
          image: glibcTag,
          command: ['{input}', '{output}'],
          readOnlyRootFilesystem: true,
        },
        cwd: '/opt/copy',
        // The image sets no USER (root): the runner starts the algorithm as the unprivileged 65532.
        uid: 65532,
        reference: '',
        digest: '',
        removedLocally: false,
        run: undefined as unknown as TestRun,
        aws: undefined as unknown as TestAwsAccount,
      },
    ];
    for (const layout of layouts) {
      const wrapped = await timed(`wrap ${layout.label}`, () =>
        wrapManifest(engine, layout.manifest, join(work, layout.label), cacheDir),
      );
      images.push(wrapped.image);
      const remote = `${registry}/sluice-it-${id}/wr-${layout.label}:1.0`;
      const shipped = await timed(`push, remove, pull ${layout.label}`, () =>
        shipThroughRegistry(engine, wrapped.image, remote),
      );
      images.push(shipped.reference, remote);
      layout.reference = shipped.reference;
      layout.digest = shipped.digest;
      layout.removedLocally = shipped.removedLocally;
    }
    [busybox, glibc] = layouts as [Layout, Layout];

    // The inputs: both runs get the same 30 bodies, through S3 notifications.
    const upload = join(work, 'upload');
    for (const key of KEYS) {
      bodies.set(
        key,
        key === 'empty.bin'
          ? Buffer.alloc(0)
          : key === 'big.bin'
            ? randomBytes(20 * 1024 * 1024)
            : Buffer.from(`content of ${key}\n`),
      );
    }
    await timed('inputs', async () => {
      for (const layout of layouts) {
        const aws = new TestAwsAccount({ label: `wrapped-${layout.label}` });
        accounts.push(aws);
        layout.aws = aws;
        layout.run = await createRun(aws, { notify: true });
        runs.push(layout.run);
        for (const key of KEYS) {
          await writeFile(upload, bodies.get(key) ?? Buffer.alloc(0));
          await layout.run.store.upload({ bucket: layout.run.inputBucket, key: `in/${key}` }, upload);
        }
      }
    });
  }, 300_000);

  afterAll(async () => {
    // vfs keeps a full copy of every layer: leave nothing behind.
    await engine.removeImages(images);
    for (const run of runs) await rm(run.dir, { recursive: true, force: true });
    await rm(work, { recursive: true, force: true });
    for (const aws of accounts) await aws.cleanup();
    console.info(`wrapped-runner timings (ms): ${JSON.stringify(timings)}`);
  }, 120_000);

  it('pushes both wrapped images and runs them from references with digests, pulled back after removal', () => {
    for (const layout of [busybox, glibc]) {
      expect(layout.reference).toMatch(
        new RegExp(`^${registry}/sluice-it-${id}/wr-${layout.label}:1\\.0@sha256:[a-f0-9]{64}$`),
      );
      expect(layout.removedLocally).toBe(true);
    }
  });

  it('processes every file with either layout: outputs, records, markers and logs', async () => {
    // moto gives a server-side copy of a multipart object the source's CRC32 header, which the SDK
    // then rejects as a mismatch (AWS recomputes it): read results back without that check.
    const s3Config = busybox.aws.clientConfig();
    const reader = new S3ObjectStore(
      new S3Client({
        ...s3Config,
        credentials: { ...s3Config.credentials },
        responseChecksumValidation: 'WHEN_REQUIRED',
      }),
    );
    const runners = await timed('start runners', () =>
      Promise.all(
        [busybox, glibc].map((layout) => {
          const config = runnerConfig(layout.run, {
            input: { bucket: layout.run.inputBucket, prefix: 'in/', include: ['**'] },
            idleSeconds: 5,
            env: layout.label === 'busybox' ? { GREETING: 'hello' } : {},
            algorithmDigest: layout.digest,
            workerId: `wr-${layout.label}`,
          });
          return startRunner(engine, {
            image: layout.reference,
            name: `sluice-it-${id}-wr-${layout.label}`,
            env: containerEnv(layout.aws, config),
            memoryMiB: localMemoryLimitMiB({ memoryMiB: 128 }),
            manifest: parseManifest(JSON.stringify(layout.manifest), 'algorithm.json'),
          });
        }),
      ),
    );
    try {
      const ended = await timed('runners until idle', () => Promise.all(runners.map((r) => r.finished())));
      for (const [index, layout] of [busybox, glibc].entries()) {
        const { exitCode, lines, stderr } = ended[index] ?? { exitCode: -1, lines: [], stderr: '' };
        const failed = lines.filter((l) => l.level === 'error' || l.event === 'task-attempt-failed');
        // On a failure, show what the runner said.
        const said = exitCode === 0 ? '' : `${stderr}\n${JSON.stringify(lines.slice(-3))}`;
        expect({ layout: layout.label, exitCode, failed, said }).toEqual({
          layout: layout.label,
          exitCode: 0,
          failed: [],
          said: '',
        });
        expect(stderr).not.toMatch(/error/i);
        const commits = lines.filter((l) => l.event === 'task-succeeded' && l.committedHere === true);
        const events: Record<string, number> = {};
        for (const line of lines) events[String(line.event)] = (events[String(line.event)] ?? 0) + 1;
        expect({
          layout: layout.label,
          committed: new Set(commits.map((l) => l.taskId)).size,
          events,
        }).toEqual({
          layout: layout.label,
          committed: KEYS.length,
          events: expect.objectContaining({ 'task-succeeded': expect.any(Number) }),
        });
        expect(commits).toHaveLength(KEYS.length);
        expect(lines.at(-1)).toMatchObject({ event: 'runner-exiting', reason: 'idle' });

        const { run } = layout;
        const download = join(work, `check-${layout.label}`);
        const results = await listKeys(run.store, run.outputBucket, 'results/');
        // plain.txt has env.txt too, from the busybox algorithm.
        expect(results).toHaveLength(KEYS.length * 2 + (layout.label === 'busybox' ? 1 : 0));
        for (const key of KEYS) {
          const body = bodies.get(key) ?? Buffer.alloc(1);
          const head = await run.store.head({ bucket: run.inputBucket, key: `in/${key}` });
          if (head === undefined) throw new Error(`input ${key} missing`);
          const id = taskId({ bucket: run.inputBucket, key: `in/${key}`, etag: head.etag });
          await reader.download({ bucket: run.outputBucket, key: `results/${key}/result.bin` }, download);
          expect({ key, same: (await readFile(download)).equals(body) }).toEqual({ key, same: true });
          const size = await run.store.getText({
            bucket: run.outputBucket,
            key: `results/${key}/meta/size.txt`,
          });
          expect({ key, size: size?.text.trim() }).toEqual({ key, size: String(body.length) });

          const marker = validateCompletionMarker(
            (
              await run.store.getJson({
                bucket: run.outputBucket,
                key: `_sluice/${run.runId}/done/${id}.json`,
              })
            )?.value,
            key,
          );
          expect(marker.algorithmDigest).toBe(layout.digest);
          expect(marker.outputs.map((o) => o.key)).toEqual(
            expect.arrayContaining([`results/${key}/meta/size.txt`, `results/${key}/result.bin`]),
          );
          const record = await readRecord(run, id);
          expect(record).toMatchObject({ status: 'succeeded', algorithmDigest: layout.digest });
          expect(record.input.key).toBe(`in/${key}`);
          expect(record.outputs.map((o) => o.key).sort()).toEqual(marker.outputs.map((o) => o.key).sort());
          const committing = record.attempts.find(
            (a) => a.exitCode === 0 && (a.log !== undefined || a.logKey !== undefined),
          );
          expect(committing).toMatchObject({ attempt: 1, workerId: `wr-${layout.label}`, exitCode: 0 });
          const log = await attemptLogText(run.store, run.outputBucket, committing);
          // The algorithm ran as its image would: in its WORKDIR, as its USER.
          expect(log).toContain(`[stdout] processing `);
          expect(log).toContain(` in ${layout.cwd} as ${layout.uid}`);
        }
        expect(await listKeys(run.store, run.outputBucket, `_sluice/${run.runId}/staging/`)).toEqual([]);
        const counts = await run.queue.counts();
        expect(counts.visible + counts.inFlight).toBe(0);
      }
    } finally {
      for (const runner of runners) await runner.remove();
    }
  });

  it('gives the algorithm in the container no credential, no endpoint and no SLUICE_* setting', async () => {
    const { run, aws } = busybox;
    const dumped = await run.store.getText({ bucket: run.outputBucket, key: 'results/plain.txt/env.txt' });
    const text = dumped?.text ?? '';
    const names = text
      .split('\n')
      .filter((line) => line !== '')
      .map((line) => line.split('=')[0] ?? '');
    expect(names).toContain('GREETING');
    expect(text).toContain('GREETING=hello\n');
    for (const name of names) {
      expect(name).not.toMatch(
        /^(AWS_(ACCESS_KEY_ID|SECRET_ACCESS_KEY|SESSION_TOKEN|SECURITY_TOKEN|PROFILE|ENDPOINT_URL.*)|SLUICE_.*)$/,
      );
    }
    expect(text).not.toContain(LEAK_CANARY);
    expect(text).not.toContain(aws.endpoint);
    expect(text).not.toMatch(/=testing$/m);
  });
});

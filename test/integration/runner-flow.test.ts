// The runner against moto, end to end, in both modes (direct: the runner holds S3/SQS access;
// sealed: it asks a broker on loopback and moves data by presigned requests): 30 files with awkward
// keys delivered by real S3 notifications, two runners on one queue, a message delivered twice, and
// the algorithm's environment.
import { randomBytes } from 'node:crypto';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { afterAll, afterEach, beforeAll, describe, expect, it, jest } from '@jest/globals';
import { S3Client } from '@aws-sdk/client-s3';
import { S3ObjectStore, formatTaskMessage, taskId, validateCompletionMarker } from '@sluice/core';
import { TestAwsAccount, attemptLogText } from '@sluice/testing';

import {
  MODES,
  createRun,
  inProcessRunner,
  startTestBroker,
  listKeys,
  readRecord,
  runUntilIdle,
  runnerConfig,
  runnerEnv,
  writeManifest,
  AWKWARD_KEYS as KEYS,
  type TestBroker,
  type TestRun,
} from './runner-support.js';

jest.setTimeout(120_000);

describe.each(MODES)(
  'runner on moto (%s mode): many awkward files from S3 notifications, two runners',
  (mode) => {
    let aws: TestAwsAccount;
    let run: TestRun;
    let work: string;
    const bodies = new Map<string, Buffer>();
    const brokers: TestBroker[] = [];

    /** The run's broker for runners of this environment (sealed mode), undefined in direct mode. */
    async function brokerFor(env: Record<string, string>): Promise<TestBroker | undefined> {
      if (mode === 'direct') return undefined;
      const broker = await startTestBroker(run, aws.s3, env);
      brokers.push(broker);
      return broker;
    }
    /** The runners' log lines and, in sealed mode, the broker's (where the control's events are). */
    const withBroker = (lines: Record<string, unknown>[], broker: TestBroker | undefined) => [
      ...lines,
      ...(broker?.lines ?? []),
    ];
    afterEach(async () => {
      await Promise.all(brokers.splice(0).map((broker) => broker.close()));
    });

    beforeAll(async () => {
      aws = new TestAwsAccount({ label: 'runner-flow' });
      run = await createRun(aws, { notify: true });
      work = await mkdtemp(join(tmpdir(), 'sluice-flow-'));
      for (const key of KEYS) {
        const body =
          key === 'empty.bin'
            ? Buffer.alloc(0)
            : key === 'big.bin'
              ? randomBytes(20 * 1024 * 1024)
              : Buffer.from(`content of ${key}\n`);
        bodies.set(key, body);
        const file = join(work, 'upload');
        await writeFile(file, body);
        await run.store.upload({ bucket: run.inputBucket, key: `in/${key}` }, file);
      }
      // Not inputs: outside the prefix, and not matching the include globs.
      await run.store.put({ bucket: run.inputBucket, key: 'elsewhere/ignored.txt' }, 'x');
      await run.store.put({ bucket: run.inputBucket, key: 'in/notes.md' }, 'x');
      // A `..` segment never matches a glob (and could not name an output folder).
      await run.store.put({ bucket: run.inputBucket, key: 'in/x/../traversal.txt' }, 'x');
    });
    afterAll(async () => {
      await rm(work, { recursive: true, force: true });
      await rm(run.dir, { recursive: true, force: true });
      await aws.cleanup();
    });

    it('processes every file exactly once with two runners, leaving outputs, records, markers and logs', async () => {
      const manifest = await writeManifest(run, {});
      const config = runnerConfig(run, {
        input: { bucket: run.inputBucket, prefix: 'in/', include: ['**/*.txt', '**/*.bin'] },
      });
      const env = await runnerEnv(aws, run, config, manifest);
      const broker = await brokerFor(env);
      const [first, second] = await Promise.all([
        inProcessRunner(run, await runnerEnv(aws, run, config, manifest), broker),
        inProcessRunner(run, await runnerEnv(aws, run, config, manifest), broker),
      ]);
      // The same task twice on the queue at once: both runners may run it, one commits.
      const plainHead = await run.store.head({ bucket: run.inputBucket, key: 'in/plain.txt' });
      if (plainHead === undefined) throw new Error('plain.txt missing');
      const duplicate = formatTaskMessage({
        sluice: 1,
        runId: run.runId,
        bucket: run.inputBucket,
        key: 'in/plain.txt',
        etag: plainHead.etag,
        size: plainHead.size,
      });
      await run.queue.sendBatch([{ body: duplicate }, { body: duplicate }]);

      await Promise.all(
        [first, second].map(async ({ assembled }) => {
          try {
            await assembled.runner.run(new AbortController().signal);
          } finally {
            await assembled.close();
          }
        }),
      );

      const lines = withBroker([...first.lines, ...second.lines], broker);
      if (process.env.DEBUG_RUNNER) console.log(lines.map((l) => JSON.stringify(l)).join('\n'));
      const commits = lines.filter((l) => l.event === 'task-succeeded' && l.committedHere === true);
      expect(commits).toHaveLength(KEYS.length);
      expect(new Set(commits.map((l) => l.taskId)).size).toBe(KEYS.length);
      expect(
        lines.filter((l) => l.event === 'message-dropped').map((l) => JSON.stringify(l.dropped)),
      ).toEqual(
        expect.arrayContaining([
          expect.stringContaining('outside-prefix'),
          expect.stringContaining('"in/notes.md","reason":"not-included"'),
          expect.stringContaining('"in/x/../traversal.txt","reason":"not-included"'),
        ]),
      );
      expect(first.assembled.runner.stats.tasks.succeeded).toBeGreaterThan(0);
      expect(second.assembled.runner.stats.tasks.succeeded).toBeGreaterThan(0);

      const results = await listKeys(run.store, run.outputBucket, 'results/');
      // moto gives a server-side copy of a multipart object the source's CRC32 header, which the SDK
      // then rejects as a mismatch (AWS recomputes it): read results back without that check.
      const reader = new S3ObjectStore(
        new S3Client({
          ...aws.clientConfig(),
          credentials: { ...aws.clientConfig().credentials },
          responseChecksumValidation: 'WHEN_REQUIRED',
        }),
      );
      expect(results).toHaveLength(KEYS.length * 2);
      for (const key of KEYS) {
        const head = await run.store.head({ bucket: run.inputBucket, key: `in/${key}` });
        if (head === undefined) throw new Error(`input ${key} missing`);
        const id = taskId({ bucket: run.inputBucket, key: `in/${key}`, etag: head.etag });
        const download = join(work, 'check');
        await reader.download({ bucket: run.outputBucket, key: `results/${key}/result.bin` }, download);
        expect((await readFile(download)).equals(bodies.get(key) ?? Buffer.alloc(1))).toBe(true);
        const size = await run.store.getText({
          bucket: run.outputBucket,
          key: `results/${key}/meta/size.txt`,
        });
        expect(size?.text.trim()).toBe(String(bodies.get(key)?.length));

        const marker = await run.store.getJson({
          bucket: run.outputBucket,
          key: `_sluice/${run.runId}/done/${id}.json`,
        });
        const parsedMarker = validateCompletionMarker(marker?.value, key);
        expect(parsedMarker.outputs.map((o) => o.key).sort()).toEqual([
          `results/${key}/meta/size.txt`,
          `results/${key}/result.bin`,
        ]);
        const record = await readRecord(run, id);
        expect(record.status).toBe('succeeded');
        expect(record.input.key).toBe(`in/${key}`);
        expect(record.outputs).toHaveLength(2);
        // Concurrent duplicates (moto sends two events for a multipart upload) each record an attempt;
        // the record is read-modify-write, so either may be the one kept.
        const committing = record.attempts.find(
          (a) => a.exitCode === 0 && (a.log !== undefined || a.logKey !== undefined),
        );
        expect(committing?.exitCode).toBe(0);
        expect(committing?.phases.runMs).toBeGreaterThanOrEqual(0);
        // A small log is kept in the record itself; a larger one at its own key.
        if (committing?.logKey !== undefined)
          expect(committing.logKey).toMatch(new RegExp(`^_sluice/${run.runId}/logs/${id}/\\d\\.log$`));
        expect(await attemptLogText(run.store, run.outputBucket, committing)).toContain(
          '[stdout] processing',
        );
      }
      // Staging is cleared after each commit; claims stay as evidence of who committed.
      expect(await listKeys(run.store, run.outputBucket, `_sluice/${run.runId}/staging/`)).toEqual([]);
      expect((await run.queue.counts()).visible + (await run.queue.counts()).inFlight).toBe(0);
    });

    it('skips a task delivered again after it is done, leaving one set of outputs', async () => {
      const head = await run.store.head({ bucket: run.inputBucket, key: 'in/plain.txt' });
      if (head === undefined) throw new Error('missing');
      const before = await run.store.head({ bucket: run.outputBucket, key: 'results/plain.txt/result.bin' });
      await run.queue.sendBatch([
        {
          body: formatTaskMessage({
            sluice: 1,
            runId: run.runId,
            bucket: run.inputBucket,
            key: 'in/plain.txt',
            etag: head.etag,
            size: head.size,
          }),
        },
      ]);
      const manifest = await writeManifest(run, {});
      const config = runnerConfig(run, {
        input: { bucket: run.inputBucket, prefix: 'in/', include: ['**'] },
      });
      const env = await runnerEnv(aws, run, config, manifest);
      const broker = await brokerFor(env);
      const lines = withBroker(await runUntilIdle(run, env, broker), broker);
      expect(lines.filter((l) => l.event === 'task-already-done')).toHaveLength(1);
      const after = await run.store.head({ bucket: run.outputBucket, key: 'results/plain.txt/result.bin' });
      expect(after?.lastModified).toEqual(before?.lastModified);
      expect(await listKeys(run.store, run.outputBucket, 'results/plain.txt/')).toHaveLength(2);
    });

    it('gives the algorithm no AWS credential and no SLUICE_* setting, and masks secrets', async () => {
      await run.store.put({ bucket: run.inputBucket, key: 'env/probe.txt' }, 'probe');
      const manifest = await writeManifest(
        run,
        { env: { MODE: {}, WATERMARK_TOKEN: { secret: true } } },
        'env.json',
      );
      const config = runnerConfig(run, {
        input: { bucket: run.inputBucket, prefix: 'env/', include: ['**'] },
        env: { MODE: 'env' },
        secretEnv: ['WATERMARK_TOKEN'],
      });
      const env = await runnerEnv(aws, run, config, manifest, { WATERMARK_TOKEN: 'hunter2-secret' });
      const broker = await brokerFor(env);
      const lines = withBroker(await runUntilIdle(run, env, broker), broker);
      expect(lines.some((l) => l.event === 'task-succeeded')).toBe(true);
      const dumped = await run.store.getText({ bucket: run.outputBucket, key: 'results/probe.txt/env.txt' });
      const names = (dumped?.text ?? '').split('\n').map((line) => line.split('=')[0]);
      expect(names).toContain('MODE');
      expect(names).toContain('WATERMARK_TOKEN');
      for (const name of names) {
        expect(name).not.toMatch(/^(AWS_(ACCESS_KEY_ID|SECRET_ACCESS_KEY|SESSION_TOKEN|PROFILE)|SLUICE_)/);
      }
      expect(dumped?.text).not.toContain('session-token-that-must-not-leak');
      expect(dumped?.text).not.toMatch(/=testing$/m);
      const record = await readRecord(run, String(lines.find((l) => l.event === 'task-succeeded')?.taskId));
      const log = await attemptLogText(run.store, run.outputBucket, record.attempts[0]);
      expect(log).toContain('token is ***');
      expect(log).not.toContain('hunter2-secret');
      expect(JSON.stringify(lines)).not.toContain('hunter2-secret');
    });
  },
);

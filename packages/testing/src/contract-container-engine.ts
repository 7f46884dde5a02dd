// What every ContainerEngine must do, as sluice's callers use it (wrap builds and inspects, the local
// backend runs, lists, stops and removes labelled runners, wrap pushes by digest), written once and
// run against the fake (unit tests) and podman (integration tests), so the fake cannot drift.
// One image is built per suite: the contract program below, which the fake runs as a function.
import { copyFileSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import {
  ImageNotFoundError,
  withDigest,
  type ContainerEngine,
  type ImageLister,
  type RunContainerOptions,
} from '@sluice/core/compute';

import type { FakeProgram } from './fake-container-engine.js';

/** Per test: generous, since against podman every step starts a real container. */
const TIMEOUT_MS = 120_000;

/** A fresh engine and the directory to build the contract image from, for one suite. */
export interface ContainerEngineHarness {
  readonly engine: ContainerEngine & ImageLister;
  /** A build context made by {@link writeContractImageContext}. */
  readonly context: string;
  /** Unique to this suite; images are `localhost/<id>/…`, containers and labels carry it too. */
  readonly id: string;
  /** A registry that takes pushes (`host:port`); the push test is left out without one. */
  readonly registry?: string;
  cleanup(): Promise<void>;
}

/** Processes the probe tries to start at once; a pids limit below it must refuse some. */
const PROBE_FORKS = 40;

/**
 * The contract image's entrypoint: it writes `$OUT` to stdout and `$ERR` to stderr, then either
 * exits with `$CODE` (default 0) or, with `STAY=1`, runs until SIGTERM and exits 0. With `PROBE=1`
 * it prints first what the container allows (see {@link probeOutcome}).
 */
const CONTRACT_SCRIPT = [
  '#!/bin/sh',
  'if [ "$PROBE" = 1 ]; then',
  '  touch /probe 2>/dev/null && echo root=writable || echo root=denied',
  '  touch /tmp/probe 2>/dev/null && echo tmp=writable || echo tmp=denied',
  '  touch /scratch/probe 2>/dev/null && echo scratch=writable || echo scratch=denied',
  "  grep -q '^CapEff:.0000000000000000$' /proc/self/status && echo caps=none || echo caps=some",
  "  grep -q '^NoNewPrivs:.1$' /proc/self/status && echo new-privileges=no || echo new-privileges=yes",
  `  (for i in $(seq 1 ${PROBE_FORKS}); do sleep 1 >/dev/null 2>&1 & done) 2>&1 | grep -q "fork" && echo forks=refused || echo forks=allowed`,
  'fi',
  'printf "%s" "$OUT"',
  'printf "%s" "$ERR" >&2',
  'if [ "$STAY" = 1 ]; then',
  '  trap "exit 0" TERM',
  '  while true; do sleep 0.1; done',
  'fi',
  'exit "${CODE:-0}"',
  '',
].join('\n');

/**
 * The fake's version of the contract image's entrypoint (see {@link writeContractImageContext}).
 *
 * @example
 * const engine = new FakeContainerEngine({ program: CONTAINER_CONTRACT_PROGRAM });
 */
export const CONTAINER_CONTRACT_PROGRAM: FakeProgram = (options: RunContainerOptions) => {
  const env = options.env ?? {};
  if (env.STAY === '1') return 'running';
  const probe = env.PROBE === '1' ? `${probeOutcome(options).join('\n')}\n` : '';
  return { exitCode: Number(env.CODE ?? '0'), stdout: probe + (env.OUT ?? ''), stderr: env.ERR ?? '' };
};

/**
 * What the contract image's probe prints in a container run with these options, as a real engine
 * enforces them: a FROM-scratch `/` is mode 0555, so root writes it only while it keeps
 * DAC_OVERRIDE; /tmp and /scratch are not in the image, so only a mount makes them writable.
 */
function probeOutcome(options: RunContainerOptions): string[] {
  const dropped = options.capDrop?.includes('ALL') === true;
  const added = options.capAdd ?? [];
  const mounted = [...(options.tmpfs ?? []), ...(options.scratchVolumes ?? [])];
  const rootWritable =
    options.readOnlyRootFilesystem !== true && (!dropped || added.includes('DAC_OVERRIDE'));
  return [
    `root=${rootWritable ? 'writable' : 'denied'}`,
    `tmp=${mounted.includes('/tmp') ? 'writable' : 'denied'}`,
    `scratch=${mounted.includes('/scratch') ? 'writable' : 'denied'}`,
    `caps=${dropped && added.length === 0 ? 'none' : 'some'}`,
    `new-privileges=${options.noNewPrivileges === true ? 'no' : 'yes'}`,
    `forks=${options.pidsLimit !== undefined && options.pidsLimit < PROBE_FORKS ? 'refused' : 'allowed'}`,
  ];
}

/**
 * Writes the contract image's build context to `dir`: FROM scratch, busybox and the contract
 * script as entrypoint. Give `busybox` (a static busybox binary) for a real engine; a fake builds
 * nothing, so it needs none.
 *
 * @example
 * const context = writeContractImageContext(join(work, 'image'), '/bin/busybox');
 */
export function writeContractImageContext(dir: string, busybox?: string): string {
  mkdirSync(dir, { recursive: true });
  if (busybox !== undefined) copyFileSync(busybox, join(dir, 'busybox'));
  writeFileSync(join(dir, 'contract.sh'), CONTRACT_SCRIPT, { mode: 0o755 });
  writeFileSync(
    join(dir, 'Containerfile'),
    [
      'FROM scratch',
      'COPY busybox /bin/busybox',
      'RUN ["/bin/busybox", "--install", "-s", "/bin"]',
      'COPY contract.sh /contract.sh',
      'LABEL org.sluice.contract=image',
      'ENTRYPOINT ["/bin/sh", "/contract.sh"]',
      '',
    ].join('\n'),
  );
  return dir;
}

/**
 * Registers the ContainerEngine contract tests under `describe(name)`; `makeHarness` runs once
 * before them, and the contract image is built from its context.
 *
 * @example
 * describeContainerEngineContract('FakeContainerEngine', async () => ({
 *   engine: new FakeContainerEngine({ program: CONTAINER_CONTRACT_PROGRAM }),
 *   context: writeContractImageContext(mkdtempSync(join(tmpdir(), 'c-'))),
 *   id: 'fake',
 *   registry: 'registry.example',
 *   cleanup: async () => {},
 * }));
 */
export function describeContainerEngineContract(
  name: string,
  makeHarness: () => Promise<ContainerEngineHarness>,
): void {
  describe(`ContainerEngine contract: ${name}`, () => {
    let h: ContainerEngineHarness;
    let image = '';
    let imageId = '';
    let label = '';
    const run = (overrides: Partial<RunContainerOptions> = {}): RunContainerOptions => ({
      image,
      network: 'none',
      labels: { [label]: 'yes' },
      ...overrides,
    });

    beforeAll(async () => {
      h = await makeHarness();
      image = `localhost/sluice-contract-${h.id}/engine:1`;
      label = `org.sluice.contract-${h.id}`;
      imageId = await h.engine.build({
        context: h.context,
        containerfile: join(h.context, 'Containerfile'),
        platform: 'linux/amd64',
        tags: [image],
        labels: { [label]: 'built' },
      });
    }, TIMEOUT_MS * 2);

    afterAll(async () => {
      const left = await h.engine.listContainers(label);
      await h.engine.remove(left.map((c) => c.id));
      await h.engine.removeImages([imageId]);
      await h.cleanup();
    }, TIMEOUT_MS);

    it('builds an image and finds it by tag, by id and by its build labels', async () => {
      const byTag = await h.engine.inspectImage(image);
      const byId = await h.engine.inspectImage(imageId);
      const listed = await h.engine.listImages(`${label}=built`);

      expect(imageId).toMatch(/^sha256:[a-f0-9]{64}$/);
      expect(byTag.id).toBe(imageId);
      expect(byId.id).toBe(imageId);
      expect(byTag.repoTags).toContain(image);
      expect(byTag.labels).toMatchObject({ [label]: 'built' });
      expect(byTag.platform).toBe('linux/amd64');
      expect(await h.engine.imageExists(image)).toBe(true);
      expect(listed.map((i) => i.id)).toEqual([imageId]);
    });

    it('says when an image is not there, and removes one that is not there without complaint', async () => {
      const missing = `localhost/sluice-contract-${h.id}/missing:1`;

      await expect(h.engine.inspectImage(missing)).rejects.toThrow(ImageNotFoundError);
      expect(await h.engine.imageExists(missing)).toBe(false);
      await expect(h.engine.removeImages([missing])).resolves.toBeUndefined();
    });

    it('tags an image, and removing the tag leaves the image under its other tag', async () => {
      const other = `localhost/sluice-contract-${h.id}/other:2`;

      await h.engine.tag(image, other);
      const tagged = await h.engine.inspectImage(other);
      await h.engine.removeImages([other]);

      expect(tagged.id).toBe(imageId);
      expect(await h.engine.imageExists(other)).toBe(false);
      expect(await h.engine.imageExists(image)).toBe(true);
    });

    it(
      'runs a container attached: exit code, stdout and stderr; the values come from env',
      async () => {
        const result = await h.engine.run(
          run({ remove: true, env: { OUT: 'hello out', ERR: 'hello err', CODE: '3' } }),
        );

        expect(result.exitCode).toBe(3);
        expect(result.stdout).toBe('hello out');
        expect(result.stderr).toContain('hello err');
      },
      TIMEOUT_MS,
    );

    it(
      'hardens a container: no capabilities, no new privileges, a pids limit, a read-only root with writable mounts',
      async () => {
        const hardened = await h.engine.run(
          run({
            remove: true,
            env: { PROBE: '1' },
            capDrop: ['ALL'],
            noNewPrivileges: true,
            pidsLimit: 16,
            readOnlyRootFilesystem: true,
            tmpfs: ['/tmp'],
            scratchVolumes: ['/scratch'],
          }),
        );
        const plain = await h.engine.run(run({ remove: true, env: { PROBE: '1' } }));
        const writable = await h.engine.run(run({ remove: true, env: { PROBE: '1' }, capDrop: ['ALL'] }));

        expect(hardened.stdout.trim().split('\n')).toEqual([
          'root=denied',
          'tmp=writable',
          'scratch=writable',
          'caps=none',
          'new-privileges=no',
          'forks=refused',
        ]);
        expect(plain.stdout.trim().split('\n')).toEqual([
          'root=writable',
          'tmp=denied',
          'scratch=denied',
          'caps=some',
          'new-privileges=yes',
          'forks=allowed',
        ]);
        // Without DAC_OVERRIDE even root cannot write a FROM-scratch image's `/` (mode 0555).
        expect(writable.stdout.split('\n')[0]).toBe('root=denied');
      },
      TIMEOUT_MS,
    );

    it(
      'runs a container detached; wait returns its exit code and logs what it wrote',
      async () => {
        const name = `sluice-contract-${h.id}-exits`;
        const id = await h.engine.runDetached(run({ name, env: { OUT: 'done', CODE: '5' } }));

        const exitCode = await h.engine.wait(name);
        const details = await h.engine.inspectContainer(id);
        const logs = await h.engine.logs(name);
        await h.engine.remove([name]);

        expect(exitCode).toBe(5);
        expect(details).toMatchObject({ id, name, running: false, status: 'exited', exitCode: 5 });
        expect(logs.stdout).toBe('done');
      },
      TIMEOUT_MS,
    );

    it(
      'lists running containers by label, stops and removes them; a name in use is refused',
      async () => {
        const name = `sluice-contract-${h.id}-stays`;
        const id = await h.engine.runDetached(
          run({ name, env: { STAY: '1' }, labels: { [label]: 'yes', [`${label}-role`]: 'worker' } }),
        );

        const byValue = await h.engine.listContainers(`${label}-role=worker`);
        const byKey = await h.engine.listContainers(`${label}-role`);
        const other = await h.engine.listContainers(`${label}-role=other`);
        await expect(h.engine.runDetached(run({ name, env: { STAY: '1' } }))).rejects.toThrow();
        await h.engine.stop(name, { timeoutSeconds: 5 });
        const stopped = await h.engine.inspectContainer(name);
        const exitCode = await h.engine.wait(name);
        await h.engine.remove([id]);
        await h.engine.remove([id]);

        expect(byValue.map((c) => [c.id, c.name, c.running])).toEqual([[id, name, true]]);
        expect(byValue[0]?.labels).toMatchObject({ [`${label}-role`]: 'worker' });
        expect(byKey.map((c) => c.id)).toEqual([id]);
        expect(other).toEqual([]);
        expect(stopped).toMatchObject({ running: false, status: 'exited' });
        expect(exitCode).toBe(0);
        expect(await h.engine.listContainers(`${label}-role`)).toEqual([]);
      },
      TIMEOUT_MS,
    );

    it(
      'pushes a tag and returns the digest it can then be pulled by, as the same image',
      async () => {
        if (h.registry === undefined) return;
        const remote = `${h.registry}/sluice-contract-${h.id}/engine:1`;
        await h.engine.tag(image, remote);

        const digest = await h.engine.push(remote);
        const reference = withDigest(remote, digest);
        await h.engine.pull(reference);
        const pulled = await h.engine.inspectImage(reference);
        await h.engine.removeImages([remote]);

        expect(digest).toMatch(/^sha256:[a-f0-9]{64}$/);
        expect(pulled.id).toBe(imageId);
      },
      TIMEOUT_MS,
    );
  });
}

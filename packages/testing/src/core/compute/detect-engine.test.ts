// detectContainerEngine's choice against a scripted CommandRunner. Here rather than in packages/core
// because a core test importing @sluice/testing would make the two projects depend on each other.
import { describe, expect, it } from '@jest/globals';
import { ConfigurationError } from '@sluice/core';
import { detectContainerEngine } from '@sluice/core/compute';

import { FakeCommandRunner } from '../../fake-command-runner.js';

describe('detectContainerEngine', () => {
  it('takes SLUICE_CONTAINER_ENGINE as given without probing', async () => {
    const runner = new FakeCommandRunner(() => 'missing');

    const engine = await detectContainerEngine({
      environment: { SLUICE_CONTAINER_ENGINE: 'podman' },
      runner,
    });

    expect(engine.kind).toBe('podman');
    expect(runner.calls).toHaveLength(0);
  });

  it('refuses an engine it does not know', async () => {
    await expect(
      detectContainerEngine({
        environment: { SLUICE_CONTAINER_ENGINE: 'nerdctl' },
        runner: new FakeCommandRunner(() => ({})),
      }),
    ).rejects.toThrow(/SLUICE_CONTAINER_ENGINE="nerdctl" is not an engine sluice can use/);
  });

  it('picks docker when a daemon answers', async () => {
    const engine = await detectContainerEngine({
      environment: {},
      runner: new FakeCommandRunner(() => ({ stdout: '"28.2.2"' })),
    });

    expect(engine.kind).toBe('docker');
  });

  it('falls back to podman when docker is there but no daemon answers', async () => {
    const runner = new FakeCommandRunner((call) =>
      call.file === 'docker'
        ? { exitCode: 1, stderr: 'Cannot connect to the Docker daemon' }
        : { stdout: 'podman version 4.3.1' },
    );

    const engine = await detectContainerEngine({ environment: {}, runner });

    expect(engine.kind).toBe('podman');
  });

  it('says what to install when there is neither', async () => {
    const runner = new FakeCommandRunner((call) =>
      call.file === 'docker' ? { exitCode: 1, stderr: 'Cannot connect to the Docker daemon' } : 'missing',
    );

    const error = await detectContainerEngine({ environment: {}, runner }).catch((e: unknown) => e);

    expect(error).toBeInstanceOf(ConfigurationError);
    expect((error as Error).message).toMatch(
      /no Docker daemon answers \(Cannot connect to the Docker daemon\), and podman is not installed\. Install Docker/,
    );
  });
});

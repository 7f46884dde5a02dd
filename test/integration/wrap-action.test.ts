// Integration: the committed wrap-algorithm bundle (actions/wrap-algorithm/dist/index.js) run as a
// process the way GitHub's runner runs it (INPUT_* variables, a GITHUB_OUTPUT file), with podman,
// the local registry and the moto server: it builds a FROM-scratch busybox algorithm, wraps it with
// the real runner bundle (dist/runner/, copied there by the action's build), pushes it and registers
// its task definition. A second run of the unchanged algorithm must reuse everything, quickly.
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import {
  copyFileSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { DescribeTaskDefinitionCommand, ECSClient } from '@aws-sdk/client-ecs';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { CliContainerEngine, WRAPPED_LABELS } from '@sluice/core/compute';
import { EcsCatalogue, EcsTaskDefinitions } from '@sluice/core/ecs';
import {
  REPOSITORY_ROOT,
  TESTBED_CREDENTIALS,
  containerEngineEnv,
  testbedAwsClientConfig,
  testbedEndpoints,
} from '@sluice/testing';

const bundle = join(REPOSITORY_ROOT, 'actions/wrap-algorithm/dist/index.js');

interface StepRun {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
  readonly outputs: Record<string, string>;
  readonly ms: number;
}

/** Reads a GITHUB_OUTPUT file: `name<<DELIMITER\nvalue\nDELIMITER` entries, as @actions/core writes them. */
function readOutputs(file: string): Record<string, string> {
  const outputs: Record<string, string> = {};
  const lines = readFileSync(file, 'utf8').split('\n');
  for (let i = 0; i < lines.length; i++) {
    const match = /^([^<=]+)<<(.+)$/.exec(lines[i] ?? '');
    if (match === null) continue;
    const [, name = '', delimiter] = match;
    const value: string[] = [];
    for (i++; i < lines.length && lines[i] !== delimiter; i++) value.push(lines[i] ?? '');
    outputs[name] = value.join('\n');
  }
  return outputs;
}

describe('the wrap-algorithm bundle with podman, the local registry and moto', () => {
  const id = randomBytes(4).toString('hex');
  const { registry, awsEndpoint, region } = testbedEndpoints();
  const engine = new CliContainerEngine({ kind: 'podman', env: { ...containerEngineEnv() } });
  const ecs = new ECSClient(testbedAwsClientConfig());
  const work = mkdtempSync(join(tmpdir(), 'sluice-wrap-action-'));
  const name = `it-action-${id}`;
  const remote = `${registry}/sluice/${name}:1.0`;
  let first: StepRun;
  let second: StepRun;

  async function step(inputs: Record<string, string>): Promise<StepRun> {
    const output = join(work, `output-${randomBytes(3).toString('hex')}`);
    writeFileSync(output, '');
    const env: NodeJS.ProcessEnv = {};
    for (const [key, value] of Object.entries(process.env)) {
      if (!/^(INPUT_|STATE_|GITHUB_|RUNNER_|ACTIONS_|AWS_)/.test(key)) env[key] = value;
    }
    Object.assign(env, containerEngineEnv(), {
      GITHUB_OUTPUT: output,
      GITHUB_STATE: join(work, 'state'),
      SLUICE_CONTAINER_ENGINE: 'podman',
      SLUICE_CACHE_DIR: join(work, 'cache'),
      AWS_ENDPOINT_URL: awsEndpoint,
      AWS_ACCESS_KEY_ID: TESTBED_CREDENTIALS.accessKeyId,
      AWS_SECRET_ACCESS_KEY: TESTBED_CREDENTIALS.secretAccessKey,
      AWS_REGION: region,
    });
    for (const [key, value] of Object.entries(inputs)) env[`INPUT_${key.toUpperCase()}`] = value;
    const started = Date.now();
    return new Promise((resolve, reject) => {
      const child = spawn(process.execPath, [bundle], { cwd: work, env, stdio: ['ignore', 'pipe', 'pipe'] });
      let stdout = '';
      let stderr = '';
      child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
      child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
      child.on('error', reject);
      child.on('close', (code) => {
        resolve({ code, stdout, stderr, outputs: readOutputs(output), ms: Date.now() - started });
      });
    });
  }

  beforeAll(async () => {
    // The real runner bundle, not a stand-in: the action's build copies it into dist/runner/.
    for (const file of [bundle, join(REPOSITORY_ROOT, 'actions/wrap-algorithm/dist/runner/index.js')]) {
      if (!existsSync(file)) {
        throw new Error(`${file} is missing: build it with npm run build -w @sluice/action-wrap-algorithm`);
      }
    }
    const algorithm = join(work, 'algorithm');
    mkdirSync(join(algorithm, 'image'), { recursive: true });
    copyFileSync('/bin/busybox', join(algorithm, 'image', 'busybox'));
    writeFileSync(
      join(algorithm, 'image', 'Containerfile'),
      [
        'FROM scratch',
        'COPY busybox /bin/busybox',
        'RUN ["/bin/busybox", "--install", "-s", "/bin"]',
        'ENTRYPOINT ["/bin/sh", "-c"]',
        'CMD ["cp /data/in/* /data/out/"]',
        '',
      ].join('\n'),
    );
    writeFileSync(
      join(algorithm, 'algorithm.json'),
      JSON.stringify({
        name,
        version: '1.0',
        build: { context: 'image', dockerfile: 'Containerfile' },
        memory: 64,
        env: { GREETING: { default: 'hello' } },
      }),
    );
    const inputs = { manifest: join(algorithm, 'algorithm.json'), registry, region };
    first = await step(inputs);
    second = await step(inputs);
    console.info(`wrap-algorithm as a process: first run ${first.ms} ms, second run ${second.ms} ms`);
  }, 600000);

  afterAll(async () => {
    await engine.removeImages([
      remote,
      `localhost/sluice/${name}:1.0`,
      `localhost/sluice/${name}-algorithm:1.0`,
    ]);
    ecs.destroy();
    rmSync(work, { recursive: true, force: true });
  }, 120000);

  it('outputs the pushed image with its digest and the registered task definition', async () => {
    // stderr is not checked: under Node 20 the AWS SDK warns there that it will soon need Node 22.
    expect(first.stdout).not.toMatch(/^::error/m);
    expect(first.code).toBe(0);
    expect(first.outputs.image).toMatch(new RegExp(`^${registry}/sluice/${name}:1\\.0@sha256:[a-f0-9]{64}$`));
    expect(first.outputs['task-definition']).toMatch(
      new RegExp(`^arn:aws:ecs:${region}:[0-9]{12}:task-definition/sluice-${name}:1$`),
    );
    const digest = first.outputs.image?.split('@')[1] ?? '';
    const pushed = await fetch(`http://${registry}/v2/sluice/${name}/manifests/${digest}`, {
      method: 'HEAD',
      headers: {
        Accept:
          'application/vnd.oci.image.manifest.v1+json, application/vnd.docker.distribution.manifest.v2+json',
      },
    });
    expect(pushed.status).toBe(200);
  });

  it('registers a task definition running that image, found again through the catalogue', async () => {
    const arn = first.outputs['task-definition'] ?? '';
    const described = await ecs.send(new DescribeTaskDefinitionCommand({ taskDefinition: arn }));
    const container = described.taskDefinition?.containerDefinitions?.[0];
    const entry = await new EcsCatalogue({ taskDefinitions: new EcsTaskDefinitions(ecs), region }).resolve(
      `${name}@1.0`,
    );

    expect(container).toMatchObject({
      name: 'algorithm',
      image: first.outputs.image,
      memory: 64 + 128,
      environment: [{ name: 'GREETING', value: 'hello' }],
    });
    expect(entry).toMatchObject({ image: first.outputs.image, taskDefinitionArn: arn });
    expect(entry.manifest.name).toBe(name);
  });

  it('wraps the real runner bundle into the image', async () => {
    const details = await engine.inspectImage(remote);

    expect(details.labels[WRAPPED_LABELS.algorithm]).toBe(`${name}@1.0`);
    expect(details.entrypoint?.at(-1)).toBe('/sluice/runner/index.js');
  });

  it('reuses the image and the task definition on a second run of the unchanged algorithm', () => {
    expect(second.code).toBe(0);
    expect(second.outputs).toEqual(first.outputs);
    expect(second.stdout).toContain('reused');
    expect(second.ms).toBeLessThan(30000);
  });
});

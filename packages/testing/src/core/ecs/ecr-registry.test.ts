// EcrRegistry against a stand-in ECR client (the SDK's, not one of ours: it stays here) and the
// recording logger. Here rather than in packages/core because a core test importing @sluice/testing
// would make the two projects depend on each other (nx refuses the cycle).
import {
  CreateRepositoryCommand,
  DescribeRepositoriesCommand,
  ECRServiceException,
  GetAuthorizationTokenCommand,
  type ECRClient,
} from '@aws-sdk/client-ecr';
import { describe, expect, it } from '@jest/globals';
import type { RegistryLogin } from '@sluice/core/compute';
import { EcrRegistry, ecrRegistryHost, ecrRepositoryName } from '@sluice/core/ecs';

import { RecordingLogger } from '../../recording-logger.js';

const HOST = '123456789012.dkr.ecr.eu-west-1.amazonaws.com';

/** The part of ECRClient EcrRegistry uses, answering like ECR; it keeps the requests it was sent. */
class FakeEcr {
  readonly sent: unknown[] = [];
  readonly repositories = new Set<string>(['sluice/existing']);

  send(command: unknown): Promise<unknown> {
    this.sent.push(command);
    if (command instanceof GetAuthorizationTokenCommand) {
      return Promise.resolve({
        authorizationData: [
          {
            authorizationToken: Buffer.from('AWS:s3cr3t-t0ken').toString('base64'),
            proxyEndpoint: `https://${HOST}`,
            expiresAt: new Date('2030-01-01T00:00:00Z'),
          },
        ],
      });
    }
    if (command instanceof CreateRepositoryCommand) {
      const name = command.input.repositoryName ?? '';
      if (this.repositories.has(name)) {
        return Promise.reject(
          new ECRServiceException({
            name: 'RepositoryAlreadyExistsException',
            $fault: 'client',
            $metadata: { httpStatusCode: 400 },
            message: `The repository with name '${name}' already exists`,
          }),
        );
      }
      this.repositories.add(name);
      return Promise.resolve({ repository: { repositoryName: name, repositoryUri: `${HOST}/${name}` } });
    }
    if (command instanceof DescribeRepositoriesCommand) {
      const name = command.input.repositoryNames?.[0] ?? '';
      return Promise.resolve({ repositories: [{ repositoryName: name, repositoryUri: `${HOST}/${name}` }] });
    }
    return Promise.reject(new Error('not faked'));
  }
}

describe('EcrRegistry', () => {
  it('logs the engine in with the token as a secret, and never logs it', async () => {
    const logger = new RecordingLogger();
    const logins: RegistryLogin[] = [];
    const registry = new EcrRegistry(new FakeEcr() as unknown as ECRClient, { logger });

    const host = await registry.login({
      login: (credentials) => {
        logins.push(credentials);
        return Promise.resolve();
      },
    });

    expect(host).toBe(HOST);
    expect(logins).toEqual([
      { registry: HOST, username: 'AWS', password: 's3cr3t-t0ken', expiresAt: expect.any(Date) },
    ]);
    expect(logger.secrets).toContain('s3cr3t-t0ken');
    expect(logger.lines.join('\n')).not.toContain('s3cr3t');
  });

  it('creates a missing repository scanned on push and tagged, and finds an existing one', async () => {
    const ecr = new FakeEcr();
    const registry = new EcrRegistry(ecr as unknown as ECRClient);

    const created = await registry.ensureRepository('sluice/thumbs', {
      tags: { 'sluice:algorithm': 'thumbs' },
      immutableTags: true,
    });
    const existing = await registry.ensureRepository('sluice/existing');

    expect(created).toEqual({ name: 'sluice/thumbs', uri: `${HOST}/sluice/thumbs`, created: true });
    expect(existing).toEqual({ name: 'sluice/existing', uri: `${HOST}/sluice/existing`, created: false });
    expect((ecr.sent[0] as CreateRepositoryCommand).input).toEqual({
      repositoryName: 'sluice/thumbs',
      imageScanningConfiguration: { scanOnPush: true },
      imageTagMutability: 'IMMUTABLE',
      tags: [{ Key: 'sluice:algorithm', Value: 'thumbs' }],
    });
  });

  it('names registries and repositories', () => {
    expect(ecrRegistryHost('123456789012', 'eu-west-1')).toBe(HOST);
    expect(ecrRegistryHost('123456789012', 'cn-north-1')).toBe(
      '123456789012.dkr.ecr.cn-north-1.amazonaws.com.cn',
    );
    expect(ecrRepositoryName('thumbs')).toBe('sluice/thumbs');
  });
});

// Amazon ECR as the registry of wrapped images: a login for the container engine from
// GetAuthorizationToken, and the repository created when it is missing. The token is a password: it
// goes to the engine on standard input and is masked in every log, never put on a command line.
import {
  CreateRepositoryCommand,
  DescribeRepositoriesCommand,
  GetAuthorizationTokenCommand,
  type ECRClient,
} from '@aws-sdk/client-ecr';

import { InfrastructureError } from '../errors.js';
import { silentLogger, type Logger } from '../logging/logger.js';
import { classifyAwsError, describeAwsError } from '../aws/errors.js';
import type { ContainerEngine, RegistryLogin } from '../compute/container-engine.js';

/**
 * The host of an account's ECR registry in a region: `<account>.dkr.ecr.<region>.amazonaws.com`
 * (`.amazonaws.com.cn` in the China regions).
 *
 * @example
 * ecrRegistryHost('123456789012', 'eu-west-1'); // '123456789012.dkr.ecr.eu-west-1.amazonaws.com'
 * @throws never.
 */
export function ecrRegistryHost(accountId: string, region: string): string {
  return `${accountId}.dkr.ecr.${region}.amazonaws.com${region.startsWith('cn-') ? '.cn' : ''}`;
}

/**
 * The ECR repository of an algorithm's wrapped images: `sluice/<name>`.
 *
 * @example
 * ecrRepositoryName('thumbs'); // 'sluice/thumbs'
 * @throws never.
 */
export function ecrRepositoryName(name: string): string {
  return `sluice/${name}`;
}

/** Credentials for the engine, and until when they hold. */
export interface EcrAuthorization extends RegistryLogin {
  readonly expiresAt?: Date;
}

/** How a repository is made when it is missing. */
export interface EnsureRepositoryOptions {
  /** Tags of a new repository (an existing one keeps its own). */
  readonly tags?: Readonly<Record<string, string>>;
  /** IMMUTABLE tags: a pushed tag can never point at another image. Default false (mutable). */
  readonly immutableTags?: boolean;
}

/** A repository that exists now. */
export interface EcrRepository {
  readonly name: string;
  /** `<registry host>/<name>`, the reference to tag and push. */
  readonly uri: string;
  /** True when this call created it. */
  readonly created: boolean;
}

/**
 * An account's ECR registry in one region.
 *
 * @example
 * const ecr = new EcrRegistry(new ECRClient({ region: 'eu-west-1' }), { logger });
 * const host = await ecr.login(engine);
 * const { uri } = await ecr.ensureRepository('sluice/thumbs', { tags: { 'sluice:algorithm': 'thumbs' } });
 * @throws {ConfigurationError} when access is denied; AwsRequestError for other faults.
 */
export class EcrRegistry {
  private readonly logger: Logger;

  constructor(
    private readonly client: ECRClient,
    options: { readonly logger?: Logger } = {},
  ) {
    this.logger = options.logger ?? silentLogger;
  }

  /**
   * The engine's credentials for this account's registry, from GetAuthorizationToken (valid for 12
   * hours). The password is marked secret with the logger before anything else happens to it.
   *
   * @throws {ConfigurationError} when access is denied; AwsRequestError for faults.
   */
  async authorization(): Promise<EcrAuthorization> {
    let data;
    try {
      data = (await this.client.send(new GetAuthorizationTokenCommand({}))).authorizationData?.[0];
    } catch (thrown: unknown) {
      throw classifyAwsError(thrown, 'ECR.GetAuthorizationToken', 'the default registry');
    }
    const token = data?.authorizationToken;
    const endpoint = data?.proxyEndpoint;
    if (token === undefined || endpoint === undefined) {
      throw new InfrastructureError('ECR.GetAuthorizationToken returned no token or no registry endpoint');
    }
    const decoded = Buffer.from(token, 'base64').toString('utf8');
    const colon = decoded.indexOf(':');
    if (colon < 1)
      throw new InfrastructureError('ECR.GetAuthorizationToken returned a token that is not user:password');
    const password = decoded.slice(colon + 1);
    this.logger.setSecret(token);
    this.logger.setSecret(password);
    return {
      registry: endpoint.replace(/^https?:\/\//, '').replace(/\/+$/, ''),
      username: decoded.slice(0, colon),
      password,
      ...(data?.expiresAt !== undefined ? { expiresAt: data.expiresAt } : {}),
    };
  }

  /**
   * Logs the engine in to the registry (the password on standard input) and returns its host.
   *
   * @throws {ConfigurationError} when access is denied; AwsRequestError or ContainerEngineError for faults.
   */
  async login(engine: Pick<ContainerEngine, 'login'>): Promise<string> {
    const credentials = await this.authorization();
    await engine.login(credentials);
    this.logger.info(`logged in to ${credentials.registry}`);
    return credentials.registry;
  }

  /**
   * The repository, created when missing: scanned on push, tagged, tags immutable when asked.
   *
   * @throws {ConfigurationError} when access is denied or the name is not a valid repository name;
   *   AwsRequestError for faults.
   */
  async ensureRepository(name: string, options: EnsureRepositoryOptions = {}): Promise<EcrRepository> {
    try {
      const output = await this.client.send(
        new CreateRepositoryCommand({
          repositoryName: name,
          imageScanningConfiguration: { scanOnPush: true },
          imageTagMutability: options.immutableTags === true ? 'IMMUTABLE' : 'MUTABLE',
          tags: Object.entries(options.tags ?? {}).map(([Key, Value]) => ({ Key, Value })),
        }),
      );
      const uri = output.repository?.repositoryUri;
      if (uri === undefined)
        throw new InfrastructureError(`ECR.CreateRepository returned no URI for ${name}`);
      this.logger.info(`created the ECR repository ${name}`);
      return { name, uri, created: true };
    } catch (thrown: unknown) {
      if (describeAwsError(thrown).code !== 'RepositoryAlreadyExistsException') {
        throw classifyAwsError(thrown, 'ECR.CreateRepository', name);
      }
    }
    try {
      const output = await this.client.send(new DescribeRepositoriesCommand({ repositoryNames: [name] }));
      const uri = output.repositories?.[0]?.repositoryUri;
      if (uri === undefined)
        throw new InfrastructureError(`ECR.DescribeRepositories returned no URI for ${name}`);
      return { name, uri, created: false };
    } catch (thrown: unknown) {
      throw classifyAwsError(thrown, 'ECR.DescribeRepositories', name);
    }
  }
}

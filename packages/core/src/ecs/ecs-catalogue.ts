// The algorithm catalogue in ECS task definitions (see compute/catalogue.ts for the contract): the
// task definition *is* the entry — family `sluice-<name>`, tags `sluice:algorithm`, `sluice:version`,
// `sluice:digest`, the manifest in the container's `dockerLabels`.
import { ConfigurationError } from '../errors.js';
import { silentLogger, type Logger } from '../logging/logger.js';
import {
  manifestFrom,
  splitRef,
  unknownAlgorithmError,
  type AlgorithmCatalogue,
  type CatalogueEntry,
  type CatalogueRegistration,
  type RegisteredAlgorithm,
} from '../compute/catalogue.js';
import {
  ALGORITHM_CONTAINER,
  ALGORITHM_TAGS,
  findTaskDefinition,
  registerTaskDefinition,
  taskDefinitionFamily,
  taskDefinitionInput,
  type RegisteredTaskDefinition,
  type TaskDefinitionRegistry,
} from './task-definition.js';

/** How to make an {@link EcsCatalogue}. */
export interface EcsCatalogueOptions {
  readonly taskDefinitions: TaskDefinitionRegistry;
  /** The region (for the awslogs driver and messages). */
  readonly region: string;
  readonly executionRoleArn?: string;
  readonly taskRoleArn?: string;
  readonly logger?: Logger;
}

/**
 * The catalogue in ECS task definitions: registering is registering the task definition (or reusing
 * an identical revision); resolving is finding the newest ACTIVE revision of `sluice-<name>` tagged
 * with the name and version.
 *
 * @example
 * const catalogue = new EcsCatalogue({ taskDefinitions: new EcsTaskDefinitions(ecs), region: 'eu-west-1' });
 * const { taskDefinitionArn } = await catalogue.register({ manifest, manifestText, image: pinned });
 * @throws {ConfigurationError} from resolve when the algorithm is unknown; AwsRequestError for faults.
 */
export class EcsCatalogue implements AlgorithmCatalogue {
  readonly kind = 'ecs' as const;
  private readonly logger: Logger;

  constructor(private readonly options: EcsCatalogueOptions) {
    this.logger = options.logger ?? silentLogger;
  }

  async register(registration: CatalogueRegistration): Promise<RegisteredAlgorithm> {
    const input = taskDefinitionInput({
      manifest: registration.manifest,
      manifestText: registration.manifestText,
      image: registration.image,
      region: this.options.region,
      ...(this.options.executionRoleArn !== undefined
        ? { executionRoleArn: this.options.executionRoleArn }
        : {}),
      ...(this.options.taskRoleArn !== undefined ? { taskRoleArn: this.options.taskRoleArn } : {}),
    });
    const result = await registerTaskDefinition(this.options.taskDefinitions, input, this.logger);
    return {
      name: registration.manifest.name,
      version: registration.manifest.version,
      image: registration.image,
      taskDefinitionArn: result.arn,
      manifest: registration.manifest,
      reused: result.reused,
    };
  }

  async resolve(ref: string | { readonly name: string; readonly version: string }): Promise<CatalogueEntry> {
    const { name, version } = splitRef(ref);
    const family = taskDefinitionFamily(name);
    const found = await findTaskDefinition(this.options.taskDefinitions, family, {
      [ALGORITHM_TAGS.name]: name,
      [ALGORITHM_TAGS.version]: version,
    });
    if (found === undefined) {
      throw unknownAlgorithmError(
        name,
        version,
        `in ECS in ${this.options.region} (no ACTIVE revision of the task definition family ${family} is tagged ${ALGORITHM_TAGS.version}=${version})`,
      );
    }
    return entryOf(found, name, version);
  }
}

function entryOf(found: RegisteredTaskDefinition, name: string, version: string): CatalogueEntry {
  const container = found.taskDefinition.containerDefinitions?.find((c) => c.name === ALGORITHM_CONTAINER);
  const where = `task definition ${found.family}:${found.revision}`;
  if (container?.image === undefined) {
    throw new ConfigurationError(
      `${where} has no "${ALGORITHM_CONTAINER}" container: it was not registered by sluice wrap. Wrap the algorithm again.`,
    );
  }
  return {
    name,
    version,
    image: container.image,
    taskDefinitionArn: found.arn,
    manifest: manifestFrom(container.dockerLabels, where),
  };
}

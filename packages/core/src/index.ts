// Every public export of @sluice/core, named (no `export *`): see STYLE.md rule 4.

// errors
export {
  ConfigurationError,
  InfrastructureError,
  SluiceError,
  ValidationError,
  formatProblem,
  isConfigurationError,
  toError,
} from './errors.js';
export type { Problem } from './errors.js';

// logging
export { silentLogger } from './logging/logger.js';
export type { Logger } from './logging/logger.js';

// schemas (the public contracts: algorithm.json, job.json)
export { checkDocuments } from './schemas/documents.js';
export type { CheckReport, CheckedDocument, DocumentKind, DocumentSource } from './schemas/documents.js';

// ids and records (run id, task id, output keys, task record, completion marker)

// storage (S3) and queue (SQS) adapters

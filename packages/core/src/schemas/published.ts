// The JSON Schema files published with core (packages/core/schemas/*.schema.json), generated from
// the TypeScript schema objects; a test fails when a file drifts from its object.
import type { SchemaJson } from './ajv.js';
import { jobSchema } from './job-schema.js';
import { manifestSchema } from './manifest.js';
import { completionMarkerSchema, taskRecordSchema } from './records.js';

/** One published schema file: its name in packages/core/schemas/ and its content. */
export interface PublishedSchema {
  readonly file: string;
  readonly schema: SchemaJson;
}

/**
 * Every schema file core publishes. `$schema` in user documents points at these by relative path,
 * e.g. `"$schema": "../../packages/core/schemas/job.schema.json"`.
 *
 * @example
 * for (const { file, schema } of PUBLISHED_SCHEMAS) writeFileSync(`schemas/${file}`, JSON.stringify(schema, null, 2));
 */
export const PUBLISHED_SCHEMAS: readonly PublishedSchema[] = [
  { file: 'algorithm.schema.json', schema: manifestSchema },
  { file: 'job.schema.json', schema: jobSchema },
  { file: 'task-record.schema.json', schema: taskRecordSchema },
  { file: 'completion-marker.schema.json', schema: completionMarkerSchema },
];

// One Ajv instance for every contract, so each schema is compiled once per process.
import Ajv2020 from 'ajv/dist/2020.js';
import type { ErrorObject, JSONSchemaType, ValidateFunction } from 'ajv/dist/2020.js';

export type { ErrorObject, JSONSchemaType };

/** A JSON Schema as plain data: what is published and what Ajv compiles. */
export type SchemaJson = Record<string, unknown>;

const ajv = new Ajv2020({
  // Report every problem at once, not only the first: users fix a file in one go.
  allErrors: true,
  // `verbose` keeps `parentSchema` and `data` on each error, which the translator needs to name the
  // expected value and describe what was found.
  verbose: true,
  strict: true,
  // `required` inside `anyOf`/`then` names properties declared by the enclosing object, which this
  // strict check cannot see.
  strictRequired: false,
  // `memory` accepts an integer or a string; the union is deliberate.
  allowUnionTypes: true,
});

/**
 * Removes Ajv's `nullable` keyword from a schema typed with `JSONSchemaType<T>`.
 *
 * Why: with `exactOptionalPropertyTypes`, `JSONSchemaType<T>` insists on `nullable: true` for every
 * optional property (it reads `T[K]` as `X | undefined`), which would let `null` through at run time
 * and is not a draft 2020-12 keyword that editors understand. The TS types never allow `null`, so
 * dropping it makes the run-time check match the type exactly.
 */
export function toSchemaJson<T>(schema: JSONSchemaType<T>): SchemaJson {
  return strip(schema) as SchemaJson;
}

function strip(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(strip);
  if (value !== null && typeof value === 'object') {
    const out: Record<string, unknown> = {};
    for (const [key, child] of Object.entries(value)) {
      if (key === 'nullable') continue;
      out[key] = strip(child);
    }
    return out;
  }
  return value;
}

/**
 * A validator compiled on first use and kept: importing core stays cheap for callers that never
 * validate, and the schema is still compiled once per process.
 */
export function lazyValidator<T>(schema: SchemaJson): () => ValidateFunction<T> {
  let compiled: ValidateFunction<T> | undefined;
  return () => (compiled ??= ajv.compile<T>(schema));
}

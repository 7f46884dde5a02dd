// Renders the field reference of the public documents (docs/reference.md) from their schemas, so
// the reference cannot disagree with what the validator accepts.
import { expectedFor } from './ajv-problems.js';
import type { SchemaJson } from './ajv.js';
import { jobSchema } from './job-schema.js';
import { manifestSchema } from './manifest.js';

interface Row {
  readonly field: string;
  readonly accepts: string;
  readonly required: boolean;
  readonly fallback: string;
  readonly description: string;
}

function asSchema(value: unknown): SchemaJson | undefined {
  return value !== null && typeof value === 'object' && !Array.isArray(value)
    ? (value as SchemaJson)
    : undefined;
}

function accepts(schema: SchemaJson): string {
  // A title says what a patterned string or a union accepts better than its type does.
  if (typeof schema.title === 'string' && schema.type !== 'object') return schema.title;
  if (Array.isArray(schema.enum)) return schema.enum.map((value) => JSON.stringify(value)).join(' | ');
  const type = schema.type;
  const items = asSchema(schema.items);
  if (type === 'array' && items) return `array of ${accepts(items)}`;
  if (type === 'object' && schema.additionalProperties !== undefined && schema.properties === undefined) {
    return 'object (name → value)';
  }
  if (Array.isArray(schema.anyOf)) return schema.anyOf.map((branch) => expectedFor(branch)).join(' or ');
  if (Array.isArray(type)) return type.map(String).join(' or ');
  return typeof type === 'string' ? type : expectedFor(schema);
}

function rows(schema: SchemaJson, prefix: string): Row[] {
  const properties = asSchema(schema.properties) ?? {};
  const required = Array.isArray(schema.required) ? schema.required.map(String) : [];
  const out: Row[] = [];
  for (const [name, child] of Object.entries(properties)) {
    const property = asSchema(child);
    if (property === undefined || name === '$schema') continue;
    const field = `${prefix}${name}`;
    out.push({
      field,
      accepts: accepts(property),
      required: required.includes(name),
      fallback: property.default !== undefined ? `\`${JSON.stringify(property.default)}\`` : '',
      description: typeof property.description === 'string' ? property.description : '',
    });
    if (property.properties !== undefined) out.push(...rows(property, `${field}.`));
    const entry = asSchema(property.additionalProperties);
    if (entry?.properties !== undefined) out.push(...rows(entry, `${field}.<NAME>.`));
  }
  return out;
}

function table(schema: SchemaJson): string {
  const cell = (text: string): string => text.replace(/\|/g, '\\|').replace(/\n/g, ' ');
  const lines = ['| Field | Accepts | Required | Default | Description |', '| --- | --- | --- | --- | --- |'];
  for (const row of rows(schema, '')) {
    lines.push(
      `| \`${row.field}\` | ${cell(row.accepts)} | ${row.required ? 'yes' : ''} | ${cell(row.fallback)} | ${cell(row.description)} |`,
    );
  }
  return lines.join('\n');
}

function describe(schema: SchemaJson): string {
  return typeof schema.description === 'string' ? schema.description : '';
}

/**
 * The Markdown field reference of `algorithm.json` and `job.json`, as in docs/reference.md.
 *
 * @example
 * writeFileSync('docs/reference.md', renderReference());
 */
export function renderReference(): string {
  return [
    '# Manifest and job reference',
    '',
    '<!-- Generated from the schemas in packages/core/src/schemas by test/docs/reference.test.ts; run',
    '     `UPDATE_REFERENCE=1 npm run test:unit -- test/docs` to rewrite it. Do not edit by hand. -->',
    '',
    'Both files are JSON and may start with `"$schema"` pointing at the published schema',
    '(`packages/core/schemas/algorithm.schema.json`, `packages/core/schemas/job.schema.json`) so editors',
    'complete and check them. `sluice validate FILE...` checks them, and a job against its manifest',
    'when both are given. See [contracts.md](contracts.md) for the rules behind the fields.',
    '',
    '## algorithm.json',
    '',
    describe(manifestSchema),
    'Give `image` or `build` (not both).',
    '',
    table(manifestSchema),
    '',
    '## job.json',
    '',
    describe(jobSchema),
    '',
    table(jobSchema),
    '',
  ].join('\n');
}

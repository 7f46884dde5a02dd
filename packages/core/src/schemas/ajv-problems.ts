// Turns Ajv's errors into problems a person can act on: one plain sentence per real problem, at the
// JSON path of the offending value, with what was expected and what was found. Ajv reports every
// failing branch of an `anyOf`; only the branch the user evidently meant is kept.
import type { Problem } from '../errors.js';
import type { ErrorObject, SchemaJson } from './ajv.js';
import { closestName, describeFound, SENSITIVE_NAME, typeWords } from './describe.js';
import { jsonPath, pointerSegments, type PathSegment } from './json-path.js';
import { CREDENTIALS_HINT } from './literal-secrets.js';

/** What a special field says instead of the generic sentence, e.g. `memory` with its unit rules. */
export type Explain = (
  segments: readonly PathSegment[],
  value: unknown,
) => Pick<Problem, 'message' | 'expected' | 'hint'> | undefined;

interface Context {
  readonly file: string;
  readonly root: unknown;
  readonly schema: SchemaJson;
  readonly explain?: Explain;
}

/**
 * Translates the errors of one Ajv validation of `root` (against `schema`) into problems.
 */
export function problemsFromAjv(
  errors: readonly ErrorObject[],
  file: string,
  root: unknown,
  schema: SchemaJson,
  explain?: Explain,
): Problem[] {
  const context: Context = explain === undefined ? { file, root, schema } : { file, root, schema, explain };
  const seen = new Set<string>();
  return translateSet(errors, context).filter((problem) => {
    const key = `${problem.path}\u0000${problem.message}`;
    if (seen.has(key)) return false;
    seen.add(key);
    return true;
  });
}

function isUnion(error: ErrorObject): boolean {
  return error.keyword === 'anyOf' || error.keyword === 'oneOf';
}

/** True when `error` comes from a subschema of `parent` applied to the same value or one inside it. */
function within(error: ErrorObject, parent: ErrorObject): boolean {
  // One schema location (e.g. each `env` entry's `anyOf`) applies to many values: the instance
  // path tells whose error this is.
  const sameValue =
    error.instancePath === parent.instancePath || error.instancePath.startsWith(`${parent.instancePath}/`);
  return error !== parent && sameValue && error.schemaPath.startsWith(`${parent.schemaPath}/`);
}

function translateSet(errors: readonly ErrorObject[], context: Context): Problem[] {
  // Errors nested in a union or in `propertyNames` are explained by that outer error alone.
  const owners = errors.filter(
    (error) =>
      (isUnion(error) || error.keyword === 'propertyNames') &&
      !errors.some((other) => isUnion(other) && within(error, other)),
  );
  const problems: Problem[] = [];
  const done = new Set<ErrorObject>();
  for (const error of errors) {
    if (done.has(error)) continue;
    const owner = owners.find((candidate) => candidate === error || within(error, candidate));
    if (owner === undefined) {
      done.add(error);
      const problem = translateOne(error, context);
      if (problem) problems.push(problem);
      continue;
    }
    const inside = errors.filter((candidate) => within(candidate, owner));
    for (const member of [owner, ...inside]) done.add(member);
    if (isUnion(owner)) problems.push(...translateUnion(owner, inside, context));
    else {
      const problem = translateOne(owner, context);
      if (problem) problems.push(problem);
    }
  }
  return problems;
}

function depth(error: ErrorObject): number {
  const steps = error.instancePath === '' ? 0 : error.instancePath.split('/').length - 1;
  return error.keyword === 'required' || error.keyword === 'additionalProperties' ? steps + 1 : steps;
}

function translateUnion(union: ErrorObject, inside: readonly ErrorObject[], context: Context): Problem[] {
  const branches = Array.isArray(union.schema) ? (union.schema as unknown[]) : [];
  const byBranch = branches.map((_, index) =>
    inside.filter((error) => error.schemaPath.startsWith(`${union.schemaPath}/${index}/`)),
  );
  const segments = pointerSegments(union.instancePath, context.root);
  // Every branch only misses a property: "give one of these".
  if (
    byBranch.every(
      (errors) =>
        errors.length > 0 &&
        errors.every((e) => e.keyword === 'required' && e.instancePath === union.instancePath),
    )
  ) {
    const names = byBranch.map((errors) =>
      String((errors[0]?.params as { missingProperty?: unknown }).missingProperty),
    );
    const quoted = names.map((name) => `"${name}"`).join(' or ');
    return [
      make(context.file, [...segments, names[0] ?? ''], `${quoted} is required`, {
        expected: `one of ${quoted}`,
        found: 'neither',
        hint: `Add ${quoted}`,
      }),
    ];
  }
  const typeMismatch = (errors: readonly ErrorObject[]): boolean =>
    errors.some((error) => error.keyword === 'type' && error.instancePath === union.instancePath);
  const candidates = byBranch
    .map((errors, index) => ({ errors, index }))
    .filter(({ errors }) => errors.length > 0 && !typeMismatch(errors));
  // No form fits the value's shape (only missing or unknown properties on the value itself): say
  // which forms exist rather than pick one and list its differences.
  const shapeOnly = candidates.every(({ errors }) =>
    errors.every(
      (error) =>
        (error.keyword === 'required' || error.keyword === 'additionalProperties') &&
        error.instancePath === union.instancePath,
    ),
  );
  if (candidates.length === 0 || shapeOnly) {
    const expected = branches.map((branch) => expectedFor(branch)).join(', or ');
    return [
      make(context.file, segments, `must be ${expected}`, {
        expected,
        found: describeFound(union.data, segments),
      }),
    ];
  }
  const score = (errors: readonly ErrorObject[]): number => Math.max(...errors.map(depth));
  candidates.sort(
    (a, b) => score(b.errors) - score(a.errors) || a.errors.length - b.errors.length || a.index - b.index,
  );
  return translateSet(candidates[0]?.errors ?? [], context);
}

/** A few words for what a schema accepts: its title, its enum, or its type. */
export function expectedFor(schema: unknown): string {
  if (schema === null || typeof schema !== 'object') return 'a valid value';
  const s = schema as Record<string, unknown>;
  if (typeof s.title === 'string') return s.title;
  if (Array.isArray(s.enum)) return `one of ${s.enum.map((value) => JSON.stringify(value)).join(', ')}`;
  if (Array.isArray(s.type)) return s.type.map((type) => typeWords(String(type))).join(' or ');
  if (typeof s.type === 'string') return typeWords(s.type);
  if (Array.isArray(s.anyOf)) return s.anyOf.map(expectedFor).join(', or ');
  return 'a valid value';
}

function resolvePointer(schema: unknown, pointer: string): unknown {
  let node = schema;
  for (const raw of pointer.replace(/^#/, '').split('/').slice(1)) {
    const key = decodeURIComponent(raw).replace(/~1/g, '/').replace(/~0/g, '~');
    node = node !== null && typeof node === 'object' ? (node as Record<string, unknown>)[key] : undefined;
  }
  return node;
}

/** "when credentials is "profile"" for an `if` that tests one property's value. */
function conditionWords(ifSchema: unknown): string {
  const properties = (
    ifSchema as { properties?: Record<string, { const?: unknown; enum?: unknown[] }> } | undefined
  )?.properties;
  const [name, test] = Object.entries(properties ?? {})[0] ?? [];
  if (name === undefined || test === undefined) return '';
  const values = test.enum ?? (test.const !== undefined ? [test.const] : []);
  return ` when ${name} is ${values.map((value) => JSON.stringify(value)).join(' or ')}`;
}

function make(
  file: string,
  segments: readonly PathSegment[],
  message: string,
  extra: { expected?: string | undefined; found?: string | undefined; hint?: string | undefined } = {},
): Problem {
  return {
    file,
    path: jsonPath(segments),
    message,
    ...(extra.expected !== undefined ? { expected: extra.expected } : {}),
    ...(extra.found !== undefined ? { found: extra.found } : {}),
    ...(extra.hint !== undefined ? { hint: extra.hint } : {}),
  };
}

function rangeWords(parent: Record<string, unknown>): string | undefined {
  const min = typeof parent.minimum === 'number' ? parent.minimum : undefined;
  const max = typeof parent.maximum === 'number' ? parent.maximum : undefined;
  if (min !== undefined && max !== undefined) return `between ${min} and ${max}`;
  return undefined;
}

const CREDENTIAL_FIELDS = /^(aws)?(access|secret|session)/i;

/** One Ajv error with what every sentence about it needs: where, the schema around it, what was found. */
interface Failure {
  readonly error: ErrorObject;
  readonly context: Context;
  readonly segments: PathSegment[];
  readonly parent: Record<string, unknown>;
  readonly params: Record<string, unknown>;
  readonly found: string;
}

function translateOne(error: ErrorObject, context: Context): Problem | undefined {
  const { file } = context;
  const segments = pointerSegments(error.instancePath, context.root);
  const parent = (error.parentSchema ?? {}) as Record<string, unknown>;
  const params = error.params as Record<string, unknown>;
  const found = describeFound(error.data, segments);
  const failure: Failure = { error, context, segments, parent, params, found };
  if (['type', 'pattern', 'minimum', 'maximum', 'enum'].includes(error.keyword)) {
    const special = context.explain?.(segments, error.data);
    if (special) return make(file, segments, special.message, { ...special, found });
  }
  switch (error.keyword) {
    case 'required':
      return missingProperty(failure);
    case 'additionalProperties':
      return unknownProperty(failure);
    case 'type': {
      const expected = String(params.type)
        .split(',')
        .map((type) => typeWords(type))
        .join(' or ');
      return make(file, segments, `must be ${expected}`, { expected, found });
    }
    case 'enum':
      return notAllowed(failure);
    case 'const':
      return make(file, segments, `must be ${JSON.stringify(params.allowedValue)}`, {
        expected: JSON.stringify(params.allowedValue),
        found,
      });
    case 'pattern': {
      const expected =
        typeof parent.title === 'string' ? parent.title : `a string matching ${String(params.pattern)}`;
      return make(file, segments, `must be ${expected}`, { expected, found });
    }
    case 'minimum':
    case 'maximum':
    case 'exclusiveMinimum':
    case 'exclusiveMaximum':
      return outOfRange(failure);
    case 'minLength':
      return Number(params.limit) === 1
        ? make(file, segments, 'must not be empty', { expected: 'a non-empty string', found: '""' })
        : make(file, segments, `must be at least ${String(params.limit)} characters long`, { found });
    case 'maxLength':
      return make(file, segments, `must be at most ${String(params.limit)} characters long`, {
        found: typeof error.data === 'string' ? `${error.data.length} characters` : found,
      });
    case 'minItems':
      return make(
        file,
        segments,
        `must have at least ${String(params.limit)} item${Number(params.limit) === 1 ? '' : 's'}`,
        {
          found,
        },
      );
    case 'maxItems':
      return make(file, segments, `must have at most ${String(params.limit)} items`, { found });
    case 'uniqueItems': {
      // Ajv scans from the end, so `i` is the earlier item and `j` the later duplicate.
      const first = Number(params.i);
      const second = Number(params.j);
      return make(file, [...segments, second], `repeats item [${first}]`, {
        expected: 'each item once',
        hint: `Remove one of items [${first}] and [${second}]`,
      });
    }
    case 'propertyNames': {
      const name = String(params.propertyName);
      const rules = parent.propertyNames as Record<string, unknown> | undefined;
      return make(file, [...segments, name], `"${name}" is not a valid name here`, {
        expected: expectedFor(rules),
        hint: name.startsWith('SLUICE_')
          ? 'Names starting with SLUICE_ are reserved for the runner; rename it'
          : undefined,
      });
    }
    case 'if':
      // The failing `then` already produced its own, clearer error.
      return undefined;
    default:
      return make(file, segments, `does not meet the "${error.keyword}" rule of the schema`, { found });
  }
}

/** A required property is absent: say which, under what condition, and what it is for. */
function missingProperty(failure: Failure): Problem {
  const { error, context, segments, parent, params } = failure;
  const { file } = context;
  const name = String(params.missingProperty);
  const then = error.schemaPath.match(/^(.*)\/then\/required$/);
  const condition =
    then?.[1] !== undefined ? conditionWords(resolvePointer(context.schema, `${then[1]}/if`)) : '';
  const objectSchema = (
    then?.[1] !== undefined ? resolvePointer(context.schema, then[1].replace(/\/allOf\/[0-9]+$/, '')) : parent
  ) as { properties?: Record<string, unknown> } | undefined;
  const property = objectSchema?.properties?.[name];
  const description = (property as { description?: unknown } | undefined)?.description;
  return make(file, [...segments, name], `"${name}" is required${condition}`, {
    expected: expectedFor(property),
    found: 'nothing',
    hint: typeof description === 'string' ? `Add "${name}": ${description}` : `Add "${name}"`,
  });
}

/** A property the schema does not know: a credential gets its own warning, a typo a suggestion. */
function unknownProperty(failure: Failure): Problem {
  const { context, segments, parent, params } = failure;
  const { file } = context;
  const name = String(params.additionalProperty);
  const known = Object.keys(parent.properties ?? {});
  if (
    segments.length === 1 &&
    segments[0] === 'aws' &&
    (CREDENTIAL_FIELDS.test(name) || SENSITIVE_NAME.test(name))
  ) {
    return make(
      file,
      [...segments, name],
      `"${name}" is not a job field: a job file never holds AWS credentials`,
      {
        expected: `one of ${known.join(', ')}`,
        hint: CREDENTIALS_HINT,
      },
    );
  }
  const suggestion = closestName(name, known);
  return make(file, [...segments, name], `unknown property "${name}"`, {
    expected: known.length > 0 ? `one of ${known.join(', ')}` : 'no properties',
    hint:
      suggestion !== undefined
        ? `Did you mean "${suggestion}"?`
        : `Remove it; known properties are ${known.join(', ')}`,
  });
}

/** A value outside an enum, with the nearest allowed one when it looks like a typo. */
function notAllowed(failure: Failure): Problem {
  const { error, context, segments, params, found } = failure;
  const { file } = context;
  const allowed = Array.isArray(params.allowedValues) ? params.allowedValues : [];
  const expected = `one of ${allowed.map((value) => JSON.stringify(value)).join(', ')}`;
  const suggestion =
    typeof error.data === 'string'
      ? closestName(
          error.data,
          allowed.map((value) => String(value)),
        )
      : undefined;
  return make(file, segments, `must be ${expected}`, {
    expected,
    found,
    hint: suggestion !== undefined ? `Did you mean "${suggestion}"?` : undefined,
  });
}

/** A number past a bound, in words ("between 1 and 100" when the schema gives both). */
function outOfRange(failure: Failure): Problem {
  const { error, context, segments, parent, params, found } = failure;
  const { file } = context;
  const limit = String(params.limit);
  const range = rangeWords(parent);
  const words =
    range ??
    {
      minimum: `at least ${limit}`,
      maximum: `at most ${limit}`,
      exclusiveMinimum: `greater than ${limit}`,
      exclusiveMaximum: `less than ${limit}`,
    }[error.keyword];
  return make(file, segments, `must be ${words}`, {
    expected: `${expectedFor({ type: parent.type })} ${words}`,
    found,
  });
}

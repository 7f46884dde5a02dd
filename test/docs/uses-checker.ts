// Checks every `uses:` of a sluice action (and of a sluice reusable workflow) in a workflow, or in a
// YAML snippet of a doc, against what that action declares in its action.yml: it must exist, get only
// inputs it declares and every required one, and have only declared outputs read from it. Pure
// functions over text, so tests of the docs, the examples and the reusable workflow can share them.
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { join, relative } from 'node:path';
import { parse } from 'yaml';

/** The owner/repo users write in `uses:`; every doc and example uses this one placeholder. */
export const REPOSITORY = 'sluice-dev/sluice';

/** What a caller can pass to and read from an action or a reusable workflow. */
export interface Interface {
  readonly inputs: Readonly<Record<string, { readonly required: boolean; readonly hasDefault: boolean }>>;
  readonly outputs: readonly string[];
  /** Reusable workflows only: the secrets it declares (`undefined` for an action). */
  readonly secrets?: Readonly<Record<string, { readonly required: boolean }>>;
}

export interface Catalogue {
  /** By action name, the directory under actions/. */
  readonly actions: ReadonlyMap<string, Interface>;
  /** By file name under .github/workflows/, those with `on: workflow_call`. */
  readonly workflows: ReadonlyMap<string, Interface>;
}

/**
 * Where a YAML text comes from, which decides whether a local `./actions/X` may appear in it: only in
 * this repository's own workflows that other repositories do not call (`repo-workflow`). In a workflow
 * called from another repository, in an example a user copies, and in a doc, `./actions/X` would name
 * the caller's checkout.
 */
export type Origin = 'repo-workflow' | 'example' | 'doc';

type Json = unknown;

function isRecord(value: Json): value is Record<string, Json> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function declaredInputs(inputs: Json): Interface['inputs'] {
  const result: Record<string, { required: boolean; hasDefault: boolean }> = {};
  if (!isRecord(inputs)) return result;
  for (const [name, input] of Object.entries(inputs)) {
    const spec = isRecord(input) ? input : {};
    result[name] = { required: spec.required === true, hasDefault: spec.default !== undefined };
  }
  return result;
}

/** The interface an action.yml declares. */
export function actionInterface(actionYmlText: string): Interface {
  const action: Json = parse(actionYmlText);
  const spec = isRecord(action) ? action : {};
  return {
    inputs: declaredInputs(spec.inputs),
    outputs: isRecord(spec.outputs) ? Object.keys(spec.outputs) : [],
  };
}

/** The triggers of a workflow, whichever of the three forms `on:` takes. */
function triggers(workflow: Record<string, Json>): Record<string, Json> {
  const on = workflow.on;
  if (typeof on === 'string') return { [on]: null };
  if (Array.isArray(on)) return Object.fromEntries(on.map((event) => [String(event), null]));
  return isRecord(on) ? on : {};
}

/** The interface a reusable workflow declares under `on.workflow_call`, or undefined if it is not one. */
export function workflowCallInterface(workflowText: string): Interface | undefined {
  const workflow: Json = parse(workflowText);
  if (!isRecord(workflow)) return undefined;
  const on = triggers(workflow);
  if (!('workflow_call' in on)) return undefined;
  const call = isRecord(on.workflow_call) ? on.workflow_call : {};
  const secrets: Record<string, { required: boolean }> = {};
  if (isRecord(call.secrets))
    for (const [name, secret] of Object.entries(call.secrets))
      secrets[name] = { required: isRecord(secret) && secret.required === true };
  return {
    inputs: declaredInputs(call.inputs),
    outputs: isRecord(call.outputs) ? Object.keys(call.outputs) : [],
    secrets,
  };
}

/** The actions under root/actions and the reusable workflows under root/.github/workflows. */
export function loadCatalogue(root: string): Catalogue {
  const actions = new Map<string, Interface>();
  for (const entry of readdirSync(join(root, 'actions'), { withFileTypes: true })) {
    const file = join(root, 'actions', entry.name, 'action.yml');
    if (entry.isDirectory() && existsSync(file))
      actions.set(entry.name, actionInterface(readFileSync(file, 'utf8')));
  }
  const workflows = new Map<string, Interface>();
  const dir = join(root, '.github', 'workflows');
  if (existsSync(dir))
    for (const name of readdirSync(dir).filter((n) => /\.ya?ml$/.test(n))) {
      const called = workflowCallInterface(readFileSync(join(dir, name), 'utf8'));
      if (called !== undefined) workflows.set(name, called);
    }
  return { actions, workflows };
}

/** YAML files under dir (recursively, skipping node_modules), as paths relative to root. */
export function yamlFiles(root: string, dir: string): string[] {
  const start = join(root, dir);
  if (!existsSync(start)) return [];
  const found: string[] = [];
  const walk = (path: string): void => {
    for (const entry of readdirSync(path, { withFileTypes: true })) {
      if (entry.name === 'node_modules') continue;
      const child = join(path, entry.name);
      if (entry.isDirectory()) walk(child);
      else if (/\.ya?ml$/.test(entry.name)) found.push(relative(root, child));
    }
  };
  walk(start);
  return found.sort();
}

/** The fenced ```yaml (or ```yml) blocks of a Markdown text, with the line each starts on. */
export function yamlBlocks(markdown: string): { line: number; text: string }[] {
  const blocks: { line: number; text: string }[] = [];
  const pattern = /^( *)```ya?ml[^\n]*\n([\s\S]*?)^\1```/gm;
  for (const match of markdown.matchAll(pattern)) {
    const indent = match[1] ?? '';
    const text = (match[2] ?? '')
      .split('\n')
      .map((line) => (line.startsWith(indent) ? line.slice(indent.length) : line))
      .join('\n');
    blocks.push({ line: markdown.slice(0, match.index).split('\n').length + 1, text });
  }
  return blocks;
}

/** What a `uses:` names, when it names something of sluice's. */
type Target =
  | { kind: 'action'; name: string; local: boolean }
  | { kind: 'workflow'; file: string; local: boolean }
  | { kind: 'foreign-repository'; repository: string }
  | { kind: 'no-ref' };

const ESCAPED_REPOSITORY = REPOSITORY.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');

function target(uses: string, catalogue: Catalogue): Target | undefined {
  const local = /^\.\/actions\/([^/@]+)\/?$/.exec(uses);
  if (local) return { kind: 'action', name: local[1] ?? '', local: true };
  const localWorkflow = /^\.\/\.github\/workflows\/([^/@]+)$/.exec(uses);
  if (localWorkflow) return { kind: 'workflow', file: localWorkflow[1] ?? '', local: true };
  const remote = new RegExp(`^${ESCAPED_REPOSITORY}/actions/([^/@]+)(@.*)?$`).exec(uses);
  if (remote) return remote[2] ? { kind: 'action', name: remote[1] ?? '', local: false } : { kind: 'no-ref' };
  const remoteWorkflow = new RegExp(`^${ESCAPED_REPOSITORY}/\\.github/workflows/([^/@]+)(@.*)?$`).exec(uses);
  if (remoteWorkflow)
    return remoteWorkflow[2]
      ? { kind: 'workflow', file: remoteWorkflow[1] ?? '', local: false }
      : { kind: 'no-ref' };
  // Another owner/repo naming one of our actions: the placeholder was not used consistently.
  const other = /^([^./][^/]*\/[^/]+)\/actions\/([^/@]+)@/.exec(uses);
  if (other && catalogue.actions.has(other[2] ?? ''))
    return { kind: 'foreign-repository', repository: other[1] ?? '' };
  return undefined;
}

/** Every string in a value, with nested objects and arrays. */
function strings(value: Json): string[] {
  if (typeof value === 'string') return [value];
  if (Array.isArray(value)) return value.flatMap(strings);
  if (isRecord(value)) return [...Object.keys(value), ...Object.values(value).flatMap(strings)];
  return [];
}

/** `<context>.<id>.outputs.<name>` (or `outputs['<name>']`) read anywhere in the given values. */
function outputReads(context: 'steps' | 'needs', values: Json): { id: string; output: string }[] {
  const name = `[A-Za-z_][\\w-]*`;
  const pattern = new RegExp(
    `\\b${context}\\.(${name})\\.outputs(?:\\.(${name})|\\[\\s*'([^']+)'\\s*\\]|\\[\\s*"([^"]+)"\\s*\\])`,
    'g',
  );
  return strings(values).flatMap((text) =>
    [...text.matchAll(pattern)].map((m) => ({ id: m[1] ?? '', output: m[2] ?? m[3] ?? m[4] ?? '' })),
  );
}

interface Context {
  readonly where: string;
  readonly catalogue: Catalogue;
  readonly forbidLocal: string | undefined;
  readonly problems: string[];
}

/** Checks one `uses:` with its `with:` (and `secrets:`); returns what it resolved to, if anything. */
function checkUse(
  ctx: Context,
  place: string,
  uses: string,
  withs: Json,
  secrets: Json,
  kind: 'step' | 'job',
): { label: string; api: Interface } | undefined {
  const resolved = target(uses, ctx.catalogue);
  if (resolved === undefined) return undefined;
  const at = `${ctx.where}: ${place} (uses: ${uses})`;
  if (resolved.kind === 'no-ref') {
    ctx.problems.push(`${at}: a remote reference needs a version, as ${uses}@v1`);
    return undefined;
  }
  if (resolved.kind === 'foreign-repository') {
    ctx.problems.push(
      `${at}: names ${resolved.repository}; sluice's actions are ${REPOSITORY}/actions/<name>@<ref>`,
    );
    return undefined;
  }
  if (resolved.local && ctx.forbidLocal !== undefined) {
    const path =
      resolved.kind === 'action' ? `actions/${resolved.name}` : `.github/workflows/${resolved.file}`;
    ctx.problems.push(
      `${at}: ${ctx.forbidLocal}, where ./${path} names the caller's checkout; write ${REPOSITORY}/${path}@v1`,
    );
  }
  let label: string;
  let api: Interface | undefined;
  if (resolved.kind === 'action') {
    label = `action ${resolved.name}`;
    api = ctx.catalogue.actions.get(resolved.name);
    if (kind === 'job') {
      ctx.problems.push(`${at}: a job's uses: takes a reusable workflow, not an action; use it in a step`);
      return undefined;
    }
    if (api === undefined) {
      const known = [...ctx.catalogue.actions.keys()].join(', ');
      ctx.problems.push(`${at}: there is no action ${resolved.name} under actions/ (there are: ${known})`);
      return undefined;
    }
  } else {
    label = `workflow ${resolved.file}`;
    api = ctx.catalogue.workflows.get(resolved.file);
    if (kind === 'step') {
      ctx.problems.push(`${at}: a reusable workflow is called by a job's uses:, not a step's`);
      return undefined;
    }
    if (api === undefined) {
      ctx.problems.push(
        `${at}: there is no reusable workflow (on: workflow_call) .github/workflows/${resolved.file}`,
      );
      return undefined;
    }
  }
  const given = isRecord(withs) ? withs : {};
  for (const input of Object.keys(given))
    if (!(input in api.inputs))
      ctx.problems.push(
        `${at}: passes input ${input}, which ${label} does not declare (it declares: ${Object.keys(api.inputs).join(', ') || 'none'})`,
      );
  for (const [input, spec] of Object.entries(api.inputs))
    if (spec.required && !spec.hasDefault && !(input in given))
      ctx.problems.push(`${at}: misses input ${input}, which ${label} requires and has no default for`);
  if (api.secrets !== undefined && secrets !== 'inherit') {
    const passed = isRecord(secrets) ? secrets : {};
    for (const secret of Object.keys(passed))
      if (!(secret in api.secrets))
        ctx.problems.push(`${at}: passes secret ${secret}, which ${label} does not declare`);
    for (const [secret, spec] of Object.entries(api.secrets))
      if (spec.required && !(secret in passed))
        ctx.problems.push(`${at}: misses secret ${secret}, which ${label} requires`);
  }
  return { label, api };
}

/** Checks a list of steps (a job's, a composite action's or a snippet's). */
function checkSteps(ctx: Context, place: string, steps: Json, scope: Json, complete: boolean): void {
  if (!Array.isArray(steps)) return;
  const byId = new Map<string, { label: string; api: Interface } | undefined>();
  steps.forEach((step: Json, index) => {
    if (!isRecord(step)) return;
    const id = typeof step.id === 'string' ? step.id : undefined;
    const stepPlace = `${place}step ${id ?? index + 1}`;
    const resolved =
      typeof step.uses === 'string'
        ? checkUse(ctx, stepPlace, step.uses, step.with, undefined, 'step')
        : undefined;
    if (id !== undefined) byId.set(id, resolved);
  });
  for (const read of outputReads('steps', scope)) {
    if (!byId.has(read.id)) {
      if (complete)
        ctx.problems.push(
          `${ctx.where}: ${place}reads steps.${read.id}.outputs, but no step has id ${read.id}`,
        );
      continue;
    }
    const step = byId.get(read.id);
    if (step !== undefined && !step.api.outputs.includes(read.output))
      ctx.problems.push(
        `${ctx.where}: ${place}reads steps.${read.id}.outputs.${read.output}, which ${step.label} does not declare (it declares: ${step.api.outputs.join(', ') || 'none'})`,
      );
  }
}

/**
 * Checks one YAML text: a workflow, a composite action, or a snippet from a doc (one job, a list of
 * steps, or one step). Returns one message per problem, each naming where and what to do; none when
 * the text is fine or names no sluice action.
 *
 * @example
 * checkYaml(readFileSync('.github/workflows/sluice-run.yml', 'utf8'), 'sluice-run.yml', 'repo-workflow', loadCatalogue('.'));
 */
export function checkYaml(text: string, where: string, origin: Origin, catalogue: Catalogue): string[] {
  const problems: string[] = [];
  let doc: Json;
  try {
    doc = parse(text);
  } catch (error: unknown) {
    return [`${where}: is not valid YAML (${error instanceof Error ? error.message : String(error)})`];
  }
  const workflow = isRecord(doc) && isRecord(doc.jobs);
  const reusable = workflow && 'workflow_call' in triggers(doc as Record<string, Json>);
  const forbidLocal =
    origin === 'example'
      ? 'this is an example users copy into their repository'
      : origin === 'doc'
        ? 'this doc shows what users write in their repository'
        : reusable
          ? 'this is a reusable workflow (on: workflow_call) that runs in the caller repository'
          : undefined;
  const ctx: Context = { where, catalogue, forbidLocal, problems };

  if (workflow) {
    const jobs = (doc as { jobs: Record<string, Json> }).jobs;
    const callers = new Map<string, { label: string; api: Interface } | undefined>();
    for (const [jobId, job] of Object.entries(jobs)) {
      if (!isRecord(job)) continue;
      if (typeof job.uses === 'string')
        callers.set(jobId, checkUse(ctx, `job ${jobId}`, job.uses, job.with, job.secrets, 'job'));
      checkSteps(ctx, `job ${jobId}, `, job.steps, job, true);
    }
    for (const read of outputReads('needs', doc)) {
      const caller = callers.get(read.id);
      if (caller !== undefined && !caller.api.outputs.includes(read.output))
        problems.push(
          `${where}: reads needs.${read.id}.outputs.${read.output}, which ${caller.label} does not declare (it declares: ${caller.api.outputs.join(', ') || 'none'})`,
        );
    }
  } else if (isRecord(doc) && isRecord(doc.runs)) {
    checkSteps(ctx, 'runs, ', doc.runs.steps, doc.runs, true);
  } else if (isRecord(doc) && Array.isArray(doc.steps)) {
    checkSteps(ctx, '', doc.steps, doc, false);
  } else if (Array.isArray(doc)) {
    checkSteps(ctx, '', doc, doc, false);
  } else if (isRecord(doc) && typeof doc.uses === 'string') {
    checkSteps(ctx, '', [doc], doc, false);
  }
  return problems;
}

/** Checks every ```yaml block of a Markdown text, as snippets of what users write. */
export function checkMarkdown(markdown: string, where: string, catalogue: Catalogue): string[] {
  return yamlBlocks(markdown).flatMap((block) =>
    checkYaml(block.text, `${where}:${block.line}`, 'doc', catalogue),
  );
}

import { readFileSync } from 'node:fs';

import { describe, expect, it } from '@jest/globals';
import { parse } from 'yaml';

interface ActionYaml {
  readonly name?: unknown;
  readonly description?: unknown;
  readonly inputs?: Record<string, { description?: unknown; default?: unknown; required?: unknown }>;
  readonly outputs?: Record<string, { description?: unknown }>;
  readonly runs?: Record<string, unknown>;
}

/** The names an action's code uses, from its constants.ts. */
export interface ActionConstants {
  readonly Inputs: Readonly<Record<string, string>>;
  readonly InputDefaults: Readonly<Partial<Record<string, string | number | boolean>>>;
  readonly Outputs: Readonly<Record<string, string>>;
}

/**
 * Checks an action's constants.ts against its action.yml (as actions/cache checks its constants): the same inputs with the
 * same defaults, the same outputs, every one described, and the committed bundle run on node24.
 *
 * @example
 * describeActionYaml(new URL('../action.yml', import.meta.url), { Inputs, InputDefaults, Outputs });
 * // an action with a post step (the same bundle, run again): { post: { if: 'failure() || cancelled()' } }
 */
export function describeActionYaml(
  actionYml: URL,
  constants: ActionConstants,
  options: { readonly post?: { readonly if: string } } = {},
): void {
  const action = parse(readFileSync(actionYml, 'utf8')) as ActionYaml;
  const { Inputs, InputDefaults, Outputs } = constants;

  describe('action.yml', () => {
    it('declares exactly the inputs in constants.ts, each with a description', () => {
      expect(Object.keys(action.inputs ?? {}).sort()).toEqual(Object.values(Inputs).sort());
      for (const input of Object.values(action.inputs ?? {})) expect(typeof input.description).toBe('string');
    });

    it('declares the same defaults as constants.ts', () => {
      for (const [key, name] of Object.entries(Inputs)) {
        const declared = action.inputs?.[name]?.default;
        const constant = InputDefaults[key];
        expect({ name, default: declared }).toEqual({
          name,
          default: constant === undefined ? undefined : String(constant),
        });
      }
    });

    it('declares exactly the outputs in constants.ts, each with a description', () => {
      expect(Object.keys(action.outputs ?? {}).sort()).toEqual(Object.values(Outputs).sort());
      for (const output of Object.values(action.outputs ?? {}))
        expect(typeof output.description).toBe('string');
    });

    it('runs the committed bundle on node24', () => {
      expect(action.runs).toEqual({
        using: 'node24',
        main: 'dist/index.js',
        ...(options.post !== undefined && { post: 'dist/index.js', 'post-if': options.post.if }),
      });
      expect(typeof action.name).toBe('string');
      expect(typeof action.description).toBe('string');
    });
  });
}

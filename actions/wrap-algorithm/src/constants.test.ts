import { readFileSync } from 'node:fs';

import { describe, expect, it } from '@jest/globals';
import { parse } from 'yaml';

import { InputDefaults, Inputs, Outputs } from './constants.js';

interface ActionYaml {
  readonly name?: unknown;
  readonly description?: unknown;
  readonly inputs?: Record<string, { description?: unknown; default?: unknown; required?: unknown }>;
  readonly outputs?: Record<string, { description?: unknown }>;
  readonly runs?: Record<string, unknown>;
}

const action = parse(readFileSync(new URL('../action.yml', import.meta.url), 'utf8')) as ActionYaml;
const defaults: Partial<Record<string, string | number | boolean>> = InputDefaults;

describe('action.yml', () => {
  it('declares exactly the inputs in constants.ts, each with a description', () => {
    expect(Object.keys(action.inputs ?? {}).sort()).toEqual(Object.values(Inputs).sort());
    for (const input of Object.values(action.inputs ?? {})) expect(typeof input.description).toBe('string');
  });

  it('declares the same defaults as constants.ts', () => {
    for (const [key, name] of Object.entries(Inputs)) {
      const declared = action.inputs?.[name]?.default;
      const constant = defaults[key];
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
    expect(action.runs).toEqual({ using: 'node24', main: 'dist/index.js' });
    expect(typeof action.name).toBe('string');
    expect(typeof action.description).toBe('string');
  });
});

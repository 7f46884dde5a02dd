// The README lists which image variables `sluice init` leaves out of `env`; the rule lives in
// core (compute/manifest-from-image.ts), and this keeps the list and the rule the same.
import { readFile } from 'node:fs/promises';

import { describe, expect, it } from '@jest/globals';

import {
  SYSTEM_ENV_NAMES,
  SYSTEM_ENV_PREFIXES,
  SYSTEM_ENV_SUFFIXES,
} from '../../packages/core/src/compute/manifest-from-image.js';

describe("README's rule for sluice init's env", () => {
  it('names every variable, prefix and suffix the code leaves out, and no other', async () => {
    const readme = await readFile(new URL('../../README.md', import.meta.url), 'utf8');
    const paragraph = /Variables left out of\s+`env` are ([\s\S]*?);\s+the others/.exec(readme)?.[1] ?? '';
    const names = [...paragraph.matchAll(/`([^`]+)`/g)].map((match) => match[1] ?? '');
    const listed = (part: RegExp): string[] => {
      const text = part.exec(paragraph)?.[1] ?? '';
      return [...text.matchAll(/`([^`]+)`/g)].map((match) => match[1] ?? '');
    };

    const prefixes = listed(/names starting with ([\s\S]*?), and names ending/);
    const suffixes = listed(/names ending in ([\s\S]*)$/);
    const exact = names.filter(
      (name) => !prefixes.includes(name) && !suffixes.includes(name) && name !== 'env',
    );

    expect(exact.filter((name) => name !== 'SLUICE_*').sort()).toEqual([...SYSTEM_ENV_NAMES].sort());
    expect(prefixes.sort()).toEqual([...SYSTEM_ENV_PREFIXES].sort());
    expect(suffixes.sort()).toEqual([...SYSTEM_ENV_SUFFIXES].sort());
  });
});

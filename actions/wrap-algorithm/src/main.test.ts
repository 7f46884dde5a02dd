import { describe, expect, it } from '@jest/globals';
import { createInputReader, createMemoryToolkit, runAction } from '@sluice/action-kit';

import { readInputs } from './inputs.js';
import { main } from './main.js';

describe('wrap-algorithm inputs', () => {
  it('applies the defaults outside the runner', () => {
    const inputs = readInputs(createInputReader(createMemoryToolkit()));

    expect(inputs).toEqual({
      manifest: 'algorithm.json',
      registry: undefined,
      platform: undefined,
      push: true,
    });
  });

  it('refuses a platform that is not os/arch', () => {
    const toolkit = createMemoryToolkit({ inputs: { platform: 'amd64' } });

    expect(() => readInputs(createInputReader(toolkit))).toThrow(
      'Input `platform` must be an OCI platform such as linux/amd64',
    );
  });
});

describe('wrap-algorithm main', () => {
  it('fails naming the input when the manifest does not exist', async () => {
    const toolkit = createMemoryToolkit({ inputs: { manifest: 'no-such-dir/algorithm.json' } });

    await runAction(() => main(toolkit), undefined, toolkit);

    expect(toolkit.failure()).toContain(
      'Input `manifest` names "no-such-dir/algorithm.json", which does not exist',
    );
    expect(toolkit.outputs.size).toBe(0);
  });
});

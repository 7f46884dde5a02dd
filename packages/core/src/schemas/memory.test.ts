import { describe, expect, test } from '@jest/globals';
import { ConfigurationError } from '../errors.js';
import { fargateSizes, isFargateSize, parseMemory, taskSize } from './memory.js';

describe('parseMemory', () => {
  test.each([
    [512, 512],
    [6, 6],
    ['512MiB', 512],
    ['1GiB', 1024],
    ['2GiB', 2048],
    ['120GiB', 122880],
  ] as const)('reads %p as %p MiB', (given, mib) => {
    expect(parseMemory(given)).toBe(mib);
  });

  test.each([
    ['2GB', 'Write 2GiB or 2048'],
    ['2G', 'Write 2GiB or 2048'],
    ['512MB', 'Write 512MiB or 512'],
    ['512M', 'Write 512MiB or 512'],
    ['512mib', 'Write 512MiB or 512'],
    ['2gib', 'Write 2GiB or 2048'],
    ['1.5GiB', 'Write 1536MiB or 1536'],
    ['512', 'Write 512MiB or 512'],
    [' 512 MiB', 'Write 512MiB or 512'],
    ['2TiB', 'Use MiB or GiB'],
    ['lots', 'Write a whole number'],
    [1.5, 'Write 2 (MiB)'],
    [0, 'at least 6 MiB'],
    [-1, 'at least 6 MiB'],
    ['0MiB', 'Write 0MiB or 0'],
    [2 * 1024 * 1024, 'at most 1048576 MiB'],
  ] as const)('refuses %p, saying %p', (given, words) => {
    expect(() => parseMemory(given)).toThrow(ConfigurationError);
    expect(() => parseMemory(given)).toThrow(words);
  });
});

describe('Fargate sizes', () => {
  test('follow the table', () => {
    expect(isFargateSize(0.25, 512)).toBe(true);
    expect(isFargateSize(0.25, 2048)).toBe(true);
    expect(isFargateSize(0.25, 4096)).toBe(false);
    expect(isFargateSize(0.5, 3072)).toBe(true);
    expect(isFargateSize(4, 30720)).toBe(true);
    expect(isFargateSize(8, 20480)).toBe(true);
    expect(isFargateSize(8, 18432)).toBe(false);
    expect(isFargateSize(16, 122880)).toBe(true);
    expect(isFargateSize(16, 126976)).toBe(false);
    expect(fargateSizes().every((size) => size.cpuUnits === size.cpu * 1024)).toBe(true);
  });

  test.each([
    [{ memoryMiB: 384 }, 128, { cpu: 0.25, memoryMiB: 512 }],
    [{ memoryMiB: 512 }, 128, { cpu: 0.25, memoryMiB: 1024 }],
    [{ memoryMiB: 4096, cpu: 0.25 }, 128, { cpu: 1, memoryMiB: 5120 }],
    [{ memoryMiB: 1024, cpu: 2 }, 128, { cpu: 2, memoryMiB: 4096 }],
    [{ memoryMiB: 30000, cpu: 4 }, 0, { cpu: 4, memoryMiB: 30720 }],
    [{ memoryMiB: 60000 }, 128, { cpu: 8, memoryMiB: 61440 }],
  ] as const)('taskSize(%p, %p) is the smallest that fits', (manifest, overhead, size) => {
    expect(taskSize(manifest, overhead)).toEqual(expect.objectContaining(size));
  });

  test('taskSize is undefined when nothing fits', () => {
    expect(taskSize({ memoryMiB: 122880 }, 128)).toBeUndefined();
    expect(taskSize({ memoryMiB: 1024, cpu: 32 }, 128)).toBeUndefined();
  });
});

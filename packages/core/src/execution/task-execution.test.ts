import { lstat, mkdir, mkdtemp, readFile, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';

import { afterEach, beforeEach, describe, expect, it } from '@jest/globals';
import fc from 'fast-check';

import { TaskWorkspace, hostPath, substitutePlaceholders, withManifestDefaults } from './task-execution.js';
import { manifest } from './manifest-fixture.test-support.js';

describe('task execution', () => {
  let root: string;
  beforeEach(async () => {
    root = await mkdtemp(join(tmpdir(), 'sluice-exec-'));
  });
  afterEach(async () => {
    await rm(root, { recursive: true, force: true });
  });

  it('places container paths under the root, and refuses relative or dotted ones', () => {
    expect(hostPath('/', '/data/in')).toBe('/data/in');
    expect(hostPath('/r', '/data/in')).toBe('/r/data/in');
    expect(() => hostPath('/r', 'data/in')).toThrow(/absolute/);
    expect(() => hostPath('/r', '/data/../etc')).toThrow(/absolute/);
  });

  it('replaces {input} and {output} in every argument', () => {
    expect(
      substitutePlaceholders(['run', '{input}', '--out={output}/x', '{input}{input}'], {
        input: '/i/a b',
        output: '/o',
      }),
    ).toEqual(['run', '/i/a b', '--out=/o/x', '/i/a b/i/a b']);
  });

  it('fills manifest defaults under the job values', () => {
    const m = manifest({
      env: {
        A: { required: false, default: '1', description: '', secret: false },
        B: { required: false, description: '', secret: false },
      },
    });
    expect(withManifestDefaults(m, { B: '2' })).toEqual({ A: '1', B: '2' });
    expect(withManifestDefaults(m, { A: 'x' })).toEqual({ A: 'x' });
  });

  it('keeps every input key inside the input directory (property)', () => {
    const workspace = new TaskWorkspace(manifest(), root);
    fc.assert(
      fc.property(fc.string({ maxLength: 400, unit: 'binary' }), (key) => {
        const file = workspace.inputFileFor(key);
        const rel = relative(workspace.inputPath, file);
        expect(rel.length).toBeGreaterThan(0);
        expect(rel.includes('/')).toBe(false);
        expect(rel === '..' || rel === '.').toBe(false);
        expect(Buffer.byteLength(rel)).toBeLessThanOrEqual(255);
      }),
    );
    const fileInput = new TaskWorkspace(manifest({ input: { path: '/data/input.csv', kind: 'file' } }), root);
    expect(fileInput.inputFileFor('../../etc/passwd')).toBe(join(root, 'data/input.csv'));
  });

  it('empties input and output before a task, and collects nested results', async () => {
    const workspace = new TaskWorkspace(manifest(), root);
    await mkdir(join(workspace.outputPath, 'stale'), { recursive: true });
    await writeFile(join(workspace.outputPath, 'stale/old.txt'), 'old');
    await workspace.prepare();
    expect(await workspace.collectOutputs()).toEqual([]);
    await mkdir(join(workspace.outputPath, 'a/b'), { recursive: true });
    await writeFile(join(workspace.outputPath, 'a/b/c.txt'), 'abc');
    await writeFile(join(workspace.outputPath, 'top.txt'), '');
    await symlink(join(workspace.outputPath, 'top.txt'), join(workspace.outputPath, 'link.txt'));
    const found = await workspace.collectOutputs();
    expect(found.map((o) => [o.relativePath, o.size])).toEqual([
      ['a/b/c.txt', 3],
      ['link.txt', 0],
      ['top.txt', 0],
    ]);
  });

  it('refuses a symlink pointing outside the output directory', async () => {
    const workspace = new TaskWorkspace(manifest(), root);
    await workspace.prepare();
    await symlink('/etc/passwd', join(workspace.outputPath, 'passwd'));
    await expect(workspace.collectOutputs()).rejects.toThrow(/outside the output/);
  });

  it('never follows an input or output directory the algorithm replaced by a symlink', async () => {
    const workspace = new TaskWorkspace(manifest(), root);
    await workspace.prepare();
    const elsewhere = join(root, 'elsewhere');
    await mkdir(elsewhere);
    await writeFile(join(elsewhere, 'precious.txt'), 'keep');
    // The "algorithm": replaces its output and input directories by links to another directory.
    const algorithm = async (): Promise<void> => {
      for (const path of [workspace.outputPath, workspace.inputPath]) {
        await rm(path, { recursive: true, force: true });
        await symlink(elsewhere, path);
      }
    };
    await algorithm();

    await expect(workspace.collectOutputs()).rejects.toThrow(/is not a directory.*link/);
    await workspace.prepare();

    expect(await readFile(join(elsewhere, 'precious.txt'), 'utf8')).toBe('keep');
    for (const path of [workspace.outputPath, workspace.inputPath]) {
      const info = await lstat(path);
      expect([info.isDirectory(), info.isSymbolicLink()]).toEqual([true, false]);
    }
    expect(await workspace.collectOutputs()).toEqual([]);
  });

  it('removes an output file the algorithm replaced by a symlink, not its target', async () => {
    const workspace = new TaskWorkspace(
      manifest({ output: { path: '/data/result.json', kind: 'file' } }),
      root,
    );
    await workspace.prepare();
    const precious = join(root, 'precious.txt');
    await writeFile(precious, 'keep');
    await symlink(precious, workspace.outputPath);

    await expect(workspace.collectOutputs()).rejects.toThrow(/not a regular file/);
    await workspace.prepare();

    expect(await readFile(precious, 'utf8')).toBe('keep');
    await expect(lstat(workspace.outputPath)).rejects.toThrow(/ENOENT/);
  });

  it('collects a single output file under its base name', async () => {
    const workspace = new TaskWorkspace(
      manifest({ output: { path: '/data/result.json', kind: 'file' } }),
      root,
    );
    await workspace.prepare();
    expect(await workspace.collectOutputs()).toEqual([]);
    await writeFile(workspace.outputPath, '{}');
    expect(await workspace.collectOutputs()).toEqual([
      { relativePath: 'result.json', file: workspace.outputPath, size: 2 },
    ]);
  });
});

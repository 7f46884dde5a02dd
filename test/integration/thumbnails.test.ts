// Integration: the example algorithm (examples/algorithms/thumbnails), a C program built static by
// its build.sh. On the host: thumbnails and stats.json of images whose answers are known (uniform
// colours, a block pattern), the sizes for landscape/portrait/small images, and the exit codes for
// bad input. In its image: built FROM scratch and wrapped with podman, the binary runs from
// /usr/local/bin, and the carried Node finds it by the manifest's command name, as the runner does.
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';

import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { CliContainerEngine, wrapAlgorithm, type WrappedImage } from '@sluice/core/compute';
import { parseManifest } from '@sluice/core';
import { REPOSITORY_ROOT, containerEngineEnv } from '@sluice/testing';

const execFileAsync = promisify(execFile);

const EXAMPLE = join(REPOSITORY_ROOT, 'examples', 'algorithms', 'thumbnails');
const THUMBNAIL = join(EXAMPLE, 'bin', 'thumbnail');
const MAKE_SAMPLES = join(EXAMPLE, 'bin', 'make-samples');
const IN_IMAGE = '/usr/local/bin/thumbnail';

interface ChannelStats {
  channel: string;
  mean: number;
  stddev: number;
  min: number;
  max: number;
}

interface Stats {
  input: string;
  format: 'PPM' | 'PGM';
  width: number;
  height: number;
  channels: number;
  maxval: number;
  pixels: number;
  stats: ChannelStats[];
  thumbnail: { file: string; width: number; height: number; size: number };
}

interface Outcome {
  code: number;
  stdout: string;
  stderr: string;
}

/** A binary PPM (3 channels) or PGM (1 channel) with a header comment, from raw samples. */
function netpbm(width: number, height: number, channels: 1 | 3, pixels: Uint8Array, maxval = 255): Buffer {
  const header = `P${channels === 3 ? '6' : '5'}\n# made by thumbnails.test.ts\n${width} ${height}\n${maxval}\n`;
  return Buffer.concat([Buffer.from(header, 'ascii'), pixels]);
}

function uniform(width: number, height: number, colour: readonly number[]): Uint8Array {
  const pixels = new Uint8Array(width * height * colour.length);
  for (let i = 0; i < pixels.length; i++) pixels[i] = colour[i % colour.length] ?? 0;
  return pixels;
}

/** Splits a netpbm file into its header fields and raster (the files the program writes: no comments). */
function readNetpbm(file: string): {
  magic: string;
  width: number;
  height: number;
  maxval: number;
  raster: Buffer;
} {
  const data = readFileSync(file);
  const fields: string[] = [];
  let at = 0;
  while (fields.length < 4) {
    while (/\s/.test(String.fromCharCode(data[at] ?? 0))) at++;
    const start = at;
    while (at < data.length && !/\s/.test(String.fromCharCode(data[at] ?? 0))) at++;
    fields.push(data.subarray(start, at).toString('ascii'));
  }
  const [magic = '', width = '0', height = '0', maxval = '0'] = fields;
  return {
    magic,
    width: Number(width),
    height: Number(height),
    maxval: Number(maxval),
    raster: data.subarray(at + 1),
  };
}

describe('the thumbnails example algorithm', () => {
  const work = mkdtempSync(join(tmpdir(), 'sluice-thumbnails-it-'));

  async function thumbnail(input: string, output: string, thumbSize?: string): Promise<Outcome> {
    const env = { ...process.env, ...(thumbSize !== undefined && { THUMB_SIZE: thumbSize }) };
    if (thumbSize === undefined) delete env.THUMB_SIZE;
    try {
      const { stdout, stderr } = await execFileAsync(THUMBNAIL, [input, output], { env });
      return { code: 0, stdout, stderr };
    } catch (thrown) {
      const failed = thrown as { code?: number; stdout?: string; stderr?: string };
      return { code: failed.code ?? -1, stdout: failed.stdout ?? '', stderr: failed.stderr ?? '' };
    }
  }

  function write(name: string, data: Buffer | string): string {
    const file = join(work, 'in', name);
    mkdirSync(join(work, 'in'), { recursive: true });
    writeFileSync(file, data);
    return file;
  }

  function stats(output: string): Stats {
    return JSON.parse(readFileSync(join(output, 'stats.json'), 'utf8')) as Stats;
  }

  beforeAll(async () => {
    await execFileAsync('bash', [join(EXAMPLE, 'build.sh'), '--force']);
  }, 120000);

  afterAll(() => {
    rmSync(work, { recursive: true, force: true });
  });

  it('builds a static binary: no interpreter, no dynamic section', () => {
    // ELF64 program headers: PT_DYNAMIC (2) and PT_INTERP (3) are what a dynamic executable has.
    const elf = readFileSync(THUMBNAIL);
    expect(elf.subarray(0, 4).toString('latin1')).toBe('\x7fELF');
    const offset = Number(elf.readBigUInt64LE(0x20));
    const size = elf.readUInt16LE(0x36);
    const types = Array.from({ length: elf.readUInt16LE(0x38) }, (_, i) =>
      elf.readUInt32LE(offset + i * size),
    );
    expect(types).toContain(1); // PT_LOAD
    expect(types).not.toContain(2);
    expect(types).not.toContain(3);
  });

  it('a uniform colour PPM: a thumbnail of that colour, mean = the colour, stddev 0', async () => {
    const input = write('teal.ppm', netpbm(400, 300, 3, uniform(400, 300, [10, 200, 30])));
    const output = join(work, 'out', 'teal');
    const outcome = await thumbnail(input, output, '64');

    expect(outcome).toEqual(expect.objectContaining({ code: 0, stderr: '' }));
    expect(outcome.stdout).toContain('400x300 PPM -> 64x48 thumbnail');
    const image = readNetpbm(join(output, 'thumbnail.ppm'));
    expect(image).toEqual(expect.objectContaining({ magic: 'P6', width: 64, height: 48, maxval: 255 }));
    expect(image.raster).toEqual(Buffer.from(uniform(64, 48, [10, 200, 30])));
    expect(stats(output)).toEqual({
      input: 'teal.ppm',
      format: 'PPM',
      width: 400,
      height: 300,
      channels: 3,
      maxval: 255,
      pixels: 120000,
      stats: [
        { channel: 'red', mean: 10, stddev: 0, min: 10, max: 10 },
        { channel: 'green', mean: 200, stddev: 0, min: 200, max: 200 },
        { channel: 'blue', mean: 30, stddev: 0, min: 30, max: 30 },
      ],
      thumbnail: { file: 'thumbnail.ppm', width: 64, height: 48, size: 64 },
    });
  });

  it('a PGM: area averaging of each block, and the statistics of the whole image', async () => {
    // 4x2 grey, THUMB_SIZE 2 → 2x1: each thumbnail pixel is the mean of a 2x2 block.
    const pixels = Uint8Array.from([0, 10, 100, 255, 20, 30, 101, 0]);
    const input = write('blocks.pgm', netpbm(4, 2, 1, pixels));
    const output = join(work, 'out', 'blocks');
    const outcome = await thumbnail(input, output, '2');

    expect(outcome.code).toBe(0);
    const image = readNetpbm(join(output, 'thumbnail.pgm'));
    expect(image).toEqual(expect.objectContaining({ magic: 'P5', width: 2, height: 1 }));
    // (0+10+20+30)/4 = 15; (100+255+101+0)/4 = 114
    expect([...image.raster]).toEqual([15, 114]);
    const mean = pixels.reduce((sum, value) => sum + value, 0) / pixels.length;
    const stddev = Math.sqrt(pixels.reduce((sum, value) => sum + (value - mean) ** 2, 0) / pixels.length);
    const [grey] = stats(output).stats;
    expect(grey?.channel).toBe('grey');
    expect(grey?.mean).toBeCloseTo(mean, 3);
    expect(grey?.stddev).toBeCloseTo(stddev, 3);
    expect(grey).toEqual(expect.objectContaining({ min: 0, max: 255 }));
    expect(stats(output).thumbnail).toEqual({ file: 'thumbnail.pgm', width: 2, height: 1, size: 2 });
  });

  it('sizes: the longest side is THUMB_SIZE (default 256), small images are not enlarged', async () => {
    const cases: [string, number, number, string | undefined, number, number][] = [
      ['portrait.pgm', 300, 900, '128', 43, 128],
      ['landscape.pgm', 1000, 10, '100', 100, 1],
      ['default.pgm', 1024, 512, undefined, 256, 128],
      ['small.pgm', 60, 40, '128', 60, 40],
    ];
    for (const [name, width, height, size, thumbWidth, thumbHeight] of cases) {
      const input = write(name, netpbm(width, height, 1, uniform(width, height, [77])));
      const output = join(work, 'out', name);
      expect((await thumbnail(input, output, size)).code).toBe(0);
      expect(stats(output).thumbnail).toEqual(
        expect.objectContaining({ width: thumbWidth, height: thumbHeight, size: Number(size ?? 256) }),
      );
      const image = readNetpbm(join(output, 'thumbnail.pgm'));
      expect([image.width, image.height, image.raster.length]).toEqual([
        thumbWidth,
        thumbHeight,
        thumbWidth * thumbHeight,
      ]);
      expect(image.raster.every((value) => value === 77)).toBe(true);
    }
  });

  it('refuses input it cannot read with exit 2 and a message that says why', async () => {
    const cases: [string, Buffer | string, string][] = [
      ['photo.jpg', Buffer.from([0xff, 0xd8, 0xff, 0xe0, 0, 16, 74, 70, 73, 70]), 'not a PPM or PGM image'],
      ['text.ppm', 'hello\n', 'not a PPM or PGM image'],
      ['ascii.ppm', 'P3\n1 1\n255\n0 0 0\n', 'ASCII (P3)'],
      ['deep.ppm', netpbm(1, 1, 3, new Uint8Array(6), 65535), '16-bit'],
      ['short.pgm', netpbm(10, 10, 1, new Uint8Array(50)), 'truncated'],
      ['empty.pgm', 'P5\n0 10\n255\n', 'no pixels'],
      ['header.pgm', 'P5\n10', 'the file ends right after the width'],
      ['over.pgm', netpbm(2, 1, 1, Uint8Array.from([5, 200]), 100), 'above the maxval 100'],
    ];
    for (const [name, data, message] of cases) {
      const outcome = await thumbnail(write(name, data), join(work, 'out', name), '64');
      expect({ name, code: outcome.code }).toEqual({ name, code: 2 });
      expect(outcome.stderr).toContain(message);
    }
    const missing = await thumbnail(join(work, 'in', 'missing.ppm'), join(work, 'out', 'missing'));
    expect(missing.code).toBe(2);
    expect(missing.stderr).toContain('cannot open');
  });

  it('refuses a bad THUMB_SIZE with exit 3', async () => {
    const input = write('ok.pgm', netpbm(2, 2, 1, uniform(2, 2, [1])));
    for (const size of ['0', '-5', '12px', '100000']) {
      const outcome = await thumbnail(input, join(work, 'out', `size-${size}`), size);
      expect(outcome.code).toBe(3);
      expect(outcome.stderr).toContain('THUMB_SIZE must be a whole number');
    }
  });

  it('the sample generator: 22 images the program reads, 2 it refuses', async () => {
    const samples = join(work, 'samples');
    const { stdout } = await execFileAsync(MAKE_SAMPLES, [samples]);
    const files = stdout
      .trim()
      .split('\n')
      .map((line) => line.split('  ')[0] ?? '');
    expect(files).toHaveLength(24);
    const codes = new Map<string, number>();
    for (const file of files) {
      codes.set(file.slice(samples.length + 1), (await thumbnail(file, `${file}.out`, '32')).code);
    }
    const failed = [...codes].filter(([, code]) => code !== 0);
    expect(failed).toEqual([
      ['broken/not-an-image.ppm', 2],
      ['broken/truncated-640x480.pgm', 2],
    ]);
    expect(readdirSync(join(samples, 'holiday photos', 'sunset+sea.ppm.out')).sort()).toEqual([
      'stats.json',
      'thumbnail.ppm',
    ]);
  }, 60000);

  describe('in its image, built FROM scratch and wrapped', () => {
    const id = randomBytes(4).toString('hex');
    const engineEnv = { ...process.env, ...containerEngineEnv() };
    const engine = new CliContainerEngine({ kind: 'podman', env: { ...containerEngineEnv() } });
    const data = join(work, 'data');
    let wrapped: WrappedImage;

    async function podman(args: readonly string[]): Promise<Outcome> {
      try {
        const { stdout, stderr } = await execFileAsync('podman', [...args], { env: engineEnv });
        return { code: 0, stdout, stderr };
      } catch (thrown) {
        const failed = thrown as { code?: number; stdout?: string; stderr?: string };
        return { code: failed.code ?? -1, stdout: failed.stdout ?? '', stderr: failed.stderr ?? '' };
      }
    }

    function runArgs(entrypoint: string, image: string, memory = '64m'): string[] {
      return [
        'run',
        '--rm',
        '--network',
        'none',
        '-m',
        memory,
        '-v',
        `${join(data, 'in')}:/data/in:ro`,
        '-v',
        `${join(data, 'out')}:/data/out`,
        '--entrypoint',
        entrypoint,
        image,
      ];
    }

    beforeAll(async () => {
      const manifestPath = join(EXAMPLE, 'algorithm.json');
      // A name of its own: the test's images never replace the demo's localhost/sluice/thumbnails.
      const text = readFileSync(manifestPath, 'utf8').replace(
        '"name": "thumbnails"',
        `"name": "thumbnails-it-${id}"`,
      );
      wrapped = await wrapAlgorithm({
        manifest: parseManifest(text, manifestPath),
        manifestText: text,
        manifestPath,
        engine,
        runnerDir: join(REPOSITORY_ROOT, 'packages', 'runner', 'dist'),
      });
      mkdirSync(join(data, 'in'), { recursive: true });
      mkdirSync(join(data, 'out'), { recursive: true });
      writeFileSync(join(data, 'in', 'grey.pgm'), netpbm(90, 30, 1, uniform(90, 30, [42])));
      writeFileSync(join(data, 'in', 'bad.ppm'), 'not an image\n');
    }, 300000);

    afterAll(async () => {
      await engine.removeImages([wrapped.image, wrapped.algorithmImage]);
    }, 120000);

    it('runs the static binary from /usr/local/bin, with no shell or libraries in the image', async () => {
      const ok = await podman([...runArgs(IN_IMAGE, wrapped.image), '/data/in/grey.pgm', '/data/out/grey']);
      expect(ok).toEqual(expect.objectContaining({ code: 0 }));
      expect(ok.stdout).toContain('90x30 PGM -> 90x30 thumbnail');
      expect(stats(join(data, 'out', 'grey')).stats).toEqual([
        { channel: 'grey', mean: 42, stddev: 0, min: 42, max: 42 },
      ]);

      const bad = await podman([...runArgs(IN_IMAGE, wrapped.image), '/data/in/bad.ppm', '/data/out/bad']);
      expect(bad.code).toBe(2);
      expect(bad.stderr).toContain('not a PPM or PGM image');

      const shell = await podman([...runArgs('/bin/sh', wrapped.algorithmImage), '-c', 'true']);
      expect(shell.code).not.toBe(0);
    });

    it("the runner's argv is the manifest's command alone: the image sets no entrypoint", () => {
      // docs/contracts.md: argv = [...(entrypoint ?? []), ...(manifest.command ?? cmd ?? [])]. An
      // ENTRYPOINT would be run before the command (and `sluice try` on the host would not run it).
      expect(wrapped.original.entrypoint).toBeNull();
      expect(wrapped.original.cmd).toEqual([IN_IMAGE]);
      expect(wrapped.original.env).toContain('PATH=/usr/local/bin');
    });

    it("the wrapped image's Node finds the manifest's command on PATH, as the runner spawns it", async () => {
      const details = await engine.inspectImage(wrapped.image);
      const node = details.entrypoint?.slice(0, -1) ?? [];
      expect(node.at(-1)).toBe('/sluice/node/bin/node');
      const script =
        "const r = require('node:child_process').spawnSync('thumbnail', ['/data/in/grey.pgm', '/data/out/by-name'], " +
        "{ env: { PATH: process.env.PATH, THUMB_SIZE: '9' }, encoding: 'utf8' }); " +
        'process.stdout.write(JSON.stringify({ status: r.status, stdout: r.stdout, error: r.error?.message }));';
      const outcome = await podman([...runArgs(JSON.stringify(node), wrapped.image, '256m'), '-e', script]);
      expect(outcome.code).toBe(0);
      expect(JSON.parse(outcome.stdout)).toEqual({
        status: 0,
        stdout: 'grey.pgm: 90x30 PGM -> 9x3 thumbnail\n',
      });
    });
  });
});

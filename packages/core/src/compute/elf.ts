// Just enough of ELF to find what a dynamically linked program needs: its interpreter (the dynamic
// loader) and its DT_NEEDED libraries. `ldd` answers that for the host's own binaries, but it works
// by running the program, which cannot be done for another architecture's Node binary.
import { open } from 'node:fs/promises';

import { ConfigurationError } from '../errors.js';

/** What an ELF file says about its dynamic linking. */
export interface ElfDependencies {
  /** `e_machine` as a platform architecture (`amd64`, `arm64`) or `machine-<n>` for others. */
  readonly architecture: string;
  /** The PT_INTERP path, e.g. `/lib64/ld-linux-x86-64.so.2`; absent for static binaries and libraries. */
  readonly interpreter?: string;
  /** DT_NEEDED names, in order, e.g. `libstdc++.so.6`. */
  readonly needed: readonly string[];
}

const PT_LOAD = 1;
const PT_DYNAMIC = 2;
const PT_INTERP = 3;
const DT_NULL = 0n;
const DT_NEEDED = 1n;
const DT_STRTAB = 5n;
const MACHINES: Readonly<Record<number, string>> = { 62: 'amd64', 183: 'arm64' };

interface Segment {
  readonly type: number;
  readonly offset: number;
  readonly vaddr: number;
  readonly filesz: number;
}

/**
 * Reads the interpreter and needed libraries of a 64-bit little-endian ELF file (x86-64, arm64).
 *
 * @example
 * const deps = await readElfDependencies('/usr/bin/node');
 * deps.needed; // ['libdl.so.2', 'libstdc++.so.6', …]
 * @throws {ConfigurationError} when the file is not a 64-bit little-endian ELF file.
 */
export async function readElfDependencies(file: string): Promise<ElfDependencies> {
  const handle = await open(file, 'r');
  try {
    const read = async (position: number, length: number): Promise<Buffer> => {
      const buffer = Buffer.alloc(length);
      const { bytesRead } = await handle.read(buffer, 0, length, position);
      return buffer.subarray(0, bytesRead);
    };
    const header = await read(0, 64);
    if (header.length < 64 || header.readUInt32BE(0) !== 0x7f454c46 || header[4] !== 2 || header[5] !== 1) {
      throw new ConfigurationError(`${file} is not a 64-bit little-endian ELF file`);
    }
    const machine = header.readUInt16LE(0x12);
    const phoff = Number(header.readBigUInt64LE(0x20));
    const phentsize = header.readUInt16LE(0x36);
    const phnum = header.readUInt16LE(0x38);
    const table = await read(phoff, phentsize * phnum);
    const segments: Segment[] = [];
    for (let i = 0; i < phnum; i += 1) {
      const at = i * phentsize;
      segments.push({
        type: table.readUInt32LE(at),
        offset: Number(table.readBigUInt64LE(at + 8)),
        vaddr: Number(table.readBigUInt64LE(at + 16)),
        filesz: Number(table.readBigUInt64LE(at + 32)),
      });
    }
    const toOffset = (vaddr: number): number => {
      const load = segments.find((s) => s.type === PT_LOAD && vaddr >= s.vaddr && vaddr < s.vaddr + s.filesz);
      if (load === undefined)
        throw new ConfigurationError(`${file}: address ${vaddr} is in no loaded segment`);
      return vaddr - load.vaddr + load.offset;
    };
    const cString = async (position: number): Promise<string> => {
      const chunk = await read(position, 4096);
      const end = chunk.indexOf(0);
      return chunk.subarray(0, end === -1 ? chunk.length : end).toString('utf8');
    };
    const interp = segments.find((s) => s.type === PT_INTERP);
    const interpreter = interp !== undefined ? await cString(interp.offset) : undefined;
    const dynamic = segments.find((s) => s.type === PT_DYNAMIC);
    const neededOffsets: bigint[] = [];
    let strtab: bigint | undefined;
    if (dynamic !== undefined) {
      const entries = await read(dynamic.offset, dynamic.filesz);
      for (let at = 0; at + 16 <= entries.length; at += 16) {
        const tag = entries.readBigInt64LE(at);
        const value = entries.readBigUInt64LE(at + 8);
        if (tag === DT_NULL) break;
        if (tag === DT_NEEDED) neededOffsets.push(value);
        if (tag === DT_STRTAB) strtab = value;
      }
    }
    const needed: string[] = [];
    if (strtab !== undefined) {
      const base = toOffset(Number(strtab));
      for (const offset of neededOffsets) needed.push(await cString(base + Number(offset)));
    }
    return {
      architecture: MACHINES[machine] ?? `machine-${machine}`,
      ...(interpreter !== undefined ? { interpreter } : {}),
      needed,
    };
  } finally {
    await handle.close();
  }
}

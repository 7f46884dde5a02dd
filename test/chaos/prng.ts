// The chaos suite's one source of randomness: a small seeded PRNG (mulberry32), so a run's inputs,
// fault plan and kill schedule follow from SLUICE_CHAOS_SEED. What the seed cannot fix is the
// interleaving of two runners and the machine's timing: the same seed gives the same inputs and the
// same draws, taken in the order the requests arrive.

/** A seeded pseudo-random source. */
export class Prng {
  private state: number;

  constructor(readonly seed: number) {
    this.state = seed >>> 0;
  }

  /** A float in [0, 1). */
  next(): number {
    this.state = (this.state + 0x6d2b79f5) >>> 0;
    let t = this.state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }

  /** An integer in [min, max]. */
  int(min: number, max: number): number {
    return min + Math.floor(this.next() * (max - min + 1));
  }

  /** True with probability `p`. */
  chance(p: number): boolean {
    return this.next() < p;
  }

  /** One element of a non-empty list. */
  pick<T>(items: readonly T[]): T {
    const item = items[Math.floor(this.next() * items.length)];
    if (item === undefined) throw new Error('pick from an empty list');
    return item;
  }

  /** A derived, independent source (one per concern, so adding draws to one does not shift another). */
  fork(label: string): Prng {
    let hash = this.seed >>> 0;
    for (const char of label) hash = Math.imul(hash ^ char.charCodeAt(0), 0x01000193) >>> 0;
    return new Prng(hash);
  }

  /** `length` printable characters. */
  text(length: number): string {
    const alphabet = 'abcdefghijklmnopqrstuvwxyz0123456789 ';
    let out = '';
    for (let i = 0; i < length; i += 1) {
      out += alphabet[Math.floor(this.next() * alphabet.length)] ?? 'x';
      if (i % 64 === 63) out += '\n';
    }
    return out;
  }
}

/** SLUICE_CHAOS_SEED, else a fixed default (printed by the suite, so any run can be replayed). */
export function chaosSeed(env: NodeJS.ProcessEnv = process.env): number {
  const raw = env.SLUICE_CHAOS_SEED;
  if (raw === undefined || raw === '') return 20261202;
  const seed = Number.parseInt(raw, 10);
  if (!Number.isSafeInteger(seed) || seed < 0)
    throw new Error(`SLUICE_CHAOS_SEED must be a whole number, not ${raw}`);
  return seed;
}

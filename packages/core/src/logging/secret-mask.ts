/**
 * The one way sluice hides secret values in text it writes: every occurrence of a value becomes
 * `***`. The runner's log lines, task logs and task records, `sluice try`'s output and the run's
 * summary all mask through it, so they agree on what is hidden.
 */

/** What a masked value is replaced by. */
const MASK = '***';

/**
 * A set of secret values and the masking of text with them. Longer values are replaced first, so a
 * secret that contains another is hidden whole. Values can be added later (`add`); whoever holds
 * the mask sees them from then on.
 *
 * @example
 * const mask = new SecretMask(['hunter2']);
 * mask.text('password is hunter2'); // 'password is ***'
 * mask.deep({ message: 'hunter2', n: 1 }); // { message: '***', n: 1 }
 */
export class SecretMask {
  private readonly secrets: string[] = [];

  /** Empty values are ignored: they would mask nothing. */
  constructor(values: Iterable<string> = []) {
    for (const value of values) this.add(value);
  }

  /** Masks `value` from now on. */
  add(value: string): void {
    if (value.length === 0 || this.secrets.includes(value)) return;
    this.secrets.push(value);
    this.secrets.sort((a, b) => b.length - a.length);
  }

  /** The values masked, longest first. */
  get values(): readonly string[] {
    return this.secrets;
  }

  /** Length of the longest value (0 without any): how much of a text can still be an unfinished secret. */
  get longest(): number {
    return this.secrets[0]?.length ?? 0;
  }

  /** `text` with every secret value replaced by `***`. */
  text(text: string): string {
    let masked = text;
    for (const secret of this.secrets) masked = masked.split(secret).join(MASK);
    return masked;
  }

  /** A copy of a JSON-like value with every string in it masked, at any depth (keys are kept). */
  deep<T>(value: T): T {
    return this.maskValue(value) as T;
  }

  /**
   * Where a text may be cut so that no secret lies across the cut: `at` or later. An occurrence
   * across `at` moves the cut to its end (an occurrence is only found whole, so the end is within
   * the text); what follows the cut keeps any secret whose start only has arrived.
   */
  safeCut(text: string, at: number): number {
    let cut = at;
    let moved = true;
    while (moved) {
      moved = false;
      for (const secret of this.secrets) {
        const found = text.indexOf(secret, Math.max(0, cut - secret.length + 1));
        if (found !== -1 && found < cut) {
          cut = found + secret.length;
          moved = true;
        }
      }
    }
    return cut;
  }

  private maskValue(value: unknown): unknown {
    if (typeof value === 'string') return this.text(value);
    if (Array.isArray(value)) return value.map((item) => this.maskValue(item));
    if (value !== null && typeof value === 'object') {
      const out: Record<string, unknown> = {};
      for (const [key, child] of Object.entries(value)) {
        if (child !== undefined) out[key] = this.maskValue(child);
      }
      return out;
    }
    return value;
  }
}

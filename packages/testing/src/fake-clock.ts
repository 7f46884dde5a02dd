/** What the fakes ask of a clock: milliseconds since the epoch, like `Date.now()`. */
export interface FakeClock {
  now(): number;
}

/**
 * A clock that only moves when told: lets a unit test run a visibility timeout of an hour in no
 * time.
 *
 * @example
 * const clock = new ManualClock();
 * const queue = new FakeTaskQueue({ clock, visibilityTimeoutSeconds: 30 });
 * clock.advance(31_000); // the received message is visible again
 */
export class ManualClock implements FakeClock {
  private current: number;

  constructor(start: number | Date = Date.UTC(2025, 0, 1)) {
    this.current = typeof start === 'number' ? start : start.getTime();
  }

  now(): number {
    return this.current;
  }

  /** Moves the clock forward by `ms` milliseconds. */
  advance(ms: number): void {
    if (ms < 0) throw new RangeError(`ManualClock cannot go back (${ms} ms)`);
    this.current += ms;
  }
}

/** The real clock, for fakes used without a ManualClock. */
export const systemClock: FakeClock = { now: () => Date.now() };

/**
 * Time as the pure modules see it. Production passes `systemClock`; tests pass a `ManualClock`
 * and move time explicitly, so no test ever sleeps.
 */
export interface Clock {
  /** Monotonic milliseconds (not wall time): only differences are meaningful. */
  now(): number;
}

/** Monotonic clock backed by `performance.now()`; never jumps backwards with NTP. */
export const systemClock: Clock = { now: () => performance.now() };

/** A clock that only moves when told to. */
export class ManualClock implements Clock {
  private current: number;

  constructor(startMs = 0) {
    this.current = startMs;
  }

  now(): number {
    return this.current;
  }

  /** Moves time forward by `ms` (must be ≥ 0). */
  advance(ms: number): void {
    if (ms < 0) throw new RangeError(`ManualClock cannot go backwards (advance ${ms})`);
    this.current += ms;
  }
}

/**
 * Time as the operator's pure modules see it. Production passes `systemScheduler`; tests pass
 * a `ManualScheduler` and move time explicitly, so no test ever sleeps.
 */

/** Wall-clock milliseconds since the epoch (status timestamps are wall time). */
export interface Clock {
  now(): number;
}

/** Cancels a scheduled callback; calling it after the callback ran is harmless. */
export type Cancel = () => void;

/** A clock that can also run a callback later. */
export interface Scheduler extends Clock {
  /** Runs `callback` once, `delayMs` (≥ 0) from now. */
  schedule(delayMs: number, callback: () => void): Cancel;
}

/** Real time: `Date.now()` and `setTimeout`; timers do not keep the process alive. */
export const systemScheduler: Scheduler = {
  now: () => Date.now(),
  schedule(delayMs, callback) {
    const handle = setTimeout(callback, Math.max(0, delayMs));
    handle.unref();
    return () => clearTimeout(handle);
  },
};

interface ManualTimer {
  at: number;
  seq: number;
  callback: () => void;
  cancelled: boolean;
}

/** A scheduler whose time only moves when told to; timers fire in (due time, creation) order. */
export class ManualScheduler implements Scheduler {
  private current: number;
  private seq = 0;
  private timers: ManualTimer[] = [];

  constructor(startMs = 0) {
    this.current = startMs;
  }

  now(): number {
    return this.current;
  }

  schedule(delayMs: number, callback: () => void): Cancel {
    const timer: ManualTimer = {
      at: this.current + Math.max(0, delayMs),
      seq: this.seq++,
      callback,
      cancelled: false,
    };
    this.timers.push(timer);
    return () => {
      timer.cancelled = true;
    };
  }

  /** Timers not yet fired nor cancelled. */
  pendingTimers(): number {
    return this.timers.filter((t) => !t.cancelled).length;
  }

  /** Due time of the next live timer, if any. */
  nextDue(): number | undefined {
    let next: number | undefined;
    for (const t of this.timers)
      if (!t.cancelled && (next === undefined || t.at < next)) next = t.at;
    return next;
  }

  /**
   * Moves time forward by `ms` (≥ 0), firing every timer that falls due on the way, each at its
   * own due time (timers scheduled by a callback fire too if they fall within the window).
   */
  advance(ms: number): void {
    if (ms < 0) throw new RangeError(`ManualScheduler cannot go backwards (advance ${ms})`);
    const target = this.current + ms;
    for (;;) {
      this.timers = this.timers.filter((t) => !t.cancelled);
      let next: ManualTimer | undefined;
      for (const t of this.timers) {
        if (
          t.at <= target &&
          (next === undefined || t.at < next.at || (t.at === next.at && t.seq < next.seq))
        )
          next = t;
      }
      if (next === undefined) break;
      this.current = Math.max(this.current, next.at);
      next.cancelled = true;
      next.callback();
    }
    this.current = target;
  }
}

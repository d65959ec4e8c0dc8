/**
 * Deadlines of saga calls on one timer per distinct timeout instead of one timer (and one
 * AbortSignal) per call: calls with the same timeout expire in the order they started, so each
 * timeout keeps a FIFO and arms a timer for its oldest live entry only. A finished call is marked
 * cancelled and skipped when it reaches the front. Per-call timers were a tenth of the leader's
 * CPU per step call (AbortSignal.timeout: a timer, a signal, listeners inside undici).
 */

/** A registered deadline; `cancel` it when the call finished first. */
export interface Deadline {
  cancel(): void;
}

/** Timer functions (tests pass their own). */
export interface DeadlineTimers {
  now(): number;
  set(callback: () => void, ms: number): unknown;
  clear(timer: unknown): void;
}

const systemTimers: DeadlineTimers = {
  now: () => performance.now(),
  // Unref'd, as AbortSignal.timeout's: a pending deadline does not keep the process alive.
  set: (callback, ms) => setTimeout(callback, ms).unref(),
  clear: (timer) => clearTimeout(timer as NodeJS.Timeout),
};

interface Entry {
  readonly at: number;
  readonly expire: () => void;
  cancelled: boolean;
}

/** The entries of one timeout, oldest first, and the timer of the oldest. */
class Fifo {
  entries: Entry[] = [];
  head = 0;
  timer: unknown = undefined;
}

/** Runs `expire` of every deadline not cancelled once its time has come. */
export class DeadlineQueue {
  private readonly fifos = new Map<number, Fifo>();

  constructor(private readonly timers: DeadlineTimers = systemTimers) {}

  /** Calls `expire` in `timeoutMs` unless cancelled first. */
  add(timeoutMs: number, expire: () => void): Deadline {
    let fifo = this.fifos.get(timeoutMs);
    if (fifo === undefined) {
      fifo = new Fifo();
      this.fifos.set(timeoutMs, fifo);
    }
    const entry: Entry = { at: this.timers.now() + timeoutMs, expire, cancelled: false };
    fifo.entries.push(entry);
    if (fifo.timer === undefined) this.arm(timeoutMs, fifo);
    return {
      cancel: () => {
        entry.cancelled = true;
      },
    };
  }

  /** Drops every deadline without running it (shutdown). */
  clear(): void {
    for (const fifo of this.fifos.values()) this.timers.clear(fifo.timer);
    this.fifos.clear();
  }

  private arm(timeoutMs: number, fifo: Fifo): void {
    const first = fifo.entries[fifo.head] as Entry;
    fifo.timer = this.timers.set(
      () => this.expire(timeoutMs, fifo),
      Math.max(0, first.at - this.timers.now()),
    );
  }

  private expire(timeoutMs: number, fifo: Fifo): void {
    fifo.timer = undefined;
    const now = this.timers.now();
    const due: Entry[] = [];
    for (;;) {
      const entry = fifo.entries[fifo.head];
      if (entry === undefined || (!entry.cancelled && entry.at > now)) break;
      fifo.head++;
      if (!entry.cancelled) due.push(entry);
    }
    if (fifo.head === fifo.entries.length) {
      this.fifos.delete(timeoutMs);
    } else {
      // Drop the consumed front now and then (amortized O(1) per entry).
      if (fifo.head > 1024 && fifo.head * 2 > fifo.entries.length) {
        fifo.entries = fifo.entries.slice(fifo.head);
        fifo.head = 0;
      }
      this.arm(timeoutMs, fifo);
    }
    for (const entry of due) entry.expire();
  }
}

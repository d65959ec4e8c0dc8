/**
 * Many waits of one fixed duration, expired by one timer. Because every wait lasts the same
 * `durationMs`, deadlines come in the order the waits were added: the queue is a FIFO and only
 * its oldest pending wait needs a timer. Settling a wait does not touch the timer; when the timer
 * fires it drops the settled waits at the front, expires those whose deadline has passed and
 * re-arms for the next one. So under load there is about one timer per `durationMs` instead of a
 * `setTimeout` and a `clearTimeout` per wait (a timer object, a list insertion and async-hook
 * bookkeeping each), and expiry is still on time, not at a sweep's granularity.
 *
 * Used for the per-attempt `requestTimeout` and the global rate limiter's Redis time bound.
 */
import { systemClock, type Clock } from '../core/clock.js';

/** Schedules `callback` once after `delayMs`; must not keep the process alive. */
export type OneShotTimer = (callback: () => void, delayMs: number) => void;

const unrefTimer: OneShotTimer = (callback, delayMs) => {
  setTimeout(callback, delayMs).unref();
};

/** Options of a `DeadlineQueue`. */
export interface DeadlineQueueOptions<T> {
  /** How long every wait lasts, in ms (> 0). */
  readonly durationMs: number;
  /** Called once for each wait still pending at its deadline, oldest first. Must not throw. */
  readonly onExpire: (item: T) => void;
  readonly clock?: Clock;
  /** Default: `setTimeout`, unref'd. Tests pass one they fire by hand. */
  readonly timer?: OneShotTimer;
}

/** One wait of a `DeadlineQueue`; `cancel` once the awaited thing happened. */
export class Deadline<T> {
  /** Null once cancelled or expired. */
  item: T | null;

  constructor(
    item: T,
    /** `clock.now()` at which the wait expires. */
    readonly at: number,
  ) {
    this.item = item;
  }

  /** The wait is over: it will not expire. Idempotent. */
  cancel(): void {
    this.item = null;
  }
}

/** The longest delay `setTimeout` honours. */
const maxTimerDelayMs = 2 ** 31 - 1;

/** Compacting the array once this many settled waits sit at its front keeps `add` O(1). */
const compactAfter = 1024;

/** A FIFO of waits of one duration with at most one timer armed; see the module comment. */
export class DeadlineQueue<T> {
  private readonly durationMs: number;
  private readonly onExpire: (item: T) => void;
  private readonly clock: Clock;
  private readonly timer: OneShotTimer;
  private waits: Deadline<T>[] = [];
  /** Index of the oldest wait not yet dropped. */
  private head = 0;
  private armed = false;

  constructor(options: DeadlineQueueOptions<T>) {
    if (!(options.durationMs > 0)) throw new RangeError('durationMs must be > 0');
    this.durationMs = options.durationMs;
    this.onExpire = options.onExpire;
    this.clock = options.clock ?? systemClock;
    this.timer = options.timer ?? unrefTimer;
  }

  /** Starts a wait for `item`, expiring `durationMs` from now unless cancelled. */
  add(item: T): Deadline<T> {
    const wait = new Deadline(item, this.clock.now() + this.durationMs);
    // Waits mostly end in the order they began: dropping the settled ones at the front here keeps
    // the array short between two firings even when the duration is long.
    this.dropSettled();
    this.waits.push(wait);
    if (!this.armed) this.arm(this.durationMs);
    return wait;
  }

  /** Waits neither cancelled nor expired (for tests and diagnostics; O(n)). */
  get pending(): number {
    let count = 0;
    for (let i = this.head; i < this.waits.length; i++)
      if ((this.waits[i] as Deadline<T>).item !== null) count++;
    return count;
  }

  private arm(delayMs: number): void {
    this.armed = true;
    // Timers run on the event loop's cached time and may fire a little before `clock` says the
    // deadline passed: `fire` then re-arms for what is left (at least 1 ms). Node fires a delay
    // beyond 2^31 - 1 ms after 1 ms instead: capped, a longer wait is re-armed in steps.
    this.timer(this.fire, Math.min(maxTimerDelayMs, Math.max(1, Math.ceil(delayMs))));
  }

  /** Drops cancelled and expired waits from the front; compacts once the front is long. */
  private dropSettled(): void {
    const waits = this.waits;
    let head = this.head;
    while (head < waits.length && (waits[head] as Deadline<T>).item === null) head++;
    if (head === waits.length) {
      if (head > 0) this.waits = [];
      this.head = 0;
    } else if (head >= compactAfter && head * 2 >= waits.length) {
      this.waits = waits.slice(head);
      this.head = 0;
    } else {
      this.head = head;
    }
  }

  /**
   * The timer: expires what is due, oldest first, and re-arms for the next pending wait.
   * `armed` stays true while `onExpire` runs, so an `add` from inside it does not arm a second
   * timer.
   */
  private readonly fire = (): void => {
    const now = this.clock.now();
    for (;;) {
      this.dropSettled();
      const next = this.waits[this.head];
      if (next === undefined) {
        this.armed = false;
        return;
      }
      if (next.at > now) {
        this.arm(next.at - now);
        return;
      }
      const item = next.item as T;
      next.item = null;
      this.onExpire(item);
    }
  };
}

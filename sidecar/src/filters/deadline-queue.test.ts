import { describe, expect, it } from '@jest/globals';
import { ManualClock } from '../core/clock.js';
import { DeadlineQueue } from './deadline-queue.js';

/** A queue on a manual clock whose timer is fired by hand; `delays` records each arming. */
function setup(durationMs = 100) {
  const clock = new ManualClock(1_000);
  const expired: string[] = [];
  const delays: number[] = [];
  let armed: (() => void) | null = null;
  const queue = new DeadlineQueue<string>({
    durationMs,
    onExpire: (item) => expired.push(item),
    clock,
    timer: (callback, delayMs) => {
      expect(armed).toBeNull(); // never two timers at once
      armed = callback;
      delays.push(delayMs);
    },
  });
  /** Fires the armed timer after moving the clock by `ms`. */
  const fireAfter = (ms: number): void => {
    clock.advance(ms);
    const callback = armed;
    armed = null;
    if (callback === null) throw new Error('no timer armed');
    callback();
  };
  return { clock, queue, expired, delays, fireAfter, isArmed: () => armed !== null };
}

describe('DeadlineQueue', () => {
  it('expires a pending wait at its deadline and not before', () => {
    const { queue, expired, delays, fireAfter } = setup();
    queue.add('a');
    expect(delays).toEqual([100]);
    fireAfter(99); // a timer may run early on the loop's cached time: re-armed for the rest
    expect(expired).toEqual([]);
    expect(delays).toEqual([100, 1]);
    fireAfter(1);
    expect(expired).toEqual(['a']);
    expect(queue.pending).toBe(0);
  });

  it('arms one timer for many waits and never expires a cancelled one', () => {
    const { clock, queue, expired, delays, fireAfter, isArmed } = setup();
    const a = queue.add('a');
    clock.advance(30);
    queue.add('b');
    clock.advance(30);
    const c = queue.add('c');
    expect(delays).toEqual([100]); // b and c did not arm timers
    a.cancel();
    c.cancel();
    fireAfter(40); // t = 100 after a: a is cancelled, b is due at 130
    expect(expired).toEqual([]);
    expect(delays).toEqual([100, 30]);
    fireAfter(30);
    expect(expired).toEqual(['b']);
    expect(isArmed()).toBe(false); // c was cancelled: nothing left to wait for
  });

  it('expires everything due in one firing, oldest first', () => {
    const { clock, queue, expired, fireAfter } = setup();
    queue.add('a');
    clock.advance(10);
    queue.add('b');
    fireAfter(500); // the timer ran late (a busy event loop)
    expect(expired).toEqual(['a', 'b']);
  });

  it('arms again when a wait is added after the queue went empty', () => {
    const { queue, expired, delays, fireAfter } = setup();
    queue.add('a').cancel();
    fireAfter(100);
    expect(delays).toEqual([100]);
    queue.add('b');
    expect(delays).toEqual([100, 100]);
    fireAfter(100);
    expect(expired).toEqual(['b']);
  });

  it('does not arm a second timer when a wait is added from onExpire', () => {
    const clock = new ManualClock(0);
    let armed: (() => void) | null = null;
    let arming = 0;
    const queue: DeadlineQueue<string> = new DeadlineQueue<string>({
      durationMs: 50,
      clock,
      onExpire: (item) => {
        if (item === 'first') queue.add('retry');
      },
      timer: (callback) => {
        arming++;
        armed = callback;
      },
    });
    queue.add('first');
    clock.advance(50);
    (armed as unknown as () => void)();
    expect(arming).toBe(2); // the first timer, then one for 'retry'
    expect(queue.pending).toBe(1);
  });

  it('keeps its array short when waits settle in order, however long the duration', () => {
    const { queue } = setup(60_000);
    for (let i = 0; i < 10_000; i++) queue.add(String(i)).cancel();
    const waits = (queue as unknown as { waits: unknown[] }).waits;
    expect(waits.length).toBeLessThanOrEqual(1);
    expect(queue.pending).toBe(0);
  });

  it('waits longer than a timer can in steps of the longest timer delay', () => {
    const { queue, expired, delays, fireAfter } = setup(3 * 2 ** 31);
    queue.add('a');
    expect(delays).toEqual([2 ** 31 - 1]);
    fireAfter(2 ** 31 - 1);
    expect(expired).toEqual([]);
    expect(delays[1]).toBe(2 ** 31 - 1);
    fireAfter(2 ** 31 - 1);
    fireAfter(2 ** 31 + 2);
    expect(expired).toEqual(['a']);
  });

  it('refuses a duration that is not positive', () => {
    expect(() => new DeadlineQueue({ durationMs: 0, onExpire: () => undefined })).toThrow(
      RangeError,
    );
  });
});

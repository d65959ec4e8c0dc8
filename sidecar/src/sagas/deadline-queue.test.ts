import { describe, expect, it } from '@jest/globals';
import { DeadlineQueue, type DeadlineTimers } from './deadline-queue.js';

/** Timers on a clock the test moves. */
class FakeTimers implements DeadlineTimers {
  time = 0;
  private next = 1;
  readonly pending = new Map<number, { at: number; callback: () => void }>();
  now = () => this.time;
  set = (callback: () => void, ms: number) => {
    const id = this.next++;
    this.pending.set(id, { at: this.time + ms, callback });
    return id;
  };
  clear = (timer: unknown) => {
    this.pending.delete(timer as number);
  };
  advance(ms: number): void {
    const until = this.time + ms;
    for (;;) {
      const [id, due] = [...this.pending].sort((a, b) => a[1].at - b[1].at)[0] ?? [];
      if (id === undefined || due === undefined || due.at > until) break;
      this.pending.delete(id);
      this.time = due.at;
      due.callback();
    }
    this.time = until;
  }
}

describe('DeadlineQueue', () => {
  it('expires each live deadline at its time, with one timer per distinct timeout', () => {
    const timers = new FakeTimers();
    const queue = new DeadlineQueue(timers);
    const expired: string[] = [];
    queue.add(100, () => expired.push('a'));
    timers.advance(10);
    const b = queue.add(100, () => expired.push('b'));
    queue.add(100, () => expired.push('c'));
    queue.add(30, () => expired.push('short'));
    expect(timers.pending.size).toBe(2);
    b.cancel();
    timers.advance(29);
    expect(expired).toEqual([]);
    timers.advance(1);
    expect(expired).toEqual(['short']);
    timers.advance(60);
    expect(expired).toEqual(['short', 'a']);
    timers.advance(10);
    expect(expired).toEqual(['short', 'a', 'c']); // b was cancelled
    expect(timers.pending.size).toBe(0);
  });

  it('a cancelled front entry does not expire the live ones behind it early', () => {
    const timers = new FakeTimers();
    const queue = new DeadlineQueue(timers);
    const expired: number[] = [];
    queue.add(50, () => expired.push(1)).cancel();
    timers.advance(20);
    queue.add(50, () => expired.push(2));
    timers.advance(30); // the first entry's time: nothing live is due
    expect(expired).toEqual([]);
    timers.advance(20);
    expect(expired).toEqual([2]);
  });

  it('clear drops everything without running it', () => {
    const timers = new FakeTimers();
    const queue = new DeadlineQueue(timers);
    let ran = false;
    queue.add(10, () => (ran = true));
    queue.clear();
    timers.advance(100);
    expect(ran).toBe(false);
    expect(timers.pending.size).toBe(0);
  });
});

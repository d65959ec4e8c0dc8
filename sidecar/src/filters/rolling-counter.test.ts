import { describe, expect, it } from '@jest/globals';
import { RollingCounter } from './rolling-counter.js';

describe('RollingCounter', () => {
  it('counts events of the last window and forgets older buckets as time rolls', () => {
    const counter = new RollingCounter({ windowMs: 1000, buckets: 10 });
    counter.add(0);
    counter.add(50, 2);
    counter.add(950);
    expect(counter.total(950)).toBe(4);
    expect(counter.total(999)).toBe(4);
    expect(counter.total(1000)).toBe(1); // bucket [0, 100) has rolled out
    expect(counter.total(1899)).toBe(1); // the event at 950 lives in bucket [900, 1000)
    expect(counter.total(1900)).toBe(0);
  });

  it('clears everything after a long gap, in bounded work', () => {
    const counter = new RollingCounter({ windowMs: 10, buckets: 5 });
    for (let t = 0; t < 10; t++) counter.add(t);
    expect(counter.total(9)).toBe(10);
    expect(counter.total(1e12)).toBe(0);
    counter.add(1e12);
    expect(counter.total(1e12)).toBe(1);
  });

  it('counts a time earlier than the last one in the current bucket', () => {
    const counter = new RollingCounter({ windowMs: 100, buckets: 10 });
    counter.add(500);
    counter.add(400);
    expect(counter.total(500)).toBe(2);
  });

  it('resets', () => {
    const counter = new RollingCounter({ windowMs: 100, buckets: 10 });
    counter.add(1, 5);
    counter.reset();
    expect(counter.total(1)).toBe(0);
  });
});

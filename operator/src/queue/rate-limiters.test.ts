import { describe, expect, it } from '@jest/globals';
import { ManualScheduler } from '../core/clock.js';
import { ExponentialBackoff, TokenBucket } from './rate-limiters.js';

describe('ExponentialBackoff', () => {
  it('doubles from the base per failure, per key, up to the cap', () => {
    const b = new ExponentialBackoff(5, 30);
    expect([b.when('a'), b.when('a'), b.when('a'), b.when('a'), b.when('a')]).toEqual([
      5, 10, 20, 30, 30,
    ]);
    expect(b.when('b')).toBe(5);
    expect(b.retries('a')).toBe(5);
  });
  it('starts again from the base after forget', () => {
    const b = new ExponentialBackoff();
    b.when('a');
    b.when('a');
    b.forget('a');
    expect(b.retries('a')).toBe(0);
    expect(b.when('a')).toBe(5);
  });
  it('defaults to controller-runtime’s 5 ms base and 1000 s cap, without overflow', () => {
    const b = new ExponentialBackoff();
    let last = 0;
    for (let i = 0; i < 2000; i++) last = b.when('k');
    expect(last).toBe(1_000_000);
  });
  it('refuses a nonsensical configuration', () => {
    expect(() => new ExponentialBackoff(0, 10)).toThrow(RangeError);
    expect(() => new ExponentialBackoff(10, 5)).toThrow(RangeError);
  });
});

describe('TokenBucket', () => {
  it('serves a burst at once, then spaces reservations at the rate', () => {
    const clock = new ManualScheduler();
    const bucket = new TokenBucket(clock, 10, 2);
    expect([bucket.reserve(), bucket.reserve(), bucket.reserve(), bucket.reserve()]).toEqual([
      0, 0, 100, 200,
    ]);
  });
  it('refills with time but never above the burst', () => {
    const clock = new ManualScheduler();
    const bucket = new TokenBucket(clock, 10, 2);
    bucket.reserve();
    bucket.reserve();
    clock.advance(10_000);
    expect([bucket.reserve(), bucket.reserve(), bucket.reserve()]).toEqual([0, 0, 100]);
  });
});

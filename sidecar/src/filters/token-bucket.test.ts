import { describe, expect, it } from '@jest/globals';
import fc from 'fast-check';
import { ManualClock } from '../core/clock.js';
import { InvalidFilterConfigError } from './errors.js';
import { worstIntervalExcess } from './testing.js';
import { TokenBucketLimiter } from './token-bucket.js';

describe('TokenBucketLimiter', () => {
  it('admits requests + burst at once from a fresh key, then refuses', () => {
    const limiter = new TokenBucketLimiter({ requests: 10, periodMs: 1000, burst: 5 });
    const remaining: number[] = [];
    for (let i = 0; i < 15; i++) {
      const decision = limiter.take('k', 0);
      expect(decision.allowed).toBe(true);
      remaining.push(decision.remaining);
    }
    expect(remaining).toEqual([14, 13, 12, 11, 10, 9, 8, 7, 6, 5, 4, 3, 2, 1, 0]);
    const refused = limiter.take('k', 0);
    expect(refused).toEqual({
      allowed: false,
      remaining: 0,
      resetAfterMs: 1500,
      retryAfterMs: 100,
    });
  });

  it('admits exactly one more request after waiting retryAfterMs', () => {
    const clock = new ManualClock(1_000);
    const limiter = new TokenBucketLimiter({ requests: 3, periodMs: 1000, burst: 0 });
    for (let i = 0; i < 3; i++) limiter.take('k', clock.now());
    const refused = limiter.take('k', clock.now());
    expect(refused.allowed).toBe(false);
    clock.advance(refused.retryAfterMs - 1);
    expect(limiter.take('k', clock.now()).allowed).toBe(false);
    clock.advance(1);
    expect(limiter.take('k', clock.now()).allowed).toBe(true);
    expect(limiter.take('k', clock.now()).allowed).toBe(false);
  });

  it('refills at the steady rate and never above capacity', () => {
    const clock = new ManualClock();
    const limiter = new TokenBucketLimiter({ requests: 100, periodMs: 60_000, burst: 20 });
    for (let i = 0; i < 120; i++) limiter.take('k', clock.now());
    clock.advance(6_000); // 10 tokens
    let admitted = 0;
    while (limiter.take('k', clock.now()).allowed) admitted++;
    expect(admitted).toBe(10);
    clock.advance(3_600_000); // an hour idle: back to capacity, not more
    admitted = 0;
    while (limiter.take('k', clock.now()).allowed) admitted++;
    expect(admitted).toBe(120);
  });

  it('reports the time until the bucket is full again', () => {
    const limiter = new TokenBucketLimiter({ requests: 10, periodMs: 10_000, burst: 0 });
    expect(limiter.take('k', 0).resetAfterMs).toBe(1000);
    expect(limiter.take('k', 0).resetAfterMs).toBe(2000);
    expect(limiter.take('k', 500).resetAfterMs).toBeCloseTo(2500, 6);
  });

  it('keeps keys independent', () => {
    const limiter = new TokenBucketLimiter({ requests: 1, periodMs: 1000, burst: 0 });
    expect(limiter.take('alice', 0).allowed).toBe(true);
    expect(limiter.take('alice', 0).allowed).toBe(false);
    expect(limiter.take('bob', 0).allowed).toBe(true);
  });

  it('bounds memory: a flood of distinct keys never tracks more than maxKeys', () => {
    const limiter = new TokenBucketLimiter({ requests: 1, periodMs: 1000, burst: 0, maxKeys: 100 });
    for (let i = 0; i < 100_000; i++) limiter.take(`flood-${i}`, 0);
    expect(limiter.stats().keys).toBe(100);
    expect(limiter.stats().evictedActiveKeys).toBe(99_900);
  });

  it('evicts the least recently used key, so a busy key keeps its state during a flood', () => {
    const limiter = new TokenBucketLimiter({
      requests: 1,
      periodMs: 60_000,
      burst: 0,
      maxKeys: 10,
    });
    limiter.take('busy', 0);
    for (let i = 0; i < 1000; i++) {
      limiter.take(`flood-${i}`, 0);
      expect(limiter.take('busy', 0).allowed).toBe(false); // touched each round: never evicted
    }
    for (let i = 0; i < 10; i++) limiter.take(`idle-${i}`, 0); // now 'busy' is the oldest: evicted
    expect(limiter.take('busy', 0).allowed).toBe(true);
  });

  it('does not count evicting a full (idle long enough) bucket as a loss', () => {
    const limiter = new TokenBucketLimiter({ requests: 1, periodMs: 1000, burst: 0, maxKeys: 1 });
    limiter.take('a', 0);
    limiter.take('b', 1000); // 'a' is full again at t=1000: forgetting it is exact
    expect(limiter.stats().evictedActiveKeys).toBe(0);
    limiter.take('c', 1500); // 'b' is half empty
    expect(limiter.stats().evictedActiveKeys).toBe(1);
  });

  it('never admits more than requests + burst + elapsed × rate in any interval (property)', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 20 }),
        fc.integer({ min: 1, max: 5000 }),
        fc.integer({ min: 0, max: 10 }),
        fc.array(fc.integer({ min: 0, max: 400 }), { minLength: 50, maxLength: 300 }),
        (requests, periodMs, burst, gaps) => {
          const limiter = new TokenBucketLimiter({ requests, periodMs, burst });
          const admittedAt: number[] = [];
          let now = 0;
          for (const gap of gaps) {
            now += gap;
            if (limiter.take('k', now).allowed) admittedAt.push(now);
          }
          expect(
            worstIntervalExcess(admittedAt, requests + burst, requests / periodMs),
          ).toBeLessThanOrEqual(1e-6);
        },
      ),
    );
  });

  it('refuses unusable options with a typed error naming the field', () => {
    expect(() => new TokenBucketLimiter({ requests: 0, periodMs: 1000, burst: 0 })).toThrow(
      InvalidFilterConfigError,
    );
    expect(() => new TokenBucketLimiter({ requests: 1, periodMs: 1000, burst: -1 })).toThrow(
      /burst/,
    );
    expect(
      () => new TokenBucketLimiter({ requests: 1, periodMs: 1000, burst: 0, maxKeys: 0 }),
    ).toThrow(/maxKeys/);
    try {
      new TokenBucketLimiter({ requests: 1.5, periodMs: 1000, burst: 0 });
    } catch (error) {
      expect((error as InvalidFilterConfigError).code).toBe('PALISADE_INVALID_FILTER_CONFIG');
      expect((error as InvalidFilterConfigError).field).toBe('limit.requests');
    }
    expect.assertions(5);
  });
});

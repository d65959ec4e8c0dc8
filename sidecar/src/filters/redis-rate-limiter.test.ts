import { afterAll, describe, expect, it } from '@jest/globals';
import { Redis } from 'ioredis';
import { InvalidFilterConfigError, type RateLimitBackendError } from './errors.js';
import { SeededRandom } from '../core/random.js';
import { reconnectDelayMs, RedisRateLimiter } from './redis-rate-limiter.js';

// A client that never connects (lazyConnect, nothing sent): the limiter's own logic without Redis.
// Redis itself is exercised in sidecar/test/redis-rate-limit.test.ts.
const idle = new Redis({ lazyConnect: true, enableOfflineQueue: false });
afterAll(() => idle.disconnect());

const limit = { requests: 10, periodMs: 1000, burst: 0 };

describe('RedisRateLimiter (without a connection)', () => {
  it('decides by failureMode at once when not connected, and reports why', async () => {
    const errors: RateLimitBackendError[] = [];
    const onBackendFailure = (error: RateLimitBackendError) => errors.push(error);
    const open = new RedisRateLimiter({
      redis: idle,
      policy: 'p',
      rule: 'r',
      limit,
      failureMode: 'open',
      onBackendFailure,
    });
    const closed = new RedisRateLimiter({
      redis: idle,
      policy: 'p',
      rule: 'r',
      limit,
      failureMode: 'closed',
      failureRetryAfterMs: 3000,
      onBackendFailure,
    });
    expect(await open.take('k')).toEqual({
      allowed: true,
      remaining: 0,
      resetAfterMs: 0,
      retryAfterMs: 0,
      source: 'failure-mode',
      redisTimeUs: 0,
    });
    expect(await closed.take('k')).toMatchObject({
      allowed: false,
      retryAfterMs: 3000,
      source: 'failure-mode',
    });
    expect(errors.map((error) => [error.code, error.reason])).toEqual([
      ['PALISADE_RATE_LIMIT_BACKEND', 'not-connected'],
      ['PALISADE_RATE_LIMIT_BACKEND', 'not-connected'],
    ]);
    expect(idle.status).toBe('wait'); // nothing was sent, no connection attempted
    await closed.take('k');
    expect(errors[2]).toBe(errors[1]); // causeless failures reuse one instance (no stack per request)
  });

  it('prefixes keys per policy and rule, and hashes oversized keys', () => {
    const limiter = new RedisRateLimiter({
      redis: idle,
      policy: 'shop/checkout',
      rule: 'per-user',
      limit,
      failureMode: 'open',
    });
    expect(limiter.redisKey('alice')).toBe('palisade:rl:shop/checkout:per-user:alice');
    const huge = limiter.redisKey('x'.repeat(10_000));
    expect(huge).toMatch(/^palisade:rl:shop\/checkout:per-user:#[A-Za-z0-9_-]{43}$/);
    expect(limiter.redisKey('y'.repeat(10_000))).not.toBe(huge);
  });

  it('refuses unusable options', () => {
    expect(
      () =>
        new RedisRateLimiter({
          redis: idle,
          policy: 'p',
          rule: 'r',
          limit,
          failureMode: 'open',
          timeoutMs: 0,
        }),
    ).toThrow(InvalidFilterConfigError);
    expect(
      () =>
        new RedisRateLimiter({
          redis: idle,
          policy: 'p',
          rule: 'r',
          limit: { ...limit, requests: 0 },
          failureMode: 'open',
        }),
    ).toThrow(/limit\.requests/);
  });
});

describe('reconnectDelayMs', () => {
  it('backs off exponentially, capped, with jitter in [0.5, 1) of the step', () => {
    const low = { next: () => 0 };
    const high = { next: () => 1 - 1e-12 };
    expect(
      [1, 2, 3, 4, 5, 6, 7, 50].map((attempt) => reconnectDelayMs(attempt, 50, 2000, low)),
    ).toEqual([25, 50, 100, 200, 400, 800, 1000, 1000]);
    expect(reconnectDelayMs(6, 50, 2000, high)).toBeCloseTo(1600, 6);
    const random = new SeededRandom(42);
    const delays = Array.from({ length: 1000 }, () => reconnectDelayMs(10, 50, 2000, random));
    expect(Math.min(...delays)).toBeGreaterThanOrEqual(1000);
    expect(Math.max(...delays)).toBeLessThan(2000);
    expect(new Set(delays.map(Math.round)).size).toBeGreaterThan(100); // sidecars do not reconnect in step
  });
});

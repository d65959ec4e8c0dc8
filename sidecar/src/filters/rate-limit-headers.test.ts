import { describe, expect, it } from '@jest/globals';
import { InvalidFilterConfigError } from './errors.js';
import { compileRateLimitHeaders } from './rate-limit-headers.js';
import { TokenBucketLimiter } from './token-bucket.js';

describe('compileRateLimitHeaders', () => {
  const headers = compileRateLimitHeaders({
    name: 'per-user-orders',
    requests: 100,
    periodMs: 60_000,
  });

  it('precomputes RateLimit-Policy in structured-field form', () => {
    expect(headers.policy).toBe('"per-user-orders";q=100;w=60');
  });

  it('builds RateLimit and Retry-After from a decision, rounding durations up to seconds', () => {
    const allowed = { allowed: true, remaining: 42, resetAfterMs: 9_001, retryAfterMs: 0 };
    expect(headers.rateLimit(allowed)).toBe('"per-user-orders";r=42;t=10');
    const refused = { allowed: false, remaining: 0, resetAfterMs: 60_000, retryAfterMs: 600 };
    expect(headers.rateLimit(refused)).toBe('"per-user-orders";r=0;t=60');
    expect(headers.retryAfter(refused)).toBe('1');
    expect(headers.retryAfter({ ...refused, retryAfterMs: 1_000.5 })).toBe('2');
  });

  it('never advertises Retry-After: 0 (which would invite an immediate retry storm)', () => {
    expect(
      headers.retryAfter({ allowed: false, remaining: 0, resetAfterMs: 0, retryAfterMs: 0 }),
    ).toBe('1');
  });

  it('matches what the token bucket reports for the same rule', () => {
    const limiter = new TokenBucketLimiter({ requests: 100, periodMs: 60_000, burst: 0 });
    let last = limiter.take('k', 0);
    for (let i = 0; i < 100; i++) last = limiter.take('k', 0);
    expect(headers.rateLimit(last)).toBe('"per-user-orders";r=0;t=60');
    expect(headers.retryAfter(last)).toBe('1');
  });

  it('escapes the name as an sf-string and rounds a sub-second window up', () => {
    const odd = compileRateLimitHeaders({ name: 'a"b\\c', requests: 5, periodMs: 500 });
    expect(odd.policy).toBe('"a\\"b\\\\c";q=5;w=1');
  });

  it('refuses a name that cannot be an sf-string', () => {
    expect(() => compileRateLimitHeaders({ name: 'naïve', requests: 1, periodMs: 1000 })).toThrow(
      InvalidFilterConfigError,
    );
    expect(() => compileRateLimitHeaders({ name: '', requests: 1, periodMs: 1000 })).toThrow(
      /name/,
    );
  });
});

import { describe, expect, it } from '@jest/globals';
import { ManualClock } from '../core/clock.js';
import { SeededRandom, type Random } from '../core/random.js';
import { hasIdempotencyKey, isIdempotent, RetryBudget, RetryPolicy } from './retry.js';

const half: Random = { next: () => 0.5 };

describe('isIdempotent', () => {
  it('accepts idempotent methods, or any method with an Idempotency-Key', () => {
    expect(
      ['GET', 'HEAD', 'OPTIONS', 'PUT', 'DELETE'].every((method) => isIdempotent(method, false)),
    ).toBe(true);
    expect(isIdempotent('POST', false)).toBe(false);
    expect(isIdempotent('PATCH', false)).toBe(false);
    expect(isIdempotent('POST', true)).toBe(true);
  });
});

describe('hasIdempotencyKey', () => {
  it('finds the header in a raw header list, in any case, never in values', () => {
    expect(hasIdempotencyKey(['Host', 'x', 'Idempotency-Key', 'order-7-reserve'])).toBe(true);
    expect(hasIdempotencyKey(['idempotency-key', 'k'])).toBe(true);
    expect(hasIdempotencyKey(['x-note', 'idempotency-key'])).toBe(false);
    expect(hasIdempotencyKey([])).toBe(false);
  });
});

describe('RetryPolicy', () => {
  it('retries retryable failures of idempotent calls until maxAttempts, with growing full-jitter backoff', () => {
    const policy = new RetryPolicy({ maxAttempts: 4, baseDelayMs: 100, maxDelayMs: 300 }, half);
    policy.recordRequest(0);
    expect(policy.decide(1, true, 'failure', 0)).toEqual({ retry: true, delayMs: 50 });
    expect(policy.decide(2, true, 'failure', 0)).toEqual({ retry: true, delayMs: 100 });
    expect(policy.decide(3, true, 'failure', 0)).toEqual({ retry: true, delayMs: 150 }); // capped at 300
    expect(policy.decide(4, true, 'failure', 0)).toEqual({
      retry: false,
      reason: 'attempts-exhausted',
    });
  });

  it('does not retry successes, non-retryable outcomes or non-idempotent calls', () => {
    const policy = new RetryPolicy({}, half);
    expect(policy.decide(1, true, 'success', 0)).toEqual({ retry: false, reason: 'not-retryable' });
    expect(policy.decide(1, false, 'failure', 0)).toEqual({
      retry: false,
      reason: 'not-idempotent',
    });
    expect(policy.classifier.status(503)).toBe('failure');
    expect(policy.classifier.status(500)).toBe('success'); // a 500 is usually not transient
    expect(policy.classifier.connectionError).toBe('failure');
  });

  it('draws backoff uniformly in [0, ceiling) (seeded)', () => {
    const policy = new RetryPolicy({ baseDelayMs: 100, maxDelayMs: 100 }, new SeededRandom(7));
    const delays = Array.from({ length: 10_000 }, () => policy.backoffMs(1));
    expect(Math.min(...delays)).toBeGreaterThanOrEqual(0);
    expect(Math.max(...delays)).toBeLessThan(100);
    expect(delays.reduce((a, b) => a + b, 0) / delays.length).toBeCloseTo(50, -0.5);
  });

  it('cannot amplify an outage: with every call failing, retries stay within the budget', () => {
    const clock = new ManualClock();
    const policy = new RetryPolicy(
      { maxAttempts: 3, budget: { ratio: 0.2, minRetriesPerSecond: 1, windowMs: 10_000 } },
      new SeededRandom(3),
    );
    let requests = 0;
    let retries = 0;
    let refusedByBudget = 0;
    // 1,000 requests per second for 60 s against a dependency that always fails.
    for (let ms = 0; ms < 60_000; ms++) {
      clock.advance(1);
      policy.recordRequest(clock.now());
      requests++;
      for (let attempt = 1; ; attempt++) {
        const decision = policy.decide(attempt, true, 'failure', clock.now());
        if (!decision.retry) {
          if (decision.reason === 'budget-exhausted') refusedByBudget++;
          break;
        }
        retries++;
      }
    }
    expect(refusedByBudget).toBeGreaterThan(0);
    // Without a budget: 2 retries per request (200% extra load). With it: ≈ 20% + the floor.
    expect(retries / requests).toBeLessThan(0.21 + 10 / requests);
    expect(retries / requests).toBeGreaterThan(0.15);
  });
});

describe('RetryBudget', () => {
  it('always allows minRetriesPerSecond × window, even without traffic', () => {
    const budget = new RetryBudget({ ratio: 0, minRetriesPerSecond: 2, windowMs: 5000 });
    let allowed = 0;
    while (budget.tryWithdraw(0)) allowed++;
    expect(allowed).toBe(10);
    expect(budget.tryWithdraw(5000)).toBe(true); // the window rolled on
  });

  it('allows ratio × requests in the window', () => {
    const budget = new RetryBudget({ ratio: 0.1, minRetriesPerSecond: 0, windowMs: 1000 });
    for (let i = 0; i < 100; i++) budget.recordRequest(0);
    let allowed = 0;
    while (budget.tryWithdraw(0)) allowed++;
    expect(allowed).toBe(10);
  });
});

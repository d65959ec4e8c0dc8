import { describe, expect, it } from '@jest/globals';
import fc from 'fast-check';
import { gcraParams, gcraStep, type GcraParams } from './gcra.js';
import { worstIntervalExcess } from './testing.js';
import { TokenBucketLimiter } from './token-bucket.js';

/** Runs a timeline (µs) through GCRA with one in-memory TAT; returns the admission times. */
function run(
  params: GcraParams,
  times: readonly number[],
): { admittedAt: number[]; allowed: boolean[] } {
  let tat: number | undefined;
  const admittedAt: number[] = [];
  const allowed: boolean[] = [];
  for (const now of times) {
    const step = gcraStep(tat, now, params);
    tat = step.tatUs;
    allowed.push(step.allowed);
    if (step.allowed) admittedAt.push(now);
  }
  return { admittedAt, allowed };
}

const timeline = fc
  .array(fc.integer({ min: 0, max: 300_000 }), { minLength: 50, maxLength: 300 })
  .map((gaps) =>
    gaps.reduce<number[]>(
      (times, gap) => [...times, (times.at(-1) ?? 1_700_000_000_000_000) + gap],
      [],
    ),
  );

describe('gcraParams', () => {
  it('derives the emission interval in whole µs, rounded up so the rate never exceeds the spec', () => {
    expect(gcraParams({ requests: 100, periodMs: 60_000, burst: 20 })).toEqual({
      intervalUs: 600_000,
      capacity: 120,
      toleranceUs: 72_000_000,
    });
    expect(gcraParams({ requests: 3, periodMs: 1000, burst: 0 }).intervalUs).toBe(333_334);
    expect(gcraParams({ requests: 10_000_000, periodMs: 1, burst: 0 }).intervalUs).toBe(1);
  });
});

describe('gcraStep', () => {
  const params = gcraParams({ requests: 10, periodMs: 1000, burst: 2 });
  const t0 = 1_700_000_000_000_000;

  it('admits capacity requests at once from a fresh key, counting down remaining', () => {
    let tat: number | undefined;
    const remaining: number[] = [];
    for (let i = 0; i < 12; i++) {
      const step = gcraStep(tat, t0, params);
      expect(step.allowed).toBe(true);
      remaining.push(step.remaining);
      tat = step.tatUs;
    }
    expect(remaining).toEqual([11, 10, 9, 8, 7, 6, 5, 4, 3, 2, 1, 0]);
    const refused = gcraStep(tat, t0, params);
    expect(refused).toEqual({
      allowed: false,
      remaining: 0,
      retryAfterUs: 100_000,
      resetAfterUs: 1_200_000,
      tatUs: t0 + 1_200_000,
    });
  });

  it('admits again exactly at retryAfter, and a refusal does not move TAT', () => {
    let tat: number | undefined;
    for (let i = 0; i < 12; i++) tat = gcraStep(tat, t0, params).tatUs;
    const refused = gcraStep(tat, t0 + 50_000, params);
    expect(refused.tatUs).toBe(tat);
    expect(gcraStep(tat, t0 + 50_000 + refused.retryAfterUs - 1, params).allowed).toBe(false);
    expect(gcraStep(tat, t0 + 50_000 + refused.retryAfterUs, params).allowed).toBe(true);
  });

  it('treats a TAT in the past like a missing key (what Redis expiry does)', () => {
    expect(gcraStep(t0 - 5, t0, params)).toEqual(gcraStep(undefined, t0, params));
  });

  it('never admits more than capacity + elapsed × rate in any interval (property)', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 50 }),
        fc.integer({ min: 1, max: 10_000 }),
        fc.integer({ min: 0, max: 10 }),
        timeline,
        (requests, periodMs, burst, times) => {
          const spec = { requests, periodMs, burst };
          const { admittedAt } = run(gcraParams(spec), times);
          const ratePerUs = requests / (periodMs * 1000);
          expect(worstIntervalExcess(admittedAt, requests + burst, ratePerUs)).toBeLessThanOrEqual(
            1e-9,
          );
        },
      ),
    );
  });

  it('has no window edge: at most capacity + 1 admissions around any instant, unlike a fixed window (property)', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 1000 }),
        fc.integer({ min: 0, max: 10_000_000 }),
        (requests, edge) => {
          // Saturate just before and just after an arbitrary instant, 1 µs apart.
          const params = gcraParams({ requests, periodMs: 10_000, burst: 0 });
          const times = [
            ...Array<number>(2 * requests).fill(edge),
            ...Array<number>(2 * requests).fill(edge + 1),
          ];
          expect(run(params, times).admittedAt.length).toBeLessThanOrEqual(requests + 1);
        },
      ),
    );
  });

  it('decides exactly like the local token bucket when the interval is a whole µs (property)', () => {
    fc.assert(
      fc.property(
        fc.constantFrom(1, 2, 4, 5, 10, 20, 25, 50, 100),
        fc.integer({ min: 1, max: 100 }),
        fc.integer({ min: 0, max: 5 }),
        timeline,
        (requests, seconds, burst, times) => {
          const spec = { requests, periodMs: seconds * 1000, burst };
          const gcra = run(gcraParams(spec), times).allowed;
          const bucket = new TokenBucketLimiter(spec);
          const local = times.map((us) => bucket.take('k', us / 1000).allowed);
          expect(gcra).toEqual(local);
        },
      ),
    );
  });
});

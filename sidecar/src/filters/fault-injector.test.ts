import { describe, expect, it } from '@jest/globals';
import { SeededRandom, type Random } from '../core/random.js';
import { InvalidFilterConfigError } from './errors.js';
import { FaultInjector, NO_FAULT } from './fault-injector.js';

/** A Random that replays fixed draws, to pin exact decisions. */
function draws(...values: number[]): Random {
  return {
    next: () => {
      const value = values.shift();
      if (value === undefined) throw new Error('test ran out of random draws');
      return value;
    },
  };
}

describe('FaultInjector', () => {
  it('injects a latency with uniform jitter around the delay when the draw is under the percentage', () => {
    const injector = new FaultInjector(
      [{ type: 'latency', delayMs: 300, jitterMs: 50, percentage: 20 }],
      draws(0.1, 0.0, 0.1, 1 - 1e-12, 0.2),
    );
    expect(injector.decide()).toEqual({ delayMs: 250, abortStatus: 0 });
    expect(injector.decide().delayMs).toBeCloseTo(350, 6);
    expect(injector.decide()).toBe(NO_FAULT); // 0.2 × 100 is not < 20
  });

  it('aborts with the configured status, and may delay and abort the same request', () => {
    const injector = new FaultInjector(
      [
        { type: 'latency', delayMs: 100, percentage: 50 },
        { type: 'abort', httpStatus: 503, percentage: 10 },
      ],
      draws(0.9, 0.05, 0.4, 0.5, 0.05),
    );
    expect(injector.decide()).toEqual({ delayMs: 0, abortStatus: 503 });
    expect(injector.decide()).toEqual({ delayMs: 100, abortStatus: 503 });
  });

  it('tries faults of one type in order: the first that hits wins', () => {
    const injector = new FaultInjector(
      [
        { type: 'abort', httpStatus: 500, percentage: 10 },
        { type: 'abort', httpStatus: 429, percentage: 50 },
      ],
      draws(0.3, 0.3),
    );
    expect(injector.decide()).toEqual({ delayMs: 0, abortStatus: 429 });
  });

  it('hits at the configured rate over many requests (seeded)', () => {
    const seed = 20261123;
    const injector = new FaultInjector(
      [
        { type: 'latency', delayMs: 300, jitterMs: 50, percentage: 20 },
        { type: 'abort', httpStatus: 503, percentage: 10 },
      ],
      new SeededRandom(seed),
    );
    let delayed = 0;
    let aborted = 0;
    let shortest = Infinity;
    let longest = 0;
    for (let i = 0; i < 100_000; i++) {
      const decision = injector.decide();
      if (decision.delayMs > 0) {
        delayed++;
        shortest = Math.min(shortest, decision.delayMs);
        longest = Math.max(longest, decision.delayMs);
      }
      if (decision.abortStatus === 503) aborted++;
    }
    expect(shortest).toBeGreaterThanOrEqual(250);
    expect(shortest).toBeLessThan(251);
    expect(longest).toBeLessThanOrEqual(350);
    expect(longest).toBeGreaterThan(349);
    expect(delayed / 100_000).toBeCloseTo(0.2, 2);
    expect(aborted / 100_000).toBeCloseTo(0.1, 2);
  });

  it('never goes negative when jitter exceeds the delay; 0% never and 100% always hit without drawing', () => {
    const injector = new FaultInjector(
      [
        { type: 'latency', delayMs: 10, jitterMs: 100, percentage: 100 },
        { type: 'abort', httpStatus: 500, percentage: 0 },
      ],
      draws(0),
    );
    expect(injector.decide()).toBe(NO_FAULT); // delay clamped to 0, no abort
    expect(new FaultInjector([], draws()).empty).toBe(true);
  });

  it('refuses bad faults at config time', () => {
    const random = new SeededRandom(1);
    expect(
      () => new FaultInjector([{ type: 'abort', httpStatus: 503, percentage: 101 }], random),
    ).toThrow(InvalidFilterConfigError);
    expect(
      () => new FaultInjector([{ type: 'abort', httpStatus: 99, percentage: 1 }], random),
    ).toThrow(/faults\[0\]\.httpStatus/);
    expect(
      () => new FaultInjector([{ type: 'latency', delayMs: -1, percentage: 1 }], random),
    ).toThrow(/delay/);
  });
});

import { describe, expect, it } from '@jest/globals';
import { setTimeout as sleep } from 'node:timers/promises';
import { eventLoopLagGauges, summarizeLag, type DelayHistogram } from './event-loop-lag.js';
import { Registry } from './prom-client-modules.js';

/** Blocks the event loop for `ms` (a real stall, as a long task or a GC pause would be). */
function blockFor(ms: number): void {
  const until = performance.now() + ms;
  while (performance.now() < until) {
    // spin
  }
}

function value(text: string, name: string): number {
  const line = text.split('\n').find((l) => l.startsWith(`${name} `));
  if (line === undefined) throw new Error(`${name} not in:\n${text}`);
  return Number(line.slice(name.length + 1));
}

describe('summarizeLag', () => {
  const histogram = (delaysMs: number[]): DelayHistogram => {
    const ns = delaysMs.map((ms) => ms * 1e6).sort((a, b) => a - b);
    const mean = ns.reduce((a, b) => a + b, 0) / ns.length;
    return {
      count: ns.length,
      min: ns[0] ?? 0,
      max: ns.at(-1) ?? 0,
      mean,
      stddev: Math.sqrt(ns.reduce((a, b) => a + (b - mean) ** 2, 0) / ns.length),
      percentile: (p: number) => ns[Math.ceil((p / 100) * ns.length) - 1] ?? 0,
    };
  };

  it('reports how late the timer fired: the period is not lag', () => {
    const summary = summarizeLag(histogram([100.2, 100.4, 100.1, 350]), 100);
    expect(summary.min).toBeCloseTo(0.0001, 6);
    expect(summary.max).toBeCloseTo(0.25, 6);
    expect(summary.p50).toBeCloseTo(0.0002, 6);
    expect(summary.mean).toBeCloseTo((0.2 + 0.4 + 0.1 + 250) / 4 / 1000, 6);
  });

  it('never reports negative lag, and zeros without samples', () => {
    expect(summarizeLag(histogram([99.9]), 100).max).toBe(0);
    expect(summarizeLag({ ...histogram([1]), count: 0 }, 100)).toEqual({
      min: 0,
      max: 0,
      mean: 0,
      stddev: 0,
      p50: 0,
      p90: 0,
      p99: 0,
    });
  });
});

describe('eventLoopLagGauges', () => {
  it('shows a stall of the loop in the max, then starts over after the scrape', async () => {
    const registry = new Registry();
    const periodMs = 20;
    for (const gauge of eventLoopLagGauges('t_', periodMs)) {
      registry.registerMetric(gauge as never);
    }
    await sleep(periodMs * 3); // a few samples on time
    blockFor(400);
    // The sampling timer was due during the stall, so it fires before this later one.
    await sleep(periodMs);
    const first = await registry.metrics();
    expect(value(first, 't_nodejs_eventloop_lag_max_seconds')).toBeGreaterThan(0.3);
    expect(value(first, 't_nodejs_eventloop_lag_min_seconds')).toBeLessThan(0.3);
    expect(value(first, 't_nodejs_eventloop_lag_seconds')).toBeGreaterThanOrEqual(0);
    expect(value(first, 't_nodejs_eventloop_lag_seconds')).toBeLessThan(0.3);

    // The stall is not reported again by the next scrape.
    await sleep(periodMs * 3);
    const second = await registry.metrics();
    expect(value(second, 't_nodejs_eventloop_lag_max_seconds')).toBeLessThan(0.3);
    for (const stat of ['min', 'max', 'mean', 'stddev', 'p50', 'p90', 'p99']) {
      expect(second).toContain(`# TYPE t_nodejs_eventloop_lag_${stat}_seconds gauge`);
    }
  });
});

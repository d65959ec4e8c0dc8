/**
 * `palisade_nodejs_eventloop_lag_*`: the names of prom-client's event-loop collector, measured
 * with a coarser timer and reported as lag proper.
 *
 * prom-client samples the loop with `monitorEventLoopDelay` at the resolution it is given (we
 * gave it its default, 10 ms): a timer that wakes the process 100 times a second even when no
 * request comes. Idle, that was ~1,010 of the main thread's ~1,015 wake-ups in 10 s and about
 * 40% of the CPU the sidecar used (≈ 50 µs per wake-up here); at 1,000 req/s its firings between
 * requests cost 6–16 µs per request (decision 0019, round 7). A 100 ms timer keeps ~150 samples
 * per 15 s scrape interval, enough for the percentiles, at a tenth of the wake-ups.
 *
 * Each sample is the time between two firings of a timer that repeats every `periodMs`, so
 * prom-client's values include the period itself (an idle loop showed p50 = 10 ms). Here the
 * period is subtracted: the values are how late the loop ran the timer, 0 when it was on time.
 */
import { monitorEventLoopDelay, type IntervalHistogram } from 'node:perf_hooks';
import type { CollectedMetric } from './instruments.js';

/** Period of the sampling timer (see the module comment). */
export const EVENT_LOOP_SAMPLE_PERIOD_MS = 100;

/** The summary of the samples since the last scrape, in seconds of lag. */
export interface LagSummary {
  readonly min: number;
  readonly max: number;
  readonly mean: number;
  readonly stddev: number;
  readonly p50: number;
  readonly p90: number;
  readonly p99: number;
}

/** What `summarizeLag` reads of a `monitorEventLoopDelay` histogram (nanoseconds). */
export type DelayHistogram = Pick<
  IntervalHistogram,
  'count' | 'min' | 'max' | 'mean' | 'stddev' | 'percentile'
>;

/**
 * Lag in seconds from the delays between timer firings, `periodMs` subtracted (never below 0).
 * No samples (a scrape within one period of the last): all 0.
 */
export function summarizeLag(histogram: DelayHistogram, periodMs: number): LagSummary {
  if (histogram.count === 0) return { min: 0, max: 0, mean: 0, stddev: 0, p50: 0, p90: 0, p99: 0 };
  const periodNs = periodMs * 1e6;
  const lag = (delayNs: number): number => Math.max(0, delayNs - periodNs) / 1e9;
  return {
    min: lag(histogram.min),
    max: lag(histogram.max),
    mean: lag(histogram.mean),
    stddev: histogram.stddev / 1e9,
    p50: lag(histogram.percentile(50)),
    p90: lag(histogram.percentile(90)),
    p99: lag(histogram.percentile(99)),
  };
}

/** One gauge as prom-client's `Registry` reads it (`get()`). */
export interface LagGauge {
  readonly name: string;
  readonly help: string;
  readonly type: 'gauge';
  get(): Promise<CollectedMetric>;
}

const SUMMARY_GAUGES: readonly [keyof LagSummary, string][] = [
  ['min', 'The least event-loop lag sampled since the last scrape.'],
  ['max', 'The largest event-loop lag sampled since the last scrape.'],
  ['mean', 'The mean event-loop lag sampled since the last scrape.'],
  ['stddev', 'The standard deviation of the event-loop lag sampled since the last scrape.'],
  ['p50', 'The median event-loop lag sampled since the last scrape.'],
  ['p90', 'The 90th percentile of the event-loop lag sampled since the last scrape.'],
  ['p99', 'The 99th percentile of the event-loop lag sampled since the last scrape.'],
];

/**
 * The event-loop lag gauges for a registry, named `<prefix>nodejs_eventloop_lag_seconds` (the
 * lag of a `setImmediate` at scrape time) and `..._lag_<stat>_seconds` (the samples since the
 * last scrape). A scrape reads every gauge in one event-loop turn; the first read takes the
 * summary and resets the samples, the others in the same turn share it.
 */
export function eventLoopLagGauges(
  prefix: string,
  periodMs = EVENT_LOOP_SAMPLE_PERIOD_MS,
): readonly LagGauge[] {
  const histogram = monitorEventLoopDelay({ resolution: periodMs });
  histogram.enable();
  let summary: LagSummary | null = null;
  const currentSummary = (): LagSummary => {
    if (summary === null) {
      summary = summarizeLag(histogram, periodMs);
      histogram.reset();
      setImmediate(() => (summary = null));
    }
    return summary;
  };
  const gauge = (name: string, help: string, value: () => number | Promise<number>): LagGauge => ({
    name: `${prefix}${name}`,
    help,
    type: 'gauge',
    get: async () => ({
      name: `${prefix}${name}`,
      help,
      type: 'gauge',
      aggregator: 'sum',
      values: [{ labels: {}, value: await value() }],
    }),
  });
  return [
    gauge(
      'nodejs_eventloop_lag_seconds',
      'Lag of the event loop at scrape time in seconds.',
      () => {
        const start = process.hrtime.bigint();
        return new Promise<number>((resolve) =>
          setImmediate(() => resolve(Number(process.hrtime.bigint() - start) / 1e9)),
        );
      },
    ),
    ...SUMMARY_GAUGES.map(([stat, help]) =>
      gauge(`nodejs_eventloop_lag_${stat}_seconds`, help, () => currentSummary()[stat]),
    ),
  ];
}

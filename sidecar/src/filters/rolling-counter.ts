import { requireInteger, requireNumber } from './errors.js';

/** Options of a `RollingCounter`. */
export interface RollingCounterOptions {
  /** Length of the rolling window, in ms (> 0). */
  windowMs: number;
  /** Number of buckets the window is cut into (≥ 1); more buckets roll more smoothly. */
  buckets: number;
}

/**
 * A count of events over a rolling time window, kept in fixed buckets (ring buffer).
 *
 * Contract: `total(now)` counts the events added in the current bucket plus the previous
 * `buckets - 1` buckets, i.e. over the last `windowMs - bucketMs` to `windowMs`. Each call is
 * O(1) amortised: rolling forward clears at most `buckets` slots, and only when time has moved
 * into a new bucket. Time is monotonic ms; a `now` earlier than the last one counts in the
 * current bucket.
 */
export class RollingCounter {
  private readonly counts: Float64Array;
  private readonly bucketMs: number;
  private readonly bucketCount: number;
  /** Absolute index (floor(now / bucketMs)) of the bucket that receives new events. */
  private currentBucket = 0;
  private sum = 0;

  constructor(options: RollingCounterOptions) {
    requireNumber('windowMs', options.windowMs, Number.MIN_VALUE);
    requireInteger('buckets', options.buckets, 1, 10_000);
    this.bucketCount = options.buckets;
    this.bucketMs = options.windowMs / options.buckets;
    this.counts = new Float64Array(options.buckets);
  }

  /** Adds `amount` (default 1) events at time `now`. */
  add(now: number, amount = 1): void {
    this.roll(now);
    const slot = this.currentBucket % this.bucketCount;
    this.counts[slot] = (this.counts[slot] ?? 0) + amount;
    this.sum += amount;
  }

  /** Events within the window ending at `now`. */
  total(now: number): number {
    this.roll(now);
    return this.sum;
  }

  /** Forgets every event. */
  reset(): void {
    this.counts.fill(0);
    this.sum = 0;
  }

  private roll(now: number): void {
    const bucket = Math.floor(now / this.bucketMs);
    if (bucket <= this.currentBucket) return;
    const steps = Math.min(bucket - this.currentBucket, this.bucketCount);
    for (let i = 1; i <= steps; i++) {
      const slot = (this.currentBucket + i) % this.bucketCount;
      this.sum -= this.counts[slot] ?? 0;
      this.counts[slot] = 0;
    }
    this.currentBucket = bucket;
    // Guard against float drift from many add/subtract pairs of fractional amounts.
    if (this.sum < 1e-9) this.sum = 0;
  }
}

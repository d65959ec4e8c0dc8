import type { Clock } from '../core/clock.js';

/** Per-key exponential backoff (controller-runtime's ItemExponentialFailureRateLimiter). */
export class ExponentialBackoff {
  private readonly failures = new Map<string, number>();

  constructor(
    /** Delay after the first failure, ms. */
    readonly baseMs = 5,
    /** Upper bound, ms (1000 s by default, as controller-runtime). */
    readonly capMs = 1_000_000,
  ) {
    if (!(baseMs > 0) || !(capMs >= baseMs)) {
      throw new RangeError(`ExponentialBackoff: need 0 < baseMs ≤ capMs (got ${baseMs}, ${capMs})`);
    }
  }

  /** Delay before retrying `key` now, and counts one more failure: base·2^(failures so far). */
  when(key: string): number {
    const n = this.failures.get(key) ?? 0;
    this.failures.set(key, n + 1);
    // 2^n overflows to Infinity past n≈1024, which the cap absorbs.
    return Math.min(this.capMs, this.baseMs * 2 ** n);
  }

  /** Failures counted for `key` since it was last forgotten. */
  retries(key: string): number {
    return this.failures.get(key) ?? 0;
  }

  /** Resets `key` after a success (or a terminal failure). */
  forget(key: string): void {
    this.failures.delete(key);
  }
}

/**
 * A global token bucket shared by all keys (controller-runtime's BucketRateLimiter): every
 * reservation takes a token, and when none is left it returns how long until one will be.
 * Tokens may go negative, so successive reservations queue up behind each other.
 */
export class TokenBucket {
  private tokens: number;
  private last: number;

  constructor(
    private readonly clock: Clock,
    /** Tokens added per second. */
    readonly perSecond = 10,
    /** Bucket size. */
    readonly burst = 100,
  ) {
    if (!(perSecond > 0) || !(burst >= 1)) {
      throw new RangeError(
        `TokenBucket: need perSecond > 0 and burst ≥ 1 (got ${perSecond}, ${burst})`,
      );
    }
    this.tokens = burst;
    this.last = clock.now();
  }

  /** Takes a token; returns the delay (ms) until it is actually available (0 = now). */
  reserve(): number {
    const now = this.clock.now();
    this.tokens = Math.min(this.burst, this.tokens + ((now - this.last) * this.perSecond) / 1000);
    this.last = now;
    this.tokens -= 1;
    return this.tokens >= 0 ? 0 : Math.ceil((-this.tokens * 1000) / this.perSecond);
  }
}

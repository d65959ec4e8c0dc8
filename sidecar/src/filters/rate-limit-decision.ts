import { requireInteger, requireNumber } from './errors.js';

/**
 * A rate-limit rule's numbers, shared by the local token bucket and the global GCRA limiter so that
 * `scope: local` and `scope: global` mean exactly the same thing.
 *
 * Semantics (see docs/decisions/0005-rate-limit-algorithms.md):
 * - steady rate `requests / periodMs`;
 * - capacity `requests + burst`: a key that has been idle for long enough may send
 *   `requests + burst` requests at once, then one per `periodMs / requests`;
 * - in ANY interval of length `t` ms, at most `requests + burst + t * requests / periodMs`
 *   requests of one key are admitted. A fixed window would allow twice `requests` around a window
 *   boundary; these algorithms never exceed the bound above.
 */
export interface RateLimitSpec {
  /** Requests per period (the steady rate's numerator), integer ≥ 1. */
  requests: number;
  /** The period, in ms (> 0). */
  periodMs: number;
  /** Extra requests a fresh or idle key may send at once on top of `requests`, integer ≥ 0. */
  burst: number;
}

/** Checks a `RateLimitSpec` at config time; throws `InvalidFilterConfigError`. */
export function validateRateLimitSpec(spec: RateLimitSpec): void {
  requireInteger('limit.requests', spec.requests, 1);
  requireNumber('limit.period', spec.periodMs, 1);
  requireInteger('burst', spec.burst, 0);
}

/** Maximum number of requests admitted at once: `requests + burst`. */
export function capacityOf(spec: RateLimitSpec): number {
  return spec.requests + spec.burst;
}

/**
 * The answer of a rate limiter for one request. Durations are ms and may be fractional; headers
 * round them up to whole seconds.
 */
export interface RateLimitDecision {
  /** Whether the request may proceed. */
  readonly allowed: boolean;
  /** Requests this key could still send right now, after this one (0 when refused). */
  readonly remaining: number;
  /** Time until the key's full capacity is available again. */
  readonly resetAfterMs: number;
  /** 0 when allowed; otherwise the time after which one request would be admitted. */
  readonly retryAfterMs: number;
}

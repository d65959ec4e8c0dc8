import { InvalidFilterConfigError, requireInteger, requireNumber } from './errors.js';
import type { RateLimitDecision } from './rate-limit-decision.js';

/** What the headers advertise about one rule. */
export interface RateLimitHeaderOptions {
  /** The policy's name in the headers (a rule name such as `per-user-orders`); printable ASCII. */
  name: string;
  /** Quota per window (`q`): the rule's `limit.requests`. */
  requests: number;
  /** Window (`w`), in ms: the rule's `limit.period`; advertised in whole seconds, rounded up. */
  periodMs: number;
}

/**
 * Header values of one rule, per draft-ietf-httpapi-ratelimit-headers (structured-field form):
 * `RateLimit-Policy: "name";q=100;w=60` and `RateLimit: "name";r=42;t=10`.
 *
 * Semantics chosen for Palisade's token bucket / GCRA: `q`/`w` advertise the steady rate
 * (`requests` per `period`; `burst` is extra headroom and may make `r` exceed `q`); `r` is the
 * number of requests that could still be sent right now; `t` is the seconds until the full quota
 * is available again. On a refusal, `Retry-After` (seconds, at least 1) says when one request will
 * be admitted.
 */
export interface RateLimitHeaders {
  /** `RateLimit-Policy` value; constant, computed at config time. */
  readonly policy: string;
  /** `RateLimit` value for a decision. */
  rateLimit(decision: RateLimitDecision): string;
  /** `Retry-After` value (delay-seconds) for a refused decision. */
  retryAfter(decision: RateLimitDecision): string;
}

/** Builds the header values of a rule; everything constant is computed here, once. */
export function compileRateLimitHeaders(options: RateLimitHeaderOptions): RateLimitHeaders {
  requireInteger('limit.requests', options.requests, 1);
  requireNumber('limit.period', options.periodMs, 1);
  const name = toSfString(options.name);
  const policy = `${name};q=${options.requests};w=${Math.ceil(options.periodMs / 1000)}`;
  const remainingPrefix = `${name};r=`;
  return {
    policy,
    rateLimit: (decision) =>
      `${remainingPrefix}${decision.remaining};t=${Math.ceil(decision.resetAfterMs / 1000)}`,
    retryAfter: (decision) => String(Math.max(1, Math.ceil(decision.retryAfterMs / 1000))),
  };
}

/** Serialises `value` as an RFC 8941 sf-string: quoted, with `"` and `\` escaped. */
function toSfString(value: string): string {
  if (value.length === 0 || !/^[\x20-\x7e]+$/.test(value)) {
    throw new InvalidFilterConfigError(
      'name',
      `must be non-empty printable ASCII, got ${JSON.stringify(value)}`,
    );
  }
  return `"${value.replace(/[\\"]/g, (char) => `\\${char}`)}"`;
}

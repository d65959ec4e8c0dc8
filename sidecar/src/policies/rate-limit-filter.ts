/**
 * The `rateLimit` position of the inbound stack: every rule whose `match` holds takes one token
 * for the request's key, in config order; the first refusal answers `429` with `Retry-After`,
 * `RateLimit-Policy` and `RateLimit` (draft-ietf-httpapi-ratelimit-headers) and counts in
 * `palisade_rate_limited_total{policy,rule}`. Local rules decide synchronously (token bucket);
 * global rules ask Redis, bounded by their timeout, and fall back to `failureMode`.
 */
import type { Clock } from '../core/clock.js';
import type { RateLimitDecision, RateLimitHeaders, RouteMatcher } from '../filters/index.js';
import type { RateLimitKeyExtractor } from '../filters/rate-limit-key.js';
import type { CounterCell } from '../metrics/index.js';
import {
  PolicyRefusal,
  type Filter,
  type Handler,
  type ProxyRequest,
  type ProxyResponse,
} from '../proxy/index.js';

/** Stable code of a request refused by a rate limit. */
export const RATE_LIMITED_CODE = 'RATE_LIMITED';

/** One rule, compiled: everything a request needs is prepared at config time. */
export interface CompiledRateLimitRule {
  /** `namespace/name` of the RateLimitPolicy. */
  readonly policy: string;
  /** The rule's name. */
  readonly name: string;
  readonly matches: RouteMatcher;
  readonly key: RateLimitKeyExtractor;
  /** Local rules answer at once; global ones with a promise that always resolves in bounded time. */
  readonly take: (key: string, now: number) => RateLimitDecision | Promise<RateLimitDecision>;
  readonly headers: RateLimitHeaders;
  /** `palisade_rate_limited_total{policy,rule}`. */
  readonly refused: CounterCell;
}

/** Options of `createRateLimitFilter`. */
export interface RateLimitFilterOptions {
  /** In config order; must not be empty (an empty list needs no filter). */
  readonly rules: readonly CompiledRateLimitRule[];
  readonly clock: Clock;
}

function refuse(rule: CompiledRateLimitRule, decision: RateLimitDecision): never {
  rule.refused.value++;
  const h = rule.headers;
  throw new PolicyRefusal(
    RATE_LIMITED_CODE,
    429,
    [
      'retry-after',
      h.retryAfter(decision),
      'ratelimit-policy',
      h.policy,
      'ratelimit',
      h.rateLimit(decision),
    ],
    `rate limited by ${rule.policy}/${rule.name}`,
  );
}

/** Builds the rate-limit filter of one route. */
export function createRateLimitFilter(options: RateLimitFilterOptions): Filter {
  const { rules, clock } = options;
  const count = rules.length;
  return (next: Handler): Handler => {
    /** Applies rules `from…` to `req`; stays synchronous until a global rule needs Redis. */
    const run = (req: ProxyRequest, from: number, now: number): Promise<ProxyResponse> | null => {
      for (let i = from; i < count; i++) {
        const rule = rules[i] as CompiledRateLimitRule;
        if (!rule.matches(req.method, req.path, req.headers)) continue;
        const decision = rule.take(rule.key(req.remoteAddress, req.headers), now);
        if (decision instanceof Promise) {
          return decision.then((answer) => {
            if (!answer.allowed) refuse(rule, answer);
            return run(req, i + 1, now) ?? next(req);
          });
        }
        if (!decision.allowed) refuse(rule, decision);
      }
      return null;
    };
    return (req) => {
      let pending: Promise<ProxyResponse> | null;
      try {
        pending = run(req, 0, clock.now());
      } catch (error) {
        return Promise.reject(error);
      }
      return pending ?? next(req);
    };
  };
}

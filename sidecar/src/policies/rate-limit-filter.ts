/**
 * The `rateLimit` position of the inbound stack: every rule whose `match` holds takes one token
 * for the request's key, in config order; the first refusal answers `429` with `Retry-After`,
 * `RateLimit-Policy` and `RateLimit` (draft-ietf-httpapi-ratelimit-headers) and counts in
 * `palisade_rate_limited_total{policy,rule}`. An admitted request's answer carries
 * `RateLimit-Policy` and `RateLimit` of every rule it met (one header line per rule). A traced
 * request's span gets `palisade.rate_limit.decision` and `palisade.rate_limit.rule` of the last
 * rule decided (the refusing one, if any). Local rules decide synchronously (token bucket);
 * global rules ask Redis, bounded by their timeout, and fall back to `failureMode`.
 */
import type { Clock } from '../core/clock.js';
import type { RateLimitDecision, RateLimitHeaders, RouteMatcher } from '../filters/index.js';
import type { RateLimitKeyExtractor } from '../filters/rate-limit-key.js';
import type { CounterCell } from '../metrics/index.js';
import { PALISADE_SPAN_ATTRIBUTES } from '../tracing/tracing.js';
import {
  PolicyRefusal,
  withHeaders,
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

/** The span attribute value of a decision (see `PALISADE_SPAN_ATTRIBUTES.rateLimit`). */
function decisionAttribute(decision: RateLimitDecision): string {
  if ((decision as { source?: string }).source === 'failure-mode')
    return decision.allowed ? 'backend-error-open' : 'backend-error-closed';
  return decision.allowed ? 'allowed' : 'limited';
}

/**
 * Applies one rule's decision: records it on the span, refuses (throws) or returns the headers
 * of the answer with this rule's two appended.
 */
function apply(
  req: ProxyRequest,
  rule: CompiledRateLimitRule,
  decision: RateLimitDecision,
  shown: string[] | null,
): string[] {
  const attributes = req.spanAttributes;
  if (attributes !== null) {
    attributes[PALISADE_SPAN_ATTRIBUTES.rateLimit] = decisionAttribute(decision);
    attributes[PALISADE_SPAN_ATTRIBUTES.rateLimitRule] = `${rule.policy}/${rule.name}`;
  }
  if (!decision.allowed) refuse(rule, decision);
  const headers = shown ?? [];
  headers.push(
    'ratelimit-policy',
    rule.headers.policy,
    'ratelimit',
    rule.headers.rateLimit(decision),
  );
  return headers;
}

/** Builds the rate-limit filter of one route. */
export function createRateLimitFilter(options: RateLimitFilterOptions): Filter {
  const { rules, clock } = options;
  const count = rules.length;
  return (next: Handler): Handler => {
    /** Applies rules `from…` to `req`, then calls `next`; synchronous until a rule needs Redis. */
    const run = (
      req: ProxyRequest,
      from: number,
      now: number,
      shown: string[] | null,
    ): Promise<ProxyResponse> => {
      for (let i = from; i < count; i++) {
        const rule = rules[i] as CompiledRateLimitRule;
        if (!rule.matches(req.method, req.path, req.headers)) continue;
        const decision = rule.take(rule.key(req.remoteAddress, req.headers), now);
        if (decision instanceof Promise) {
          return decision.then((answer) => run(req, i + 1, now, apply(req, rule, answer, shown)));
        }
        shown = apply(req, rule, decision, shown);
      }
      if (shown === null) return next(req);
      const headers = shown;
      return next(req).then((response) => withHeaders(response, headers));
    };
    return (req) => {
      try {
        return run(req, 0, clock.now(), null);
      } catch (error) {
        return Promise.reject(error);
      }
    };
  };
}

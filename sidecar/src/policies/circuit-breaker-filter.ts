/**
 * The `breaker` position of both stacks: a thin shell around the pure `CircuitBreaker`. Each
 * call asks for a permit; an open breaker answers at once with `503` and
 * `x-palisade-circuit: open` (plus `Retry-After`). An admitted call's outcome is classified by
 * the breaker's `failureOn` as soon as the response head arrives (or the attempt fails) and
 * reported once.
 */
import {
  ClientAborted,
  PolicyRefusal,
  ProxyError,
  UpstreamDown,
  UpstreamProtocolError,
  UpstreamReset,
  UpstreamTimeout,
  UpstreamUnavailable,
  type Filter,
} from '../proxy/index.js';
import { PALISADE_SPAN_ATTRIBUTES } from '../tracing/tracing.js';
import type { Clock } from '../core/clock.js';
import type { CallOutcome, CircuitBreaker, OutcomeClassifier } from '../filters/index.js';

/** Stable code of a call refused because its breaker is open (or half-open and busy). */
export const CIRCUIT_OPEN_CODE = 'CIRCUIT_OPEN';

/** Header every fast failure of an open breaker carries. */
export const CIRCUIT_HEADER = 'x-palisade-circuit';

/** Options of `createCircuitBreakerFilter`. */
export interface CircuitBreakerFilterOptions {
  /** The breaker; shared by every route it protects and kept across reloads that leave it unchanged. */
  readonly breaker: CircuitBreaker;
  /** Its compiled `failureOn`. */
  readonly classifier: OutcomeClassifier;
  readonly clock: Clock;
}

/** Refusals by `Retry-After` seconds; there are few distinct values, each built once. */
const refusals = new Map<number, PolicyRefusal>();

function refusal(retryAfterMs: number): PolicyRefusal {
  const seconds = Math.max(1, Math.ceil(retryAfterMs / 1000));
  let error = refusals.get(seconds);
  if (error === undefined) {
    error = new PolicyRefusal(
      CIRCUIT_OPEN_CODE,
      503,
      [CIRCUIT_HEADER, 'open', 'retry-after', String(seconds)],
      'circuit breaker open',
    );
    if (refusals.size < 4096) refusals.set(seconds, error);
  }
  return error;
}

/** How a failed attempt counts for the breaker. */
export function classifyError(error: unknown, classifier: OutcomeClassifier): CallOutcome {
  if (error instanceof UpstreamTimeout) return classifier.timeout;
  if (
    error instanceof UpstreamUnavailable ||
    error instanceof UpstreamReset ||
    error instanceof UpstreamDown ||
    error instanceof UpstreamProtocolError
  ) {
    return classifier.connectionError;
  }
  // The client went away, or a filter inside refused: says nothing about the upstream's health.
  if (error instanceof ClientAborted || error instanceof PolicyRefusal) return 'ignored';
  return error instanceof ProxyError ? 'ignored' : 'failure';
}

/** Builds the breaker filter of one route. */
export function createCircuitBreakerFilter(options: CircuitBreakerFilterOptions): Filter {
  const { breaker, classifier, clock } = options;
  return (next) => (req) => {
    const now = clock.now();
    const permit = breaker.tryAcquire(now);
    const attributes = req.spanAttributes;
    if (attributes !== null)
      attributes[PALISADE_SPAN_ATTRIBUTES.circuitBreaker] = breaker.currentState(now);
    if (permit.open) return Promise.reject(refusal(permit.retryAfterMs));
    return next(req).then(
      (response) => {
        breaker.onResult(permit, classifier.status(response.statusCode), clock.now());
        return response;
      },
      (error: unknown) => {
        breaker.onResult(permit, classifyError(error, classifier), clock.now());
        throw error;
      },
    );
  };
}

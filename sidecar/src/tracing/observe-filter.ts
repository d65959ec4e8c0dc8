/**
 * The outermost filter of every route (the `trace` position of `proxy/pipeline.ts`): request
 * metrics and the route's span, built once per route when routes are compiled.
 *
 * Cost by configuration, per request:
 * - tracing off, no metrics: no filter at all (`undefined`, the pipeline skips the position);
 * - tracing off, metrics on: one `onFinish` registration of a listener built per route, then
 *   two additions and a bucket search when the exchange ends;
 * - tracing on, request not sampled (most of them): the sampling decision (one header lookup
 *   and a random draw; a new trace gets an unsampled `traceparent`), then as tracing off;
 * - tracing on, request sampled: a recording span, its `traceparent` written into the upstream
 *   request headers, `req.spanAttributes` for the policy filters' decisions, and one closure to
 *   end the span with them and the final status.
 */
import type { Attributes } from '@opentelemetry/api';
import type { RouteMetrics } from '../metrics/metrics.js';
import type { Direction, ExchangeOutcome, Filter } from '../proxy/handler.js';
import { PALISADE_SPAN_ATTRIBUTES, type Tracing } from './tracing.js';

/** Options of `createObserveFilter`. */
export interface ObserveFilterOptions {
  readonly direction: Direction;
  /** Route name (span attribute; the metrics were bound with it). */
  readonly route: string;
  readonly tracing: Tracing;
  /** `metrics.forRoute(direction, route)`; absent: no request metrics. */
  readonly metrics?: RouteMetrics;
}

/**
 * Builds the observe filter of one route, or `undefined` when there is nothing to observe.
 * Inbound requests get a server span (child of the caller's `traceparent`), outbound ones a
 * client span (child of the app's); either way the app or destination receives our span as
 * its parent. The span ends with the status sent and, on failure, the error's `code` as
 * `error.type` (e.g. `UPSTREAM_TIMEOUT`, or a refusal's code such as a 429's).
 */
export function createObserveFilter(options: ObserveFilterOptions): Filter | undefined {
  const { tracing, metrics, direction, route } = options;
  if (!tracing.enabled && metrics === undefined) return undefined;
  const record =
    metrics === undefined
      ? undefined
      : (outcome: ExchangeOutcome): void =>
          metrics.record(outcome.statusCode, outcome.durationMs / 1000);

  if (!tracing.enabled) {
    const listener = record as (outcome: ExchangeOutcome) => void;
    return (next) => (req) => {
      req.onFinish(listener);
      return next(req);
    };
  }

  const inbound = direction === 'inbound';
  const untraced = record ?? noop;
  return (next) => (req) => {
    if (!tracing.sample(req.headers)) {
      req.onFinish(untraced);
      return next(req);
    }
    const query = req.path.indexOf('?');
    const attributes: Attributes = {
      'http.request.method': req.method,
      // The query may carry secrets; the path alone identifies the call.
      'url.path': query < 0 ? req.path : req.path.slice(0, query),
      'server.address': req.authority,
      [PALISADE_SPAN_ATTRIBUTES.route]: route,
      [PALISADE_SPAN_ATTRIBUTES.direction]: direction,
    };
    const name = `${req.method} ${route}`;
    const span = inbound
      ? tracing.startServerSpan(req.headers, attributes, name)
      : tracing.startClientSpan(req.headers, attributes, name);
    tracing.inject(span, req.headers);
    const decisions: Record<string, string | number | boolean> = {};
    req.spanAttributes = decisions;
    req.onFinish((outcome) => {
      record?.(outcome);
      span.setAttributes(decisions);
      tracing.finishSpan(span, outcome.statusCode, outcome.error?.code);
    });
    return next(req);
  };
}

function noop(): void {}

/**
 * OpenTelemetry tracing for the data path, built from the SDK's parts rather than
 * `@opentelemetry/sdk-node`: a `BasicTracerProvider` with a parent-based ratio sampler, a
 * `BatchSpanProcessor` and the OTLP/HTTP exporter, W3C tracecontext + baggage propagation.
 * Nothing is registered globally (no global tracer provider, propagator or context manager):
 * spans and their parents are passed explicitly, so there is no AsyncLocalStorage cost on every
 * await of every request, and a reload can swap tracing by swapping this object.
 * (sdk-node would add resource detectors, auto-instrumentation, metrics and logs SDKs and global
 * registration, none of which a proxy that creates its own spans needs.)
 *
 * Off (no endpoint, or `sampleRatio` 0) means free: every method returns at once, spans are one
 * shared non-recording object, and headers are left as they came, so an incoming `traceparent`
 * still reaches the next hop untouched. Callers check `enabled` before building attributes.
 *
 * On, parent-based sampling honours the caller's decision: a sampled `traceparent` is recorded
 * whatever the ratio, an unsampled one is not; only new traces are sampled at `sampleRatio`.
 */
import { randomFillSync } from 'node:crypto';
import { createRequire } from 'node:module';
import {
  INVALID_SPAN_CONTEXT,
  ROOT_CONTEXT,
  SpanKind,
  SpanStatusCode,
  trace,
  type Attributes,
  type Context,
  type Span,
} from '@opentelemetry/api';
import type * as OtelCore from '@opentelemetry/core';
import type * as OtelExporter from '@opentelemetry/exporter-trace-otlp-http';
import type * as OtelResources from '@opentelemetry/resources';
import type * as OtelSdk from '@opentelemetry/sdk-trace-base';
import { headerGetter, headerSetter, type HeaderCarrier } from './header-carrier.js';

/**
 * The SDK is loaded on first use (CommonJS, synchronously: a reload may turn tracing on), so a
 * sidecar without tracing never pays its memory (several MB of modules). `@opentelemetry/api`
 * resolves to the same CommonJS build either way, so there is one API instance.
 */
const loadCommonJs = createRequire(import.meta.url);
type CoreModule = typeof OtelCore;
type ExporterModule = typeof OtelExporter;
type ResourcesModule = typeof OtelResources;
type SdkModule = typeof OtelSdk;

/** Semantic-convention attribute names used here (stable; the package is large). */
const ATTR_ERROR_TYPE = 'error.type';
const ATTR_HTTP_RESPONSE_STATUS_CODE = 'http.response.status_code';
const ATTR_SERVICE_NAME = 'service.name';

export type { Span } from '@opentelemetry/api';

/** Span attribute names for policy decisions (set only when `enabled`). */
export const PALISADE_SPAN_ATTRIBUTES = Object.freeze({
  route: 'palisade.route',
  direction: 'palisade.direction',
  /** `allowed` | `limited` | `backend-error-open` | `backend-error-closed`. */
  rateLimit: 'palisade.rate_limit.decision',
  /** `policy/rule` that took the last decision (the refusing one, if any). */
  rateLimitRule: 'palisade.rate_limit.rule',
  /** `closed` | `open` | `half-open`, at decision time. */
  circuitBreaker: 'palisade.circuit_breaker.state',
  /** `latency` | `abort`, when a fault was injected. */
  fault: 'palisade.fault.type',
  faultExperiment: 'palisade.fault.experiment',
  /** Retries made for the call (not counting the first attempt), when there was one. */
  retryAttempts: 'palisade.retry.attempts',
});

/** Options of `createTracing`. */
export interface TracingOptions {
  /** `service.name` of exported spans, e.g. `palisade-sidecar` or the app's name. */
  readonly serviceName: string;
  /** Collector base URL (`http://otel-collector:4318`) or full `/v1/traces` URL. Absent: off. */
  readonly otlpEndpoint?: string;
  /** Share of new traces sampled, 0..1. 0: off. */
  readonly sampleRatio: number;
  /** Extra resource attributes (e.g. `k8s.pod.name`). */
  readonly resourceAttributes?: Attributes;
  /** Longest wait before a batch is exported. Default 1000 ms. */
  readonly exportDelayMs?: number;
  /** Spans buffered before new ones are dropped (bounded memory). Default 2048. */
  readonly maxQueueSize?: number;
  /** Source of the sampling draw for new traces, in [0, 1). Default `Math.random`. */
  readonly random?: () => number;
}

/** Tracing helpers for the proxy; see the module comment. */
export interface Tracing {
  /** False when off: every method below is then a no-op. */
  readonly enabled: boolean;
  /**
   * The sampling decision, taken before any span exists (the cheap path for the requests that
   * are not recorded). A `traceparent` in `headers` decides (parent-based); without a valid one
   * a new trace is sampled at `sampleRatio`. False: do not start a span; `headers` then carry an
   * unsampled `traceparent` (the caller's, untouched, or a new one) so that the next hop does not
   * sample either. True: start the span with `startServerSpan`/`startClientSpan`, which records.
   */
  sample(headers: string[]): boolean;
  /** Starts the inbound span, child of the `traceparent` in `headers` if any. */
  startServerSpan(headers: HeaderCarrier, attributes?: Attributes, name?: string): Span;
  /**
   * Starts an outbound span: child of `parent` (a span of ours), or of the `traceparent` in
   * `parent` headers (the app's own request), or a new trace.
   */
  startClientSpan(
    parent: Span | HeaderCarrier | undefined,
    attributes?: Attributes,
    name?: string,
  ): Span;
  /** Writes `traceparent`/`tracestate` of `span` into `headers` (replacing the caller's). */
  inject(span: Span, headers: HeaderCarrier): void;
  /** Sets the response status (and error type), marks 5xx and no-response as errors, ends the span. */
  finishSpan(span: Span, statusCode: number, errorType?: string): void;
  /** Exports what is buffered. */
  forceFlush(): Promise<void>;
  /** Exports what is buffered and stops; later spans are dropped. */
  shutdown(): Promise<void>;
}

/** The span every method returns when tracing is off: shared, non-recording, never exported. */
export const NOOP_SPAN: Span = trace.wrapSpanContext(INVALID_SPAN_CONTEXT);

const disabledTracing: Tracing = Object.freeze({
  enabled: false,
  sample: () => false,
  startServerSpan: () => NOOP_SPAN,
  startClientSpan: () => NOOP_SPAN,
  inject: () => undefined,
  finishSpan: () => undefined,
  forceFlush: () => Promise.resolve(),
  shutdown: () => Promise.resolve(),
});

/** `http://collector:4318` → `http://collector:4318/v1/traces`; a full URL is kept. */
export function tracesUrl(endpoint: string): string {
  const trimmed = endpoint.replace(/\/+$/, '');
  return trimmed.endsWith('/v1/traces') ? trimmed : `${trimmed}/v1/traces`;
}

/** Creates tracing per `options`; off (the shared no-op) without endpoint or with ratio 0. */
export function createTracing(options: TracingOptions): Tracing {
  if (options.otlpEndpoint === undefined || !(options.sampleRatio > 0)) return disabledTracing;
  const core = loadCommonJs('@opentelemetry/core') as CoreModule;
  const sdk = loadCommonJs('@opentelemetry/sdk-trace-base') as SdkModule;
  const { OTLPTraceExporter } = loadCommonJs(
    '@opentelemetry/exporter-trace-otlp-http',
  ) as ExporterModule;
  const { resourceFromAttributes } = loadCommonJs('@opentelemetry/resources') as ResourcesModule;
  const exporter = new OTLPTraceExporter({ url: tracesUrl(options.otlpEndpoint) });
  const ratio = Math.min(1, options.sampleRatio);
  const random = options.random ?? Math.random;
  const provider = new sdk.BasicTracerProvider({
    resource: resourceFromAttributes({
      ...options.resourceAttributes,
      [ATTR_SERVICE_NAME]: options.serviceName,
    }),
    // New traces reach the SDK only once `sample` drew them (at `ratio`), so its root sampler
    // records them all; parents keep their own decision.
    sampler: new sdk.ParentBasedSampler({ root: new sdk.AlwaysOnSampler() }),
    spanProcessors: [
      new sdk.BatchSpanProcessor(exporter, {
        scheduledDelayMillis: options.exportDelayMs ?? 1000,
        maxQueueSize: options.maxQueueSize ?? 2048,
        maxExportBatchSize: 512,
      }),
    ],
  });
  const tracer = provider.getTracer('palisade-sidecar');
  const propagator = new core.CompositePropagator({
    propagators: [new core.W3CTraceContextPropagator(), new core.W3CBaggagePropagator()],
  });

  const contextOf = (parent: Span | HeaderCarrier | undefined): Context => {
    if (parent === undefined) return ROOT_CONTEXT;
    if (isSpan(parent)) return trace.setSpan(ROOT_CONTEXT, parent);
    return propagator.extract(ROOT_CONTEXT, parent, headerGetter);
  };

  return {
    enabled: true,
    sample(headers) {
      const parent = headerGetter.get(headers, 'traceparent');
      const flags = typeof parent === 'string' ? traceparentFlags(parent) : -1;
      if (flags >= 0) return (flags & 1) === 1;
      if (random() < ratio) return true;
      headerSetter.set(headers, 'traceparent', unsampledTraceparent());
      return false;
    },
    startServerSpan(headers, attributes, name = 'palisade inbound') {
      return tracer.startSpan(name, { kind: SpanKind.SERVER, attributes }, contextOf(headers));
    },
    startClientSpan(parent, attributes, name = 'palisade outbound') {
      return tracer.startSpan(name, { kind: SpanKind.CLIENT, attributes }, contextOf(parent));
    },
    inject(span, headers) {
      if (span === NOOP_SPAN) return;
      propagator.inject(trace.setSpan(ROOT_CONTEXT, span), headers, headerSetter);
    },
    finishSpan(span, statusCode, errorType) {
      if (span === NOOP_SPAN) return;
      if (span.isRecording()) {
        if (statusCode > 0) span.setAttribute(ATTR_HTTP_RESPONSE_STATUS_CODE, statusCode);
        if (errorType !== undefined) span.setAttribute(ATTR_ERROR_TYPE, errorType);
        // A refusal by policy (429, 503 of an open breaker) keeps its `error.type`; the span is
        // an error when the exchange failed: 5xx, or no response at all.
        if (statusCode >= 500 || statusCode === 0) {
          span.setStatus({ code: SpanStatusCode.ERROR, message: errorType });
        }
      }
      span.end();
    },
    forceFlush: () => provider.forceFlush(),
    shutdown: () => provider.shutdown(),
  };
}

const traceparentPattern = /^00-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})$/;
const allZeroTraceId = '0'.repeat(32);
const allZeroSpanId = '0'.repeat(16);

/**
 * The trace flags of a valid W3C `traceparent` (version 00, non-zero ids), or -1 when it is not
 * one (the propagator would then ignore it and start a new trace).
 */
export function traceparentFlags(value: string): number {
  const match = traceparentPattern.exec(value.trim());
  if (match === null || match[1] === allZeroTraceId || match[2] === allZeroSpanId) return -1;
  return parseInt(match[3] as string, 16);
}

/** Random bytes drawn in blocks: a new unsampled trace needs 24 of them. */
const idPool = Buffer.allocUnsafe(24 * 256);
let idOffset = idPool.length;

/** A `traceparent` for a new trace that is not sampled (random, non-zero ids; flags 00). */
function unsampledTraceparent(): string {
  if (idOffset + 24 > idPool.length) {
    randomFillSync(idPool);
    idOffset = 0;
  }
  const at = idOffset;
  idOffset += 24;
  idPool[at + 15] = (idPool[at + 15] as number) | 1; // never the all-zero (invalid) trace id
  idPool[at + 23] = (idPool[at + 23] as number) | 1; // nor span id
  return `00-${idPool.toString('hex', at, at + 16)}-${idPool.toString('hex', at + 16, at + 24)}-00`;
}

function isSpan(value: Span | HeaderCarrier): value is Span {
  return typeof (value as Partial<Span>).spanContext === 'function';
}

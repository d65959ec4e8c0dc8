import type { Attributes } from '@opentelemetry/api';
import type { ConfigApplier } from '../config/config-store.js';
import type { ResolvedTracing } from '../config/defaults.js';
import { createTracing, type Tracing } from './tracing.js';

/** Options of `tracingApplier`. */
export interface TracingApplierOptions {
  readonly serviceName: string;
  readonly resourceAttributes?: Attributes;
  /** The tracing in force (the one to shut down after a swap). */
  readonly current: () => Tracing;
  /** Puts the new tracing in force (e.g. stores it where the proxy's trace filter reads it). */
  readonly swap: (next: Tracing) => void;
  /** Told when the old tracing's final flush fails (collector down at that moment). */
  readonly onShutdownError?: (error: unknown) => void;
  /**
   * How long the old tracing lives on after a swap, so that spans of requests in flight still
   * end and export; longer than the longest request timeout. Default 30 000 ms.
   */
  readonly shutdownDelayMs?: number;
}

/** `createTracing` options from the `tracing` section of the config. */
export function tracingOptionsFromConfig(
  tracing: ResolvedTracing,
  serviceName: string,
  resourceAttributes?: Attributes,
): Parameters<typeof createTracing>[0] {
  return {
    serviceName,
    otlpEndpoint: tracing.otlpEndpoint,
    sampleRatio: tracing.sampleRatio,
    resourceAttributes,
  };
}

/**
 * Reload hook: when the `tracing` section changed, builds the new tracing in `prepare`, swaps
 * it in on commit, and shuts the old one down (flushing it) `shutdownDelayMs` later, so spans
 * of requests in flight at the swap still end and export.
 */
export function tracingApplier(options: TracingApplierOptions): ConfigApplier {
  return {
    name: 'tracing',
    prepare(next, change) {
      if (!change.sections.includes('tracing')) return;
      const fresh = createTracing(
        tracingOptionsFromConfig(next.tracing, options.serviceName, options.resourceAttributes),
      );
      return () => {
        const old = options.current();
        options.swap(fresh);
        const timer = setTimeout(() => {
          old.shutdown().catch((error: unknown) => options.onShutdownError?.(error));
        }, options.shutdownDelayMs ?? 30_000);
        timer.unref();
      };
    },
  };
}

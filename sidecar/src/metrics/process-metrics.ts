/**
 * prom-client's default process and Node.js metrics (`palisade_process_*`, `palisade_nodejs_*`)
 * except two collectors:
 * - the event-loop lag: ours (`event-loop-lag.ts`) keeps its metric names but samples every
 *   100 ms instead of every 10 ms, so that an idle sidecar stays idle;
 * - the garbage-collection histogram `nodejs_gc_duration_seconds`: it registers a `gc`
 *   PerformanceObserver, and Node then builds a performance entry and runs a JavaScript
 *   callback for every collection. The sidecar runs with a 1 MiB young generation
 *   (`--max-semi-space-size=1`, for its resident memory), so at saturation it scavenges hundreds
 *   of times per second: the observer alone was ~2% of the proxy's CPU (decision 0019). GC
 *   pauses still show in the event-loop lag.
 */
import type { Metric } from 'prom-client';
import { eventLoopLagGauges } from './event-loop-lag.js';
import { defaultCollector, defaultCollectorNames, type Registry } from './prom-client-modules.js';

/** prom-client's names of the collectors left out (see the module comment). */
const LEFT_OUT = new Set(['gc', 'eventLoopLag']);

/**
 * Registers every default collector but those two in `registry`, with `prefix`, and our
 * event-loop lag gauges. The list is prom-client's own, so a prom-client upgrade that adds a
 * collector adds it here too.
 */
export function collectProcessMetrics(registry: Registry, prefix: string): void {
  for (const name of defaultCollectorNames()) {
    if (LEFT_OUT.has(name)) continue;
    defaultCollector(name)(registry, { prefix });
  }
  for (const gauge of eventLoopLagGauges(prefix)) {
    // They implement the part of prom-client's Metric interface the registry reads.
    registry.registerMetric(gauge as unknown as Metric);
  }
}

/**
 * prom-client's default process and Node.js metrics (`palisade_process_*`, `palisade_nodejs_*`)
 * except the garbage-collection histogram `nodejs_gc_duration_seconds`.
 *
 * Why not that one: it registers a `gc` PerformanceObserver, and Node then builds a performance
 * entry and runs a JavaScript callback for every collection. The sidecar runs with a 1 MiB young
 * generation (`--max-semi-space-size=1`, for its resident memory), so at saturation it scavenges
 * hundreds of times per second: the observer alone was ~2% of the proxy's CPU (decision 0019).
 * GC pauses still show in `palisade_nodejs_eventloop_lag_seconds`.
 */
import { defaultCollector, defaultCollectorNames, type Registry } from './prom-client-modules.js';

/** prom-client's name of the collector left out (see the module comment). */
const GC_COLLECTOR = 'gc';

/** prom-client's default precision (ms) of the event-loop delay histogram. */
const EVENT_LOOP_MONITORING_PRECISION_MS = 10;

/**
 * Registers every default collector but the GC one in `registry`, with `prefix`. The list is
 * prom-client's own, so a prom-client upgrade that adds a collector adds it here too.
 */
export function collectProcessMetrics(registry: Registry, prefix: string): void {
  for (const name of defaultCollectorNames()) {
    if (name === GC_COLLECTOR) continue;
    defaultCollector(name)(registry, {
      prefix,
      eventLoopMonitoringPrecision: EVENT_LOOP_MONITORING_PRECISION_MS,
    });
  }
}

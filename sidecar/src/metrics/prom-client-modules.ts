/**
 * The parts of prom-client the sidecar uses, loaded from their own files rather than through
 * the package's index. The index also loads what the sidecar never runs (Summary and its
 * t-digest, Pushgateway and its HTTP client, the cluster aggregator): ~2.6 MB of resident
 * memory for nothing (decision 0019). The instruments are ours (`instruments.ts`); prom-client
 * provides the registry (exposition format) and the default process collectors.
 */
import { createRequire } from 'node:module';
import type * as PromClient from 'prom-client';

const loadCommonJs = createRequire(import.meta.url);

/** prom-client's `Registry` class (the module's export is the class itself). */
export const Registry = loadCommonJs('prom-client/lib/registry') as typeof PromClient.Registry;

/** A prom-client registry. */
export type Registry = PromClient.Registry;

/** A default collector of prom-client: registers its metrics in `registry`. */
export type DefaultCollector = (registry: Registry, config: { prefix: string }) => void;

/**
 * Names of prom-client's default collectors, as `collectDefaultMetrics` runs them (it already
 * leaves out those this Node.js cannot run).
 */
export function defaultCollectorNames(): readonly string[] {
  return (loadCommonJs('prom-client/lib/defaultMetrics') as typeof PromClient.collectDefaultMetrics)
    .metricsList;
}

/** The default collector `name` (one of `defaultCollectorNames()`). */
export function defaultCollector(name: string): DefaultCollector {
  return loadCommonJs(`prom-client/lib/metrics/${name}`) as DefaultCollector;
}

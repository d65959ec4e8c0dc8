/** Prometheus metrics of the sidecar: one registry, hot-path cells. */
export * from './instruments.js';
export * from './metrics.js';
